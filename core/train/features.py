"""Feature extraction and its on-disk cache.

VGG16 runs once over a dataset's images; each requested output (a layer, as its full feature
map or global-average-pooled) is saved under a key made of the images' content, the weights,
the image size, the decoder and the layer. Retraining on the same data re-extracts nothing.
Images are decoded (JPEGs at reduced size) by a tf.data pipeline with parallel decode and
prefetch, so decoding overlaps compute. Each batch of features is written straight into a
preallocated .npy file (float32, or float16 to halve it), so peak memory does not grow with
the dataset; training reads rows back batch by batch from the memory-mapped file.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from core.data.datasets import Item
from core.data.imaging import DECODER, UnreadableImage, load_rgb
from core.platform import settings
from core.platform.fileio import NpyWriter, atomic_write_text, mark_used

if TYPE_CHECKING:  # imports Keras
    from core.train.batches import ArrayRows

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
    precision: str = "float32"  # compute dtype: bfloat16 features differ from float32 ones

    def folder(self, root: Path) -> Path:
        # the decoder is part of the key: features of differently decoded pixels never mix;
        # so is the compute precision (float32 keeps the plain name)
        precision = "" if self.precision == "float32" else f"-{self.precision}"
        size = f"{self.image_size}px-{DECODER}{precision}"
        return root / settings.FEATURES_CACHE / self.images / self.weights / size


class FeatureCache:
    """Arrays per (layer, mode), each with its own index: the image hashes of its rows, in order.

    Every output keeps its own index (`{layer}-{mode}.json` beside `{layer}-{mode}.npy`)
    because outputs in one key folder may hold different image sets: the key's image
    fingerprint includes files excluded by a dataset's overlay, so after an exclusion one
    output can hold rows for 100 images and another for 99. (An older cache kept one
    `images.json` for the whole folder; it is ignored, so those outputs are re-extracted once.)

    `dtype` is the storage type: float32 (default) or float16, which halves the disk space and
    the reads (features are widened back to float32 batch by batch)."""

    def __init__(self, root: Path, dtype: str = "float32"):
        self.root = Path(root)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float16):
            raise ValueError(f"feature cache dtype must be float32 or float16, not {dtype}")
        self.hits = 0
        self.misses = 0

    def _paths(self, key: CacheKey, output: Output) -> tuple[Path, Path]:
        """The output's array and its own index of image hashes."""
        folder = key.folder(self.root)
        suffix = "" if self.dtype == np.float32 else f"-{self.dtype.name}"
        stem = f"{output[0]}-{output[1]}{suffix}"
        return folder / f"{stem}.npy", folder / f"{stem}.json"

    def load(self, key: CacheKey, output: Output) -> tuple[np.ndarray, list[str]] | None:
        """The output's rows and their image hashes; None (a miss, so it is re-extracted) when
        either is absent or unreadable, or when the index does not count the array's rows."""
        array_path, index_path = self._paths(key, output)
        try:
            array = np.load(array_path, mmap_mode="r")
            index = json.loads(index_path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(index, list) or len(index) != array.shape[0]:
            return None
        mark_used(index_path)
        return array, index

    def writer(self, key: CacheKey, output: Output, shape: tuple[int, ...]) -> NpyWriter:
        """A preallocated file for `output`, filled batch by batch."""
        return NpyWriter(self._paths(key, output)[0], shape, self.dtype)

    def forget_index(self, key: CacheKey, output: Output) -> None:
        """Remove the output's index before its array is replaced, so a crash in between
        leaves a miss, never new rows read through the old index."""
        self._paths(key, output)[1].unlink(missing_ok=True)

    def save_index(self, key: CacheKey, output: Output, hashes: list[str]) -> None:
        atomic_write_text(self._paths(key, output)[1], json.dumps(hashes))


def image_dataset(
    paths: Sequence[str],
    image_size: int,
    batch_size: int,
    labels: np.ndarray | None = None,
    failures: list[tuple[str, str]] | None = None,
    shuffle_seed: int | None = None,
) -> Any:  # a tf.data.Dataset
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

    def load(path: Any) -> Any:  # a string tensor -> an image tensor
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


# (id(base), outputs) -> (base, traced forward); cleared after each run
_FORWARDS: dict[tuple[int, tuple[Output, ...]], tuple[Any, Callable[[Any], Any]]] = {}


def compiled_forward(base: Any, outputs: tuple[Output, ...]) -> Callable[[Any], Any]:
    """A traced forward pass for these outputs, built once per base model and output set
    (a run extracts several times with the same base)."""
    import tensorflow as tf

    from core.model.models import feature_extractor

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


class RowWriter(Protocol):
    def write(self, first_row: int, rows: np.ndarray) -> None: ...


Allocate = Callable[[list[tuple[int, ...]]], Sequence[RowWriter]]  # full shapes -> writers


class MemoryRows:
    """The default destination of extracted rows: a float32 array in memory."""

    def __init__(self, shape: tuple[int, ...]):
        self.array = np.empty(shape, np.float32)

    def write(self, first_row: int, rows: np.ndarray) -> None:
        self.array[first_row : first_row + len(rows)] = rows


def in_memory(shapes: list[tuple[int, ...]]) -> list[MemoryRows]:
    return [MemoryRows(shape) for shape in shapes]


def run_extractor(
    forward: Callable[[Any], Any],
    paths: Sequence[str],
    image_size: int,
    batch_size: int,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    failures: list[tuple[str, str]] | None = None,
    allocate: Allocate = in_memory,
) -> Sequence[RowWriter]:
    """Forward every image once, rows in `paths` order. Each batch is written straight into
    the writers from `allocate` (called once, with every output's full shape, at the first
    batch), which are returned: one per model output. With writers to disk (the cache's),
    peak memory stays flat however many images there are."""
    writers: Sequence[RowWriter] | None = None
    done = 0
    for batch in image_dataset(paths, image_size, batch_size, failures=failures):
        if should_stop is not None and should_stop():
            raise ExtractionStopped("stopped during feature extraction")
        outputs = forward(batch)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        outputs = [np.asarray(o) for o in outputs]
        if writers is None:
            writers = allocate([(len(paths), *o.shape[1:]) for o in outputs])
        for writer, output in zip(writers, outputs, strict=True):
            writer.write(done, output)
        done += int(batch.shape[0])
        if progress is not None:
            progress(done, len(paths))
    return writers or []


@dataclass
class FeatureTable:
    """Cached features aligned to image hashes; `rows(items)` gives them in any item order
    (in memory), `batches(...)` reads them batch by batch from the memory-mapped cache."""

    hashes: list[str]
    arrays: dict[Output, np.ndarray]

    def positions(self, items: Sequence[Item]) -> np.ndarray:
        index = {sha: k for k, sha in enumerate(self.hashes)}
        return np.array([index[i.sha256] for i in items], dtype=np.int64)

    def rows(self, output: Output, items: Sequence[Item]) -> np.ndarray:
        return np.asarray(self.arrays[output][self.positions(items)], dtype=np.float32)

    def batches(
        self,
        output: Output,
        items: Sequence[Item],
        batch_size: int,
        labels: np.ndarray | None = None,
        shuffle_seed: int | None = None,
    ) -> ArrayRows:
        """Keras batches of `items`' rows (and `labels`) for fit/predict, never all in memory."""
        from core.train.batches import ArrayRows

        return ArrayRows(
            self.arrays[output], self.positions(items), batch_size, labels, shuffle_seed
        )


def extract(
    base: Any,
    items: Sequence[Item],
    outputs: Sequence[Output],
    key: CacheKey,
    cache: FeatureCache,
    batch_size: int = 32,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    failures: list[tuple[str, str]] | None = None,
) -> FeatureTable:
    """Features for every distinct image in `items`; only outputs missing from the cache are
    computed, all in a single forward pass."""
    unique: dict[str, Item] = {}
    for item in items:
        unique.setdefault(item.sha256, item)
    hashes = sorted(unique)
    if (table := cached_table(cache, key, outputs, hashes)) is not None:
        if progress is not None:
            progress(len(hashes), len(hashes))
        return table
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
        arrays.update(
            _extract_to_cache(
                base,
                missing,
                [unique[sha] for sha in hashes],
                key,
                cache,
                batch_size,
                progress,
                should_stop,
                failures,
            )
        )
    elif progress is not None:
        progress(len(hashes), len(hashes))
    return FeatureTable(hashes, arrays)


def cached_table(
    cache: FeatureCache, key: CacheKey, outputs: Sequence[Output], hashes: Sequence[str]
) -> FeatureTable | None:
    """Every output from the cache when each holds rows for all of `hashes` (it may hold more:
    files excluded by a dataset's overlay keep their rows, so an exclusion re-extracts
    nothing); None when any output is missing or lacks an image, or when the outputs hold
    different image sets."""
    found: dict[Output, np.ndarray] = {}
    index: list[str] | None = None
    for output in dict.fromkeys(outputs):
        cached = cache.load(key, output)
        if cached is None or not set(hashes) <= set(cached[1]):
            return None
        if index is not None and cached[1] != index:
            return None  # the outputs hold different image sets: one table cannot serve both
        found[output], index = cached
    if index is None:
        return None
    cache.hits += len(found)
    return FeatureTable(list(index), found)


def _extract_to_cache(
    base: Any,
    outputs: list[Output],
    items: list[Item],
    key: CacheKey,
    cache: FeatureCache,
    batch_size: int,
    progress: ProgressFn | None,
    should_stop: StopFn | None,
    failures: list[tuple[str, str]] | None,
) -> dict[Output, np.ndarray]:
    """One forward pass for `outputs`, each batch written into the cache's preallocated
    files. A file that failed to decode leaves its black stand-in out of the
    cache: the arrays are returned but their files deleted."""
    writers: list[NpyWriter] = []

    def allocate(shapes: list[tuple[int, ...]]) -> list[NpyWriter]:
        writers.extend(cache.writer(key, o, s) for o, s in zip(outputs, shapes, strict=True))
        return writers

    own: list[tuple[str, str]] = []
    try:
        run_extractor(
            compiled_forward(base, tuple(outputs)),
            [str(item.path) for item in items],
            key.image_size,
            batch_size,
            progress,
            should_stop,
            own,
            allocate,
        )
    except BaseException:
        for writer in writers:
            writer.discard()
        raise
    if failures is not None:
        failures.extend(own)
    if own:  # never cache a black stand-in for a file that failed to decode
        return {o: w.abandon() for o, w in zip(outputs, writers, strict=True)}
    hashes = [item.sha256 for item in items]
    committed = {}
    for output, writer in zip(outputs, writers, strict=True):
        cache.forget_index(key, output)
        committed[output] = writer.commit()
        cache.save_index(key, output, hashes)
    return committed
