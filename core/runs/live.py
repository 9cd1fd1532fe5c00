"""The numbers behind the live view of training: the loss of each batch, how many of them the
store keeps, how they are smoothed for the chart, and how long the whole run has left.

Pure functions and frozen dataclasses (no Keras, no store): the training callback feeds them
measurements, the charts and the progress text read what they return.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.model import vgg16
from core.runs.results import EpochRecord
from core.runs.speed import Speed

# The store keeps at most this many batch losses per run: about one per pixel of the chart's
# width, so the curve is as fine as a screen shows, a run of a million batches still adds only
# 1000 small rows, and the Train page's once-a-second redraw sends little.
MAX_BATCH_RECORDS = 1000
SMOOTHING = 0.9  # EMA weight of the past: about the last 10 recorded batches count
# A validation batch is a forward pass only; a training batch is forward + backward (~2x).
VALIDATION_BATCH_SHARE = 1 / 3
BACKWARD_COST = 2.0  # a backward pass through a layer costs about twice its forward pass
BATCH_OVERHEAD_SECONDS = 0.005  # Python and data feeding per batch, whatever the model


# -- batch losses -----------------------------------------------------------------------------
def batch_stride(batches: int, cap: int = MAX_BATCH_RECORDS) -> int:
    """Keep batch n (1-based, counted across the run) when n % stride == 0.

    The stride is the smallest power of two that leaves at most `cap` of the first `batches`
    batches: 1 until `cap` batches, then 2, 4, 8... So the kept batches are always evenly
    spaced over the whole run, never more than `cap`, and a stride that grows only drops rows
    (every batch kept at stride 2s was kept at stride s too)."""
    stride = 1
    while batches // stride > cap:
        stride *= 2
    return stride


def batch_loss(mean_now: float, seen_now: int, mean_before: float, seen_before: int) -> float:
    """The loss of the batch just trained, from Keras' running mean over the epoch.

    Keras logs the mean loss since the epoch began, weighted by each batch's size; the batch's
    own loss is what moved that mean. Cross-entropy is never negative: rounding is clipped."""
    images = seen_now - seen_before
    if images <= 0:
        return float(mean_now)
    return max(0.0, (mean_now * seen_now - mean_before * seen_before) / images)


class MovingAverage:
    """Exponential moving average with bias correction (as Adam corrects its moments): the
    average starts at 0, so the first points are divided by 1 - beta^t instead of being
    dragged towards 0. One value at a time (core.train.lr_finder smooths its sweep as it goes)."""

    def __init__(self, beta: float = SMOOTHING):
        self.beta = beta
        self.steps, self._average = 0, 0.0

    def add(self, value: float) -> float:
        """The smoothed value once `value` is in."""
        self.steps += 1
        self._average = self.beta * self._average + (1 - self.beta) * float(value)
        return self._average / (1 - self.beta**self.steps)


def smoothed(values: Sequence[float], beta: float = SMOOTHING) -> list[float]:
    """Every value smoothed by a MovingAverage."""
    average = MovingAverage(beta)
    return [average.add(value) for value in values]


# -- the epoch kept ----------------------------------------------------------------------------
def kept_epoch(history: Sequence[EpochRecord]) -> int | None:
    """The epoch whose weights the finished model has: each Keras phase ends by restoring its
    epoch of lowest validation loss (EarlyStopping(restore_best_weights=True): the first
    such epoch), and the last phase's is the model's. None without a validation loss."""
    if not history:
        return None
    last_phase = history[-1].phase
    scored = [(r.val_loss, r) for r in history if r.phase == last_phase and r.val_loss is not None]
    if not scored:
        return None
    return min(scored, key=lambda pair: pair[0])[1].epoch  # min keeps the first of equals


# -- time left --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PhaseTiming:
    """One phase of a run as the whole-run ETA sees it: its size, what it costs by the model
    below (before anything is measured) and, once it runs, what it measured."""

    epochs: int  # planned; early stopping may end the phase sooner
    steps: int  # training batches per epoch
    validation_steps: int
    modelled_batch_seconds: float
    setup_seconds: float = 0.0  # before its first epoch: features of its frozen part, if new
    epochs_done: int = 0
    batch_seconds: float | None = None  # measured in this phase
    validation_seconds: float | None = None  # measured: its last validation pass

    @property
    def measured(self) -> bool:
        return self.batch_seconds is not None

    def epoch_seconds(self) -> float:
        return self.steps * self._batch() + self._validation()

    def left_in_epoch(self, step: int, batches_left: float | None = None) -> float:
        """Seconds to finish the current epoch after `step` of its batches; `batches_left`:
        the epoch's own clock for its remaining batches, which then stands in for the model."""
        if batches_left is None:
            batches_left = max(0, self.steps - step) * self._batch()
        return batches_left + self._validation()

    def _batch(self) -> float:
        return self.batch_seconds if self.batch_seconds is not None else self.modelled_batch_seconds

    def _validation(self) -> float:
        if self.validation_seconds is not None:
            return self.validation_seconds
        return self.validation_steps * self._batch() * VALIDATION_BATCH_SHARE


@dataclass(frozen=True)
class Eta:
    seconds: float  # at most: early stopping may end a phase sooner
    measured: bool  # False: part of it is the speed model's estimate for a phase not yet run


def run_eta(
    phases: Sequence[PhaseTiming], current: int, step: int, epoch_left: float | None = None
) -> Eta:
    """Seconds of training left, all phases, when phase `current` (0-based) is `step`
    batches into an epoch: the rest of this epoch, this phase's later epochs, then every
    later phase in full (with its setup). Finished phases cost nothing more. `epoch_left`:
    the seconds the progress line says this epoch's batches still need; the rest of this
    epoch is counted with it, so the whole run never has less left than its epoch (seen:
    "1 min left in this epoch; all phases: at most about 10 s left")."""
    seconds, measured = 0.0, True
    for index, phase in enumerate(phases):
        if index < current:
            continue
        if index == current:
            later = max(0, phase.epochs - phase.epochs_done - 1)
            seconds += phase.left_in_epoch(step, epoch_left) + later * phase.epoch_seconds()
        else:
            seconds += phase.setup_seconds + phase.epochs * phase.epoch_seconds()
        measured = measured and phase.measured
    return Eta(seconds, measured)


def modelled_batch_seconds(
    batch_size: int, image_size: int, blocks: int, on_features: bool, speed: Speed
) -> float:
    """One training batch by the speed model: `speed` is VGG16's measured forward speed
    (core.runs.speed), the cost is its share of VGG16's work. On cached features only the
    `blocks` that train run, forward and backward; on images every block runs forward and
    the trainable ones backward too. The small dense head is neglected."""
    forward = 1.0 / speed.at_size(image_size)  # seconds per image through all of VGG16
    share = vgg16.compute_share(blocks, image_size)
    per_image = share * (1 + BACKWARD_COST) if on_features else 1 + share * BACKWARD_COST
    return BATCH_OVERHEAD_SECONDS + batch_size * per_image * forward


def modelled_setup_seconds(images: int, image_size: int, blocks: int, speed: Speed) -> float:
    """Extracting the frozen part's features for `images` images (an upper bound: features
    already in the cache cost nothing)."""
    frozen = 1.0 - vgg16.compute_share(blocks, image_size)
    return images * frozen / speed.at_size(image_size)


def batches(images: int, batch_size: int) -> int:
    return math.ceil(images / batch_size)
