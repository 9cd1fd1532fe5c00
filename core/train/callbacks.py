"""Keras callbacks of the studio, named for the moment they act in."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from core.platform.fileio import write_atomically
from core.runs import live
from core.runs.results import BatchRecord, Progress
from core.runs.store import Store


class FitInterrupted(Exception):
    """Raised from a batch end to leave `fit` at once: no validation pass of a partial epoch,
    no callback treating a partial epoch as finished. reason: "stopped" or "diverged"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ReportToStore(keras.callbacks.Callback):
    """After each batch: its loss (kept by the store's rule, written with the progress at most
    every `batch_every_seconds`), progress with this epoch's and the whole run's ETA, a stop
    check (so Stop acts within one batch) and a divergence check, both ending `fit` by
    FitInterrupted; after each epoch: the epoch's metrics, numbered across phases (global
    epoch = epoch_offset + Keras' epoch index + 1).

    `timings` holds every phase of the run (core.runs.live.PhaseTiming, by phase index) for the
    whole-run ETA; this phase's entry is replaced by what it measures. `batch_size` and
    `images` (training images) turn Keras' running mean loss into each batch's own loss."""

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
        timings: tuple[live.PhaseTiming, ...] = (),
        batch_size: int | None = None,
        images: int | None = None,
    ):
        super().__init__()
        self.store, self.run_id, self.phase = store, run_id, phase
        self.phase_index, self.phases = phase_index, phases
        self.epoch_offset, self.total_epochs, self.steps = epoch_offset, total_epochs, steps
        self.on_epoch_saved = on_epoch_saved
        self.batch_every = batch_every_seconds
        self.timings, self.batch_size, self.images = timings, batch_size, images
        self.stop_requested = False
        self.diverged = False
        self.epochs_finished = 0
        self._epoch_start = self._last_write = self._last_batch_end = 0.0
        self._epoch = 0
        self._first_batch_end: float | None = None
        self._batch_seconds: float | None = None  # measured in this phase
        self._validation_seconds: float | None = None
        self._mean_loss, self._seen = 0.0, 0  # Keras' running mean and the images behind it
        self._pending: list[BatchRecord] = []
        self._forgot = False

    @property
    def _global_epoch(self) -> int:
        return self.epoch_offset + self._epoch + 1

    def _progress(self, step: int, eta: float | None) -> Progress:
        whole = self._run_eta(step, eta)
        return Progress(
            stage="training",
            phase=self.phase,
            phase_index=self.phase_index,
            phases=self.phases,
            epoch=self._global_epoch,
            epochs=self.total_epochs,
            step=step,
            steps=self.steps,
            eta_seconds=eta,
            run_eta_seconds=whole.seconds if whole else None,
            run_eta_measured=whole.measured if whole else None,
        )

    def _run_eta(self, step: int, epoch_left: float | None = None) -> live.Eta | None:
        if not 0 <= self.phase_index < len(self.timings):
            return None
        timings = list(self.timings)
        timings[self.phase_index] = dataclasses.replace(
            timings[self.phase_index],
            epochs_done=self._epoch,
            batch_seconds=self._batch_seconds,
            validation_seconds=self._validation_seconds,
        )
        return live.run_eta(timings, self.phase_index, step, epoch_left)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch
        self._epoch_start = self._last_batch_end = time.time()
        self._first_batch_end = None
        self._mean_loss, self._seen = 0.0, 0
        if not self._forgot:  # a resumed run trains this epoch again: its old batches go
            self.store.forget_batches_from(self.run_id, self._global_epoch)
            self._forgot = True
        self.store.update(self.run_id, progress=self._progress(0, None))

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        step = batch + 1
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged = True
            raise FitInterrupted("diverged")
        if self.store.stop_requested(self.run_id):
            self.stop_requested = True
            self._write_batches()  # the chart of a stopped run shows its last batches
            raise FitInterrupted("stopped")
        now = time.time()
        self._time_batch(step, now)
        if loss is not None:
            self._keep_loss(step, float(loss), now)
        if now - self._last_write >= self.batch_every or step == self.steps:
            self._last_write = now
            elapsed = now - self._epoch_start
            eta = elapsed / step * (self.steps - step)
            self._write_batches()
            self.store.update(self.run_id, progress=self._progress(step, eta))

    def _time_batch(self, step: int, now: float) -> None:
        """Seconds per batch, measured from the end of the epoch's first batch (which also
        pays for tracing the training step)."""
        if step == 1:
            self._first_batch_end = now
        elif self._first_batch_end is not None:
            self._batch_seconds = (now - self._first_batch_end) / (step - 1)
        self._last_batch_end = now

    def _keep_loss(self, step: int, mean: float, now: float) -> None:
        seen = step if self.batch_size is None else step * self.batch_size
        if self.images is not None:
            seen = min(seen, self.images)
        loss = live.batch_loss(mean, seen, self._mean_loss, self._seen)
        self._mean_loss, self._seen = mean, seen
        self._pending.append(
            BatchRecord(self.phase, self._global_epoch, step, self.steps, loss, now)
        )

    def _write_batches(self) -> None:
        if self._pending:
            self.store.add_batches(self.run_id, self._pending)
            self._pending = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        now = time.time()
        self._validation_seconds = now - self._last_batch_end
        if self.steps == 1 and self.epochs_finished > 0:  # one batch an epoch: time the epoch
            self._batch_seconds = self._last_batch_end - self._epoch_start
        self._write_batches()
        data = {k: float(v) for k, v in (logs or {}).items()}
        data["learning_rate"] = float(
            keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        )
        data["seconds"] = now - self._epoch_start
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

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None or not float(value) < self.best:
            return
        write_atomically(
            self.path,
            lambda tmp: self.model.save_weights(tmp, overwrite=True),
            suffix=".weights.h5",
        )
        self.best = float(value)
