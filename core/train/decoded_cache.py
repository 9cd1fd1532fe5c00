"""Each dataset's images decoded once, at the run's image size, into one uint8 array on disk.

A textbook augmented run decodes every JPEG again in every epoch. Here the images of a dataset
are decoded once (in parallel on all cores, reduced-size JPEG decoding), squashed to the image
size and stored as uint8 in a memory-mapped .npy file, keyed by the images' content, the size
and the decoder (like the feature cache). Every later epoch, strategy and augmentation reads
rows from it; augmentation runs on the tensors (Keras preprocessing layers inside the model).
A file that fails to decode becomes a black image and is listed in `failures`, and then the
array is not kept as a cache (the file may be fixed next time).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.data.datasets import Item, fingerprint
from core.data.imaging import DECODER, UnreadableImage, load_rgb
from core.platform import settings
from core.platform.fileio import NpyWriter, atomic_write_text, mark_used

if TYPE_CHECKING:  # imports Keras
    from core.train.batches import ArrayRows

CHUNK = 64  # images per decoding task: enough to amortise scheduling, small enough to balance
ProgressFn = Callable[[int, int], None]  # (images done, images total)


@dataclass(frozen=True)
class DecodedImages:
    """(N, size, size, 3) uint8, memory-mapped; row k is the image with hash `hashes[k]`."""

    hashes: list[str]
    array: np.ndarray

    def rows(self, items: Sequence[Item]) -> np.ndarray:
        index = {sha: k for k, sha in enumerate(self.hashes)}
        return np.array([index[i.sha256] for i in items], dtype=np.int64)


def folder(root: Path, items: Sequence[Item], image_size: int) -> Path:
    return Path(root) / settings.DECODED_CACHE / fingerprint(items) / f"{image_size}px-{DECODER}"


def decoded(
    items: Sequence[Item],
    image_size: int,
    root: Path,
    failures: list[tuple[str, str]] | None = None,
    progress: ProgressFn | None = None,
    workers: int | None = None,
) -> DecodedImages:
    """The decoded images of `items` (distinct contents, sorted by hash): read from the cache,
    or decoded now and cached."""
    unique: dict[str, Item] = {}
    for item in items:
        unique.setdefault(item.sha256, item)
    hashes = sorted(unique)
    where = folder(root, items, image_size)
    array_path, index_path = where / "images.npy", where / "images.json"
    shape = (len(hashes), image_size, image_size, 3)
    if array_path.exists() and index_path.exists():
        try:
            array = np.load(array_path, mmap_mode="r")
            if array.shape == shape and json.loads(index_path.read_text()) == hashes:
                mark_used(index_path)
                return DecodedImages(hashes, array)  # no progress: nothing to wait for
        except (OSError, ValueError):  # damaged cache file: decode again
            pass
    index_path.unlink(missing_ok=True)  # the index only ever names a complete array
    own: list[tuple[str, str]] = []
    writer = NpyWriter(array_path, shape, np.uint8)
    try:
        paths = [unique[sha].path for sha in hashes]
        _decode_all(paths, image_size, writer, own, progress, workers)
    except BaseException:
        writer.discard()
        raise
    if failures is not None:
        failures.extend(own)
    if own:  # black stand-ins are never cached
        return DecodedImages(hashes, writer.abandon())
    array = writer.commit()
    atomic_write_text(index_path, json.dumps(hashes))
    return DecodedImages(hashes, array)


def _decode_all(
    paths: list[Path],
    image_size: int,
    writer: NpyWriter,
    failures: list[tuple[str, str]],
    progress: ProgressFn | None,
    workers: int | None,
) -> None:
    """Decode every path into its row of `writer`, CHUNK images per task on a thread pool
    (Pillow releases the GIL while decoding and resizing)."""
    lock = threading.Lock()
    done = [0]
    black = np.zeros((1, image_size, image_size, 3), np.uint8)

    def decode_chunk(start: int) -> None:
        stop = min(start + CHUNK, len(paths))
        for row in range(start, stop):
            try:
                writer.write(row, load_rgb(paths[row], image_size)[None])
            except (UnreadableImage, OSError) as exc:
                writer.write(row, black)
                with lock:
                    failures.append((str(paths[row]), str(exc)))
        with lock:
            done[0] += stop - start
            if progress is not None:
                progress(done[0], len(paths))

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        list(pool.map(decode_chunk, range(0, len(paths), CHUNK)))


def image_batches(
    items: Sequence[Item],
    image_size: int,
    batch_size: int,
    root: Path,
    labels: np.ndarray | None = None,
    shuffle_seed: int | None = None,
    dataset: Sequence[Item] | None = None,
    failures: list[tuple[str, str]] | None = None,
    progress: ProgressFn | None = None,
) -> ArrayRows:
    """Keras batches (raw 0..255 RGB, float32) of `items`' images for fit/predict, read from
    the decoded-image cache of `dataset` (default: `items`; pass the whole dataset so training
    and validation share one cache file). Reshuffled every epoch when `shuffle_seed` is given,
    otherwise in `items` order."""
    from core.train.batches import ArrayRows

    images = decoded(
        dataset if dataset is not None else items, image_size, root, failures, progress
    )
    return ArrayRows(images.array, images.rows(items), batch_size, labels, shuffle_seed)
