"""Feature extraction and its on-disk cache.

VGG16 runs once over a dataset's images; each requested output (a layer, as its full feature
map or global-average-pooled) is saved under a key made of the images' content, the weights,
the image size and the layer. Retraining on the same data re-extracts nothing. Images are
decoded by a tf.data pipeline with parallel decode and prefetch, so decoding overlaps compute.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.datasets import Item
from core.fileio import atomic_save_npy, atomic_write_text
from core.imaging import DECODER, UnreadableImage, load_rgb

Output = tuple[str, str]  # (layer name, "map" | "gap")
ProgressFn = Callable[[int, int], None]  # (images done, images total)
StopFn = Callable[[], bool]


class ExtractionStopped(RuntimeError):
    """A stop was requested while features were being extracted."""


@dataclass(frozen=True)
class CacheKey:
    images: str  # content fingerprint of the image set
    weights: str  # WeightsSpec.cache_id(seed)
    image_size: int

    def folder(self, root: Path) -> Path:
        # the decoder is part of the key: features of differently decoded pixels never mix
        size = f"{self.image_size}px-{DECODER}"
        return root / "features" / self.images / self.weights / size


class FeatureCache:
    """Arrays per (layer, mode), rows in the order of a saved list of image hashes."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def _paths(self, key: CacheKey, output: Output) -> tuple[Path, Path]:
        folder = key.folder(self.root)
        return folder / f"{output[0]}-{output[1]}.npy", folder / "images.json"

    def load(self, key: CacheKey, output: Output) -> tuple[np.ndarray, list[str]] | None:
        array_path, index_path = self._paths(key, output)
        if not (array_path.exists() and index_path.exists()):
            return None
        return np.load(array_path, mmap_mode="r"), json.loads(index_path.read_text())

    def save(self, key: CacheKey, output: Output, array: np.ndarray, hashes: list[str]) -> None:
        array_path, index_path = self._paths(key, output)
        atomic_save_npy(array_path, array)
        atomic_write_text(index_path, json.dumps(hashes))


def image_dataset(
    paths: Sequence[str],
    image_size: int,
    batch_size: int,
    labels: np.ndarray | None = None,
    failures: list | None = None,
    shuffle_seed: int | None = None,
):
    """tf.data pipeline: parallel robust decode (Pillow, EXIF, colour modes), batch, prefetch.
    A file that fails to decode here (changed since the scan) becomes a black image and is
    listed in `failures`, so one bad file never kills a run."""
    import tensorflow as tf

    lock = threading.Lock()

    def decode(path: bytes) -> np.ndarray:
        try:
            return load_rgb(path.decode(), image_size)
        except (UnreadableImage, OSError) as exc:
            if failures is not None:
                with lock:
                    failures.append((path.decode(), str(exc)))
            return np.zeros((image_size, image_size, 3), np.uint8)

    def load(path):
        image = tf.numpy_function(decode, [path], tf.uint8)
        image.set_shape((image_size, image_size, 3))
        return image

    data = tf.data.Dataset.from_tensor_slices(list(paths))
    if labels is not None:
        data = tf.data.Dataset.zip((data, tf.data.Dataset.from_tensor_slices(labels)))
        if shuffle_seed is not None:
            data = data.shuffle(len(paths), seed=shuffle_seed, reshuffle_each_iteration=True)
        data = data.map(lambda p, y: (load(p), y), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        data = data.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


_FORWARDS: dict = {}  # (id(base), outputs) -> (base, traced forward); cleared after each run


def compiled_forward(base, outputs: tuple[Output, ...]):
    """A traced forward pass for these outputs, built once per base model and output set
    (a run extracts several times with the same base)."""
    import tensorflow as tf

    from core.models import feature_extractor

    key = (id(base), outputs)
    if key not in _FORWARDS:
        model = feature_extractor(base, list(outputs))
        _FORWARDS[key] = (
            base,
            tf.function(lambda x: model(x, training=False), reduce_retracing=True),
        )
    return _FORWARDS[key][1]


def release_models() -> None:
    """Forget the traced extractors (and the VGG16 they hold): called when a run ends."""
    _FORWARDS.clear()


def run_extractor(
    forward,
    paths: Sequence[str],
    image_size: int,
    batch_size: int,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    failures: list | None = None,
) -> list[np.ndarray]:
    """Forward every image once; returns one array per model output, rows in `paths` order."""
    chunks: list[list[np.ndarray]] = []
    done = 0
    for batch in image_dataset(paths, image_size, batch_size, failures=failures):
        if should_stop is not None and should_stop():
            raise ExtractionStopped("stopped during feature extraction")
        outputs = forward(batch)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        chunks.append([np.asarray(o, dtype=np.float32) for o in outputs])
        done += int(batch.shape[0])
        if progress is not None:
            progress(done, len(paths))
    return [np.concatenate([c[k] for c in chunks]) for k in range(len(chunks[0]))]


@dataclass
class FeatureTable:
    """Cached features aligned to image hashes; `rows(items)` gives them in any item order."""

    hashes: list[str]
    arrays: dict[Output, np.ndarray]

    def rows(self, output: Output, items: Sequence[Item]) -> np.ndarray:
        index = {sha: k for k, sha in enumerate(self.hashes)}
        return np.asarray(self.arrays[output][[index[i.sha256] for i in items]])


def extract(
    base,
    items: Sequence[Item],
    outputs: Sequence[Output],
    key: CacheKey,
    cache: FeatureCache,
    batch_size: int = 32,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    failures: list | None = None,
) -> FeatureTable:
    """Features for every distinct image in `items`; only outputs missing from the cache are
    computed, all in a single forward pass."""
    unique: dict[str, Item] = {}
    for item in items:
        unique.setdefault(item.sha256, item)
    hashes = sorted(unique)
    arrays: dict[Output, np.ndarray] = {}
    missing: list[Output] = []
    for output in dict.fromkeys(outputs):
        cached = cache.load(key, output)
        if cached is not None and cached[1] == hashes:
            arrays[output] = cached[0]
            cache.hits += 1
        else:
            missing.append(output)
    if missing:
        cache.misses += len(missing)
        forward = compiled_forward(base, tuple(missing))
        paths = [str(unique[sha].path) for sha in hashes]
        computed = run_extractor(
            forward, paths, key.image_size, batch_size, progress, should_stop, failures
        )
        for output, array in zip(missing, computed, strict=True):
            if not failures:  # never cache a black stand-in for a file that failed to decode
                cache.save(key, output, array, hashes)
            arrays[output] = array
    elif progress is not None:
        progress(len(hashes), len(hashes))
    return FeatureTable(hashes, arrays)
