"""The small Keras datasets (cifar10, mnist, fashion_mnist) written out as image folders.

Keras downloads each dataset once into ~/.keras/datasets (or $KERAS_HOME/datasets); this module
turns the arrays into the layout `core.data.datasets` reads:
`<target_root>/<name>-<size>px[-subsetN[-seedS]]/{train,test}/<class>/<index>.png`, the
official test set becoming `test`: the held-out side a run reports, so a run's test accuracy is
the benchmark's. Validation (early stopping, checkpoint choice) is drawn from `train/` by
`core.data.datasets.split`, never from the official test set. Images are resized with Pillow
(bilinear) because VGG16 needs at least 32 px and 28 px digits are below that; grayscale
becomes 3 equal channels.

By default every image is written (the full datasets: 60,000 or 70,000 images). `subset=N`
keeps a seeded, stratified sample instead: at most N training images per class, and for test
the same share of the official test set (N * test size / train size per class, at least 1).
`planned_images` says how much work a choice is before starting (core.runs.speed turns it
into time).
A folder is complete when its marker file exists (written last); then nothing is redone.

Folders written before the official test set became `test/` hold it as `validation/`. A
complete one is reused as it is (runs trained on it keep finding their files) and
`old_layout_note` says what that means and how to get the new layout; an unfinished one is
finished in the new layout (its `validation/` renamed `test/`: the same pictures).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.data.datasets import TEST, TRAIN, VALIDATION
from core.model import vgg16
from core.platform.refusal import Refusal

MARKER_FILE = ".complete.json"
KERAS_CACHE_HINT = "~/.keras/datasets"

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class SampleUnavailable(Refusal, RuntimeError):
    """A sample dataset cannot be obtained here (no internet on first use); says what to do."""


def _load_cifar10() -> Arrays:
    from keras.datasets import cifar10  # deferred: importing keras is slow

    arrays: Arrays = cifar10.load_data()
    return arrays


def _load_mnist() -> Arrays:
    from keras.datasets import mnist

    arrays: Arrays = mnist.load_data()
    return arrays


def _load_fashion_mnist() -> Arrays:
    from keras.datasets import fashion_mnist

    arrays: Arrays = fashion_mnist.load_data()
    return arrays


@dataclass(frozen=True)
class KerasDataset:
    name: str
    title: str
    loader: Callable[[], Arrays]  # keras.datasets.<name>.load_data
    classes: tuple[str, ...]  # folder names, in label order (0, 1, ...)
    default_size: int
    source: str  # where Keras downloads it from on first use
    native_size: int
    grayscale: bool
    train_images: int  # full size, known before any download (for estimates)
    test_images: int


KERAS_DATASETS: dict[str, KerasDataset] = {
    d.name: d
    for d in (
        KerasDataset(
            "cifar10",
            "CIFAR-10 (60,000 32x32 colour photos, 10 classes)",
            _load_cifar10,
            (
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ),
            48,
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
            32,
            False,
            50_000,
            10_000,
        ),
        KerasDataset(
            "mnist",
            "MNIST (70,000 28x28 handwritten digits)",
            _load_mnist,
            tuple(str(d) for d in range(10)),
            48,
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
            28,
            True,
            60_000,
            10_000,
        ),
        KerasDataset(
            "fashion_mnist",
            "Fashion-MNIST (70,000 28x28 clothing images, 10 classes)",
            _load_fashion_mnist,
            (
                "t-shirt_top",
                "trouser",
                "pullover",
                "dress",
                "coat",
                "sandal",
                "shirt",
                "sneaker",
                "bag",
                "ankle_boot",
            ),
            48,
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
            28,
            True,
            60_000,
            10_000,
        ),
    )
}


def folder_name(name: str, size: int, subset: int | None = None, seed: int = 0) -> str:
    out = f"{name}-{size}px"
    if subset is not None:
        out += f"-subset{subset}" + (f"-seed{seed}" if seed else "")
    return out


def capped_test_per_class(subset: int, train_images: int, test_images: int) -> int:
    """The test cap that keeps the official test share: N * test / train, at least 1."""
    return max(1, math.ceil(subset * test_images / max(1, train_images)))


def planned_images(name: str, subset: int | None = None) -> int:
    """How many images `write_keras_dataset(name, subset=...)` writes (train + test),
    known before downloading anything: the figure behind the time estimate. Exact for the
    full datasets; with a cap, exact unless a class has fewer images than the cap."""
    spec = KERAS_DATASETS[name]
    if subset is None:
        return spec.train_images + spec.test_images
    classes = len(spec.classes)
    test_cap = capped_test_per_class(subset, spec.train_images, spec.test_images)
    return min(spec.train_images, subset * classes) + min(spec.test_images, test_cap * classes)


def stratified_indices(labels: np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """Sorted indices keeping at most per_class items of every label (all when None)."""
    labels = np.asarray(labels).reshape(-1)
    if per_class is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        take = min(per_class, len(members))
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.arange(0)


def to_rgb_image(array: np.ndarray, size: int) -> Image.Image:
    """One HxW or HxWx1/3 uint8 array -> size x size RGB, bilinear."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        image = Image.fromarray(array, mode="L").convert("RGB")
    elif array.ndim == 3 and array.shape[-1] == 3:
        image = Image.fromarray(array, mode="RGB")
    else:
        raise ValueError(f"expected an HxW or HxWx3 image, got shape {array.shape}")
    return image.resize((size, size), Image.Resampling.BILINEAR)


