"""Pretrained-weights files on this machine: which exist, and whether a given file fits VGG16.

Everything here reads HDF5 structure with h5py (no TensorFlow), so the app can check an upload
and tell a newcomer, before any run starts, whether pretrained weights are available.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.model import vgg16
from core.model.backbone import keras_cache_location
from core.model.weights import FILE, IMAGENET, WeightsSpec
from core.platform import settings
from core.platform.fileio import hash_file, write_atomically

WEIGHTS_SUFFIXES = (".h5", ".hdf5")


@dataclass(frozen=True)
class WeightsFileCheck:
    """What a weights file is. `usable`: VGG16 (no top) can load it."""

    usable: bool
    official: bool  # the md5 of Keras' own ImageNet notop file
    message: str  # one plain sentence for the person who chose the file
    md5: str = ""


@dataclass(frozen=True)
class WeightsOnMachine:
    """Pretrained weights found without any network call (cheap: a few stat calls)."""

    imagenet_cached: bool  # Keras' own download is in its cache: "imagenet" works offline
    env_file: Path | None  # $VGG16_WEIGHTS, when it names an existing file
    studio_files: tuple[Path, ...]  # files uploaded into the studio home

    @property
    def any_pretrained(self) -> bool:
        return self.imagenet_cached or self.env_file is not None or bool(self.studio_files)

    def best_choice(self) -> str:
        """The weights setting a first run should use: one that works here, offline."""
        if self.env_file is not None:
            return str(self.env_file)
        if self.imagenet_cached:
            return "imagenet"
        if self.studio_files:
            return str(self.studio_files[0])
        return "none"


def weights_dir(home: Path) -> Path:
    return home / "weights"


def on_this_machine(home: Path) -> WeightsOnMachine:
    env = os.environ.get(settings.WEIGHTS_ENV, "").strip()
    env_file = Path(env).expanduser() if env else None
    folder = weights_dir(home)
    found = sorted(p for p in folder.glob("*") if p.suffix.lower() in WEIGHTS_SUFFIXES)
    return WeightsOnMachine(
        imagenet_cached=keras_cache_location().is_file(),
        env_file=env_file if env_file is not None and env_file.is_file() else None,
        studio_files=tuple(found),
    )


def default_setting(home: Path) -> str:
    """The weights setting a session starts with: $VGG16_WEIGHTS when it is set (a deliberate
    choice, kept even when its file is missing, so the pages say so), else what works here
    offline (best_choice). No network call."""
    if os.environ.get(settings.WEIGHTS_ENV, "").strip():
        return WeightsSpec.parse(None).setting
    return on_this_machine(home).best_choice()


def _array_shapes(path: Path) -> list[tuple[int, ...]]:
    import h5py

    shapes: list[tuple[int, ...]] = []

    def collect(_name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset) and obj.ndim:
            shapes.append(tuple(int(n) for n in obj.shape))

    with h5py.File(path, "r") as handle:
        handle.visititems(collect)
    return shapes


def check(path: str | Path) -> WeightsFileCheck:
    """Whether `path` holds VGG16's convolutional weights, said in one sentence."""
    path = Path(path)
    try:
        shapes = Counter(_array_shapes(path))
    except OSError:
        return WeightsFileCheck(
            False, False, "This is not a Keras weights file (HDF5, .h5): choose the VGG16 file."
        )
    md5 = hash_file(path, "md5")
    expected = Counter(vgg16.conv_weight_shapes())
    missing, extra = expected - shapes, shapes - expected
    if not missing and md5 == vgg16.IMAGENET_NOTOP_MD5:
        return WeightsFileCheck(
            True, True, "The official ImageNet VGG16 weights (without the top): recognised.", md5
        )
    if not missing and not extra:
        return WeightsFileCheck(
            True,
            False,
            "These weights fit VGG16, but they are not the official ImageNet file: the features "
            "depend on what they were trained for.",
            md5,
        )
    if not missing:
        return WeightsFileCheck(
            False,
            False,
            "This file also holds VGG16's classifier top (the fully connected layers): choose "
            f"the file without the top ({vgg16.IMAGENET_NOTOP_FILE}).",
            md5,
        )
    return WeightsFileCheck(
        False,
        False,
        f"These weights do not fit VGG16's convolutional layers ({sum(missing.values())} of its "
        f"{sum(expected.values())} arrays are missing or have another shape).",
        md5,
    )


def install_upload(home: Path, file_name: str, data: bytes) -> tuple[WeightsFileCheck, Path | None]:
    """Check uploaded bytes and keep them only if VGG16 can load them.

    The official file goes where Keras itself caches its download, so that the plain
    "ImageNet" choice works offline from now on (also for the command line); any other usable
    file goes into the studio home's weights folder under a safe name.
    """
    folder = weights_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / ".upload.h5"
    write_atomically(staged, lambda tmp: tmp.write_bytes(data), suffix=".h5")
    try:
        verdict = check(staged)
        if not verdict.usable:
            return verdict, None
        target = keras_cache_location() if verdict.official else folder / _safe_name(file_name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staged, target)
        return verdict, target
    finally:
        staged.unlink(missing_ok=True)


def _safe_name(file_name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(file_name).stem)
    return (stem.strip("._") or "vgg16-weights")[:80] + ".h5"


# -- before a run starts -----------------------------------------------------------------------
NO_INTERNET_FOR_IMAGENET = (
    "The ImageNet weights are not on this machine, and they cannot be downloaded without "
    "internet: upload the weights file, or continue without pretrained weights."
)


def checked(path: str | Path) -> WeightsFileCheck:
    """`check(path)`, remembered while the file's size and modification time stay the same (a
    page asks on every rerun; hashing 58 MB each time would slow it down)."""
    stat = Path(path).stat()
    return _checked(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=16)
def _checked(path: str, size: int, mtime_ns: int) -> WeightsFileCheck:
    return check(path)


def download_reachable(timeout: float = 3.0) -> bool:
    """Whether the server Keras downloads the ImageNet weights from answers (one connection,
    no download). Pages should remember the answer for a while: this is a network call."""
    import socket
    from urllib.parse import urlparse

    host = urlparse(vgg16.IMAGENET_NOTOP_URL).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def start_problems(
    spec: WeightsSpec, machine: WeightsOnMachine, reachable: Callable[[], bool]
) -> list[str]:
    """What would make a run with these weights fail, known before it starts: a file that does
    not fit VGG16, or ImageNet weights that are not cached and cannot be downloaded.
    `reachable` is only asked in that last case (it may be a network call)."""
    if spec.kind == FILE and spec.path is not None and spec.path.is_file():
        verdict = checked(spec.path)
        return [] if verdict.usable else [verdict.message]
    if spec.kind == IMAGENET and not machine.imagenet_cached and not reachable():
        return [NO_INTERNET_FOR_IMAGENET]
    return []
