"""Keras callbacks of the studio, named for the moment they act in."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import keras

from core.fileio import write_atomically
from core.results import Progress
from core.store import Store


class FitInterrupted(Exception):
    """Raised from a batch end to leave `fit` at once: no validation pass of a partial epoch,
    no callback treating a partial epoch as finished. reason: "stopped" or "diverged"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ReportToStore(keras.callbacks.Callback):
    """After each batch: progress and ETA, a stop check (so Stop acts within one batch) and a
    divergence check, both ending `fit` by FitInterrupted; after each epoch: the epoch's
    metrics, numbered across phases (global epoch = epoch_offset + Keras' epoch index + 1)."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        phase: str,
        phase_index: int,
        phases: int,
        epoch_offset: int,
        total_epochs: int,
        steps: int,
        on_epoch_saved: Callable[[int], None] | None = None,
        batch_every_seconds: float = 0.5,
    ):
        super().__init__()
        self.store, self.run_id, self.phase = store, run_id, phase
        self.phase_index, self.phases = phase_index, phases
        self.epoch_offset, self.total_epochs, self.steps = epoch_offset, total_epochs, steps
        self.on_epoch_saved = on_epoch_saved
        self.batch_every = batch_every_seconds
        self.stop_requested = False
        self.diverged = False
        self.epochs_finished = 0
        self._epoch_start = self._last_write = 0.0
        self._epoch = 0

    def _progress(self, step: int, eta: float | None) -> Progress:
        return Progress(
            stage="training",
            phase=self.phase,
            phase_index=self.phase_index,
            phases=self.phases,
            epoch=self.epoch_offset + self._epoch + 1,
            epochs=self.total_epochs,
            step=step,
            steps=self.steps,
            eta_seconds=eta,
        )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_start = time.time()
        self.store.update(self.run_id, progress=self._progress(0, None))

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        step = batch + 1
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged = True
            raise FitInterrupted("diverged")
        if self.store.stop_requested(self.run_id):
            self.stop_requested = True
            raise FitInterrupted("stopped")
        now = time.time()
        if now - self._last_write >= self.batch_every or step == self.steps:
            self._last_write = now
            elapsed = now - self._epoch_start
            eta = elapsed / step * (self.steps - step)
            data = {k: float(v) for k, v in logs.items()}
            self.store.add_metric(
                self.run_id, "batch", self.phase, self.epoch_offset + self._epoch + 1, step, data
            )
            self.store.update(self.run_id, progress=self._progress(step, eta))

    def on_epoch_end(self, epoch, logs=None):
        data = {k: float(v) for k, v in (logs or {}).items()}
        data["learning_rate"] = float(
            keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        )
        data["seconds"] = time.time() - self._epoch_start
        global_epoch = self.epoch_offset + epoch + 1
        self.epochs_finished += 1
        if self.on_epoch_saved is not None:  # resume state first: an epoch on the chart is safe
            self.on_epoch_saved(epoch + 1)
        self.store.add_metric(self.run_id, "epoch", self.phase, global_epoch, self.steps, data)


class SaveBestWeights(keras.callbacks.Callback):
    """Keras' ModelCheckpoint(save_best_only=True, save_weights_only=True), written to a
    temporary file and moved into place: a failed write (a full disk) leaves the previous best
    checkpoint as it was instead of half a file."""

    def __init__(self, path: Path, monitor: str = "val_loss"):
        super().__init__()
        self.path, self.monitor, self.best = Path(path), monitor, math.inf

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not float(value) < self.best:
            return
        write_atomically(
            self.path,
            lambda tmp: self.model.save_weights(tmp, overwrite=True),
            suffix=".weights.h5",
        )
        self.best = float(value)
