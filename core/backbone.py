"""The VGG16 convolutional base, with weights from ImageNet, a local file, or none at all."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core import settings, vgg16

NO_WEIGHTS_LABEL = "no pretrained weights"


class WeightsError(RuntimeError):
    """The weights cannot be had or do not fit VGG16; the message says what to do."""


@dataclass(frozen=True)
class WeightsSource:
    kind: str  # "imagenet" | "file" | "none"
    path: Path | None = None

    @property
    def pretrained(self) -> bool:
        return self.kind != "none"

    @property
    def label(self) -> str:
        if self.kind == "imagenet":
            return "ImageNet"
        if self.kind == "file":
            return f"local file {self.path.name}"
        return NO_WEIGHTS_LABEL

    def keras_argument(self) -> str | None:
        return {"imagenet": "imagenet", "file": str(self.path), "none": None}[self.kind]

    def cache_id(self, seed: int) -> str:
        """Identifies the weights for the feature cache (random weights depend on the seed)."""
        if self.kind == "file":
            return "file-" + _file_digest(str(self.path), *_stat_key(self.path))
        if self.kind == "none":
            return f"random-seed{seed}"
        return "imagenet"


def _stat_key(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


@lru_cache(maxsize=8)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def resolve_weights(spec: str | None = None) -> WeightsSource:
    """'imagenet', 'none' or a file path; None means $VGG16_WEIGHTS, else ImageNet."""
    spec = (spec or os.environ.get(settings.WEIGHTS_ENV) or "imagenet").strip()
    if spec.lower() == "imagenet":
        return WeightsSource("imagenet")
    if spec.lower() in ("none", "random"):
        return WeightsSource("none")
    path = Path(spec).expanduser()
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    return WeightsSource("file", path.resolve())


def keras_cache_location() -> Path:
    """Where Keras looks for (and caches) downloaded weights."""
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return keras_home / "models" / vgg16.IMAGENET_NOTOP_FILE


def build_vgg16(image_size: int, weights: WeightsSource, seed: int = 0):
    """keras.applications.VGG16(include_top=False) at image_size, or WeightsError."""
    import keras

    vgg16.check_image_size(image_size)
    keras.utils.set_random_seed(seed)  # random weights are reproducible per seed
    try:
        return keras.applications.VGG16(
            include_top=False,
            weights=weights.keras_argument(),
            input_shape=(image_size, image_size, 3),
        )
    except Exception as exc:  # noqa: BLE001 - rewrapped with what the user should do
        raise _explain(weights, exc) from exc


def _explain(weights: WeightsSource, exc: Exception) -> WeightsError:
    if weights.kind == "imagenet":
        return WeightsError(
            f"could not get the ImageNet weights ({type(exc).__name__}: {exc}). Keras downloads "
            f"{vgg16.IMAGENET_NOTOP_FILE} from {vgg16.IMAGENET_NOTOP_URL} and caches it at "
            f"{keras_cache_location()}. Without internet, copy that file there, or point at a "
            f"local copy with --weights PATH (or {settings.WEIGHTS_ENV}=PATH)."
        )
    return WeightsError(
        f"the weights file {weights.path} does not fit VGG16 without its top "
        f"(include_top=False): {type(exc).__name__}: {exc}"
    )
