"""The weights setting, parsed once: ImageNet, a local file, or none (random weights).

A run's settings keep the weights as text ("imagenet", "none" or an absolute path) so that
stored configs stay JSON; every reader parses that text here, with `WeightsSpec.parse`, and
works with the typed value. No TensorFlow here: the app imports it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.platform import settings
from core.platform.refusal import Refusal

IMAGENET, FILE, NONE = "imagenet", "file", "none"
NO_WEIGHTS_LABEL = "no pretrained weights"
_NONE_WORDS = ("none", "random")


class WeightsError(Refusal, RuntimeError):
    """The weights cannot be had or do not fit VGG16; the message says what to do."""


@dataclass(frozen=True)
class WeightsSpec:
    kind: str  # IMAGENET | FILE | NONE
    path: Path | None = None  # FILE only: absolute

    @classmethod
    def parse(cls, text: str | None) -> WeightsSpec:
        """'imagenet', 'none' (or 'random') or a file path, any case and spacing; empty text
        means $VGG16_WEIGHTS, else ImageNet. A path is made absolute but not checked here:
        `problem()` and `checked()` say whether the file is there."""
        text = (text or os.environ.get(settings.WEIGHTS_ENV) or IMAGENET).strip()
        if text.lower() == IMAGENET:
            return cls(IMAGENET)
        if text.lower() in _NONE_WORDS:
            return cls(NONE)
        return cls(FILE, Path(text).expanduser().resolve())

    @property
    def setting(self) -> str:
        """The text a RunConfig stores: 'imagenet', 'none' or the absolute file path."""
        return str(self.path) if self.kind == FILE else self.kind

    @property
    def _file(self) -> Path:
        """The path of a FILE spec (parse always gives one)."""
        assert self.path is not None, f"a {self.kind!r} spec has no file"
        return self.path

    @property
    def pretrained(self) -> bool:
        return self.kind != NONE

    @property
    def label(self) -> str:
        if self.kind == IMAGENET:
            return "ImageNet"
        if self.kind == FILE:
            return f"local file {self._file.name}"
        return NO_WEIGHTS_LABEL

    def problem(self) -> str | None:
        """A sentence when a weights file is missing, else None."""
        if self.kind == FILE and not self._file.is_file():
            return f"weights file not found: {self.path}"
        return None

    def checked(self) -> WeightsSpec:
        """This spec, or WeightsError when its file is missing."""
        if problem := self.problem():
            raise WeightsError(problem)
        return self

    def keras_argument(self) -> str | None:
        return {IMAGENET: "imagenet", FILE: str(self.path), NONE: None}[self.kind]

    def digest(self) -> str:
        """A file's content hash (sha256, 16 hex digits), cached while size and mtime hold."""
        stat = self._file.stat()
        return _file_digest(str(self.path), stat.st_size, stat.st_mtime_ns)

    def cache_id(self, seed: int) -> str:
        """Identifies the weights for the feature cache (random weights depend on the seed)."""
        if self.kind == FILE:
            return "file-" + self.digest()
        if self.kind == NONE:
            return f"random-seed{seed}"
        return IMAGENET


NO_WEIGHTS = WeightsSpec(NONE)


@lru_cache(maxsize=8)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]
