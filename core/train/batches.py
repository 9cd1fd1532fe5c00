"""Batches read from arrays on disk, for Keras' fit and predict.

Cached features and decoded images live in memory-mapped .npy files. Handing such an array to
`fit` as numpy would load all of it (Keras converts array inputs to one tensor), so training
reads them through this PyDataset instead: each batch reads only its own rows, and peak memory
does not grow with the dataset. Imported only where Keras is already loaded.
"""

from __future__ import annotations

import math

import keras
import numpy as np


class ArrayRows(keras.utils.PyDataset):
    """Rows `rows` of `array` in batches of `batch_size`, as float32, with `labels` (aligned to
    `rows`) as targets when given. With `shuffle_seed`, the order is reshuffled every epoch
    (seeded, so a run is repeatable) and each batch is read in file order; without it, batches
    follow `rows` exactly (predict relies on that)."""

    def __init__(
        self,
        array: np.ndarray,
        rows: np.ndarray,
        batch_size: int,
        labels: np.ndarray | None = None,
        shuffle_seed: int | None = None,
    ):
        super().__init__()  # one worker, no extra threads: a batch is a cheap memory copy
        self.array = array
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels = None if labels is None else np.asarray(labels)
        self.batch_size = int(batch_size)
        self._rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
        self._order = np.arange(len(self.rows))
        self._reshuffle()

    def __len__(self) -> int:
        return math.ceil(len(self.rows) / self.batch_size)

    def __getitem__(self, index: int) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        picked = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        if self._rng is not None:  # rows ascending: the memmap reads forward through the file
            picked = picked[np.argsort(self.rows[picked], kind="stable")]
        x = np.asarray(self.array[self.rows[picked]], dtype=np.float32)
        return x if self.labels is None else (x, self.labels[picked])

    def on_epoch_end(self) -> None:
        self._reshuffle()

    def _reshuffle(self) -> None:
        if self._rng is not None:
            self._rng.shuffle(self._order)