def _save_png(image: Image.Image, target: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".png")
    os.close(fd)
    try:
        image.save(tmp, format="PNG")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(spec: KerasDataset, loader: Callable[[], Arrays] | None) -> Arrays:
    try:
        return (loader or spec.loader)()
    except Exception as exc:  # keras raises a bare Exception for URL failures
        raise SampleUnavailable(
            f"{spec.title} needs internet to download {spec.name} from {spec.source} once; "
            f"Keras caches it in {KERAS_CACHE_HINT} (or $KERAS_HOME/datasets) afterwards. "
            f"The download failed: {exc}"
        ) from exc


def write_keras_dataset(
    name: str,
    target_root: str | Path,
    size: int | None = None,
    subset: int | None = None,
    seed: int = 0,
    loader: Callable[[], Arrays] | None = None,
    *,
    workers: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write a Keras dataset as train/test class folders and return the folder. A folder
    whose marker exists is returned as is (the loader is not even called), also one written
    in the old train/validation layout: see `old_layout_note`."""
    if name not in KERAS_DATASETS:
        raise ValueError(
            f"unknown Keras dataset {name!r}; choose one of {', '.join(KERAS_DATASETS)}"
        )
    spec = KERAS_DATASETS[name]
    size = spec.default_size if size is None else int(size)
    vgg16.check_image_size(size)
    if subset is not None and subset < 1:
        raise ValueError(f"subset must be at least 1 image per class, got {subset}")
    folder = Path(target_root).expanduser() / folder_name(name, size, subset, seed)
    if (folder / MARKER_FILE).is_file():
        return folder
    _adopt_unfinished_old_layout(folder)

    (x_train, y_train), (x_test, y_test) = _load(spec, loader)
    y_train, y_test = np.asarray(y_train).reshape(-1), np.asarray(y_test).reshape(-1)
    test_cap = None
    if subset is not None:
        test_cap = capped_test_per_class(subset, len(y_train), len(y_test))
    jobs = []
    counts: dict[str, dict[str, int]] = {}
    for split, x, y, per_class in (
        (TRAIN, x_train, y_train, subset),
        (TEST, x_test, y_test, test_cap),
    ):
        if len(x) != len(y):
            raise ValueError(f"{name} {split}: {len(x)} images but {len(y)} labels")
        picked = stratified_indices(y, per_class, seed)
        counts[split] = {c: 0 for c in spec.classes}
        for index in picked:
            label = int(y[index])
            if not 0 <= label < len(spec.classes):
                raise ValueError(f"{name} {split}: label {label} outside 0..{len(spec.classes)}")
            class_name = spec.classes[label]
            counts[split][class_name] += 1
            jobs.append((x[index], folder / split / class_name / f"{index:05d}.png"))
    folder.mkdir(parents=True, exist_ok=True)
    for directory in {target.parent for _, target in jobs}:
        directory.mkdir(parents=True, exist_ok=True)

    def write(job: tuple[np.ndarray, Path]) -> None:
        array, target = job
        if not target.exists():  # an interrupted earlier call may have written it already
            _save_png(to_rgb_image(array, size), target)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for done, _ in enumerate(pool.map(write, jobs), start=1):
            if progress is not None and (done % 500 == 0 or done == len(jobs)):
                progress(done, len(jobs))

    marker = {
        "name": name,
        "size": size,
        "subset": subset,
        "seed": seed,
        "counts": counts,
        "source": spec.source,
    }
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(marker, handle, indent=1)
    os.replace(tmp, folder / MARKER_FILE)
    return folder


def _adopt_unfinished_old_layout(folder: Path) -> None:
    """An interrupted write of the old layout has the official test pictures in validation/:
    renamed test/, they are exactly what this write would put there (same picks, same names),
    and no folder ends up with the official test set on two sides. Nobody trained on it: a
    folder without its marker was never handed out."""
    old, new = folder / VALIDATION, folder / TEST
    if old.is_dir() and not new.exists():
        old.rename(new)


def old_layout_note(folder: str | Path) -> str | None:
    """What a user must know about a complete folder written in the old layout (the official
    test set as validation/), or None for any other folder."""
    folder = Path(folder)
    marker = folder / MARKER_FILE
    if not marker.is_file() or not (folder / VALIDATION).is_dir() or (folder / TEST).exists():
        return None
    try:
        name = json.loads(marker.read_text()).get("name") or folder.name
    except (OSError, ValueError):
        name = folder.name
    return (
        f"This {name} folder was written by an earlier version of the studio: its validation/ "
        "folder is the official test set, so it decides early stopping, and the test side is "
        "drawn from train/; a run's test accuracy is therefore not the benchmark's. It is used "
        f"as it is, so runs trained on it keep their pictures. To score on the official test "
        f"set, delete {folder} and get the sample again (runs trained on this folder then no "
        "longer find their pictures)."
    )
