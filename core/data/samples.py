"""Sample datasets: one built in and offline, others downloaded once when online.

Each sample is written out as an ordinary class-folder dataset under the studio home, with a
hidden `.studio-sample.json` naming it (so charts can show published reference lines).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.platform import settings

MARKER = ".studio-sample.json"
CATS_VS_DOGS_URL = "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip"


from core.data.keras_datasets import SampleUnavailable  # noqa: E402 - one error type for all samples


@dataclass(frozen=True)
class Sample:
    id: str
    title: str
    description: str
    offline: bool
    image_size: int  # a sensible default image size for this sample
    write: Callable[[Path, int | None], Path]  # (target root, images per class cap)
    capped: bool = False  # takes an images-per-class cap (None: every image)


def _mark(folder: Path, sample_id: str, **extra: object) -> None:
    (folder / MARKER).write_text(json.dumps({"id": sample_id, **extra}))


def sample_id(folder: str | Path) -> str | None:
    """The sample a dataset folder came from, if any."""
    for candidate in (Path(folder), Path(folder).parent):
        marker = candidate / MARKER
        if marker.exists():
            try:
                found: str | None = json.loads(marker.read_text()).get("id")
                return found
            except (OSError, ValueError):
                return None
    return None


def write_digits(target_root: Path, per_class: int = 50, size: int = 32) -> Path:
    """scikit-learn's 8x8 handwritten digits, written as PNG class folders (dark on white)."""
    from sklearn.datasets import load_digits

    folder = target_root / f"digits-{per_class}"
    if (folder / MARKER).exists():
        return folder
    digits = load_digits()
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for label in range(10):
        class_dir = tmp / f"digit_{label}"
        class_dir.mkdir(parents=True)
        for k, index in enumerate(np.flatnonzero(digits.target == label)[:per_class]):
            pixels = 255 - np.uint8(digits.images[index] / 16.0 * 255)
            image = Image.fromarray(pixels, mode="L").resize(
                (size, size), Image.Resampling.BILINEAR
            )
            image.save(class_dir / f"{label}_{k:03d}.png")
    _mark(tmp, "digits")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def write_cats_vs_dogs(target_root: Path) -> Path:
    """The 2,000-image cats-vs-dogs subset (1,000 per class for training) used by the Keras
    blog's recipes, downloaded once through Keras' cache."""
    import keras

    folder = target_root / "cats_vs_dogs_small"
    if (folder / MARKER).exists():
        return folder
    try:
        archive = keras.utils.get_file("cats_and_dogs_filtered.zip", CATS_VS_DOGS_URL, extract=True)
    except Exception as exc:  # noqa: BLE001 - any download failure means the same to a user
        raise SampleUnavailable(
            f"the cats-vs-dogs sample needs internet once to download {CATS_VS_DOGS_URL} "
            f"({type(exc).__name__}); use the built-in digits sample offline"
        ) from exc
    extracted = next(Path(archive).parent.glob("**/cats_and_dogs_filtered"), None)
    if extracted is None:
        raise SampleUnavailable("the cats-vs-dogs download did not contain the expected folder")
    shutil.copytree(extracted, folder, dirs_exist_ok=True)
    _mark(folder, "cats_vs_dogs_small")
    return folder


def _keras_sample(name: str) -> Callable[[Path, int | None], Path]:
    def write(target_root: Path, per_class: int | None) -> Path:
        from core.data.keras_datasets import write_keras_dataset

        folder = write_keras_dataset(name, target_root, subset=per_class)
        if not (folder / MARKER).exists():
            _mark(folder, name)
        return folder

    return write


SAMPLES: dict[str, Sample] = {
    s.id: s
    for s in (
        Sample(
            "digits",
            "Handwritten digits (built in, offline)",
            "500 images of the digits 0-9 from scikit-learn, 10 classes.",
            True,
            48,
            lambda root, _cap: write_digits(root),
        ),
        Sample(
            "cats_vs_dogs_small",
            "Cats vs dogs (Keras blog subset, download)",
            "2,000 training and 1,000 validation photos: the classic 'very little data' recipe.",
            False,
            150,
            lambda root, _cap: write_cats_vs_dogs(root),
        ),
        Sample(
            "cifar10",
            "CIFAR-10 (download)",
            "Small 32 px photos, 10 classes, upscaled to 48 px: 50,000 training and the 10,000 "
            "official test images (held out), or a per-class sample of them.",
            False,
            48,
            _keras_sample("cifar10"),
            True,
        ),
        Sample(
            "mnist",
            "MNIST digits (download)",
            "28 px handwritten digits, 10 classes: 60,000 training and the 10,000 official "
            "test images (held out), or a per-class sample of them.",
            False,
            48,
            _keras_sample("mnist"),
            True,
        ),
        Sample(
            "fashion_mnist",
            "Fashion-MNIST (download)",
            "28 px clothing pictures, 10 classes: 60,000 training and the 10,000 official "
            "test images (held out), or a per-class sample of them.",
            False,
            48,
            _keras_sample("fashion_mnist"),
            True,
        ),
    )
}


def prepare(sample: str, home: Path | None = None, per_class: int | None = None) -> Path:
    """Write (once) and return the folder of a sample dataset; `per_class` caps the training
    images per class of the Keras samples (None: all of them)."""
    if sample not in SAMPLES:
        raise ValueError(f"unknown sample {sample!r}; choose one of {', '.join(SAMPLES)}")
    spec = SAMPLES[sample]
    if per_class is not None and not spec.capped:
        raise ValueError(f"the {sample} sample has a fixed size: leave the per-class cap out")
    if per_class is not None and per_class < 1:
        raise ValueError(f"the cap must be at least 1 image per class, got {per_class}")
    root = settings.samples_dir(settings.studio_home(home))
    root.mkdir(parents=True, exist_ok=True)
    return spec.write(root, per_class)
