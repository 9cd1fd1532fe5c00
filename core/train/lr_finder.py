"""The learning-rate range test: train a phase's model for a few hundred steps while the
learning rate grows exponentially from tiny to huge, record the loss at every step, and read a
good starting rate off the curve (Leslie Smith's range test, as fastai popularised it).

The sweep covers the strategy's first Keras phase (the head of head/finetune/full, the whole
network of scratch), with the optimizer the run's settings choose for it. A head phase sweeps
on cached features of the last frozen layer (extracted once, through the run's feature cache),
so a test costs seconds after the first extraction. Augmentation is left out: the test asks
how the loss responds to the rate, and random transforms would only add noise to that answer.
Nothing is kept but the curve: the worker builds the network for this task alone and saves
no model.

Pure functions (the sweep, the smoothing, the divergence check, the suggestion) are separate
from the Keras loop, so the rules are tested on synthetic curves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.data import balance
from core.data.datasets import TRAIN
from core.model import vgg16
from core.runs import live
from core.runs import store as store_mod
from core.runs.results import LrFindResult
from core.train.context import Context

if TYPE_CHECKING:  # both import Keras: the pages use this module's pure part
    from core.train.batches import ArrayRows
    from core.train.phases import Network

START_RATE = 1e-7
END_RATE = 1.0
STEPS = 200  # the data is cycled when it has fewer batches than this
SMOOTHING = 0.98  # the loss's exponential moving average: each step weighs 2%
DIVERGENCE = 4.0  # the sweep ends once the smoothed loss exceeds this many times its best
SETTLE = 5  # steps before divergence is judged: the average of a few batches swings widely
# The suggestion: the "valley" rule (the fastai library's default). Steepest descent was
# tried first and dropped: on 849 emoji at batch 32 the loss falls slowly over three decades,
# step-to-step slopes are batch noise, and it picked rates near 1e-6; the moving average also
# lags, which moves any slope-based answer late. The valley rule reads the long shape instead.
MIN_FALL = 10  # a falling chain shorter than this is noise, not a valley
PROGRESS_SECONDS = 0.25  # how often the store hears of the sweep (and is asked about a stop)
# The rule, stated once: the pages and the CLI show these words.
RULE = (
    "the valley rule: in the longest run of steps along which the smoothed loss keeps "
    "falling (N steps, ending at rate E), the rate N/2 steps before E, low in the valley "
    "where the loss still falls well"
)


def sweep_rates(start: float = START_RATE, end: float = END_RATE, steps: int = STEPS) -> np.ndarray:
    """`steps` rates from `start` to `end`, each the previous times one constant factor."""
    if not 0 < start < end or steps < 2:
        raise ValueError("a sweep needs 0 < start < end and at least 2 steps")
    return np.geomspace(start, end, steps)


class SmoothedLoss:
    """The loss's bias-corrected moving average (core.runs.live.MovingAverage), its best value so
    far and the divergence test."""

    def __init__(self, beta: float = SMOOTHING, divergence: float = DIVERGENCE):
        self.beta, self.divergence = beta, divergence
        self._average = live.MovingAverage(beta)
        self.best = math.inf
        self.latest = 0.0

    @property
    def steps(self) -> int:
        return self._average.steps

    def add(self, loss: float) -> float:
        smoothed = self._average.add(loss)
        self.best = min(self.best, smoothed)
        self.latest = smoothed
        return smoothed

    @property
    def diverged(self) -> bool:
        """The loss blew up: not finite, or past `divergence` times its best (after warm-up)."""
        if not math.isfinite(self.latest):
            return True
        return self.steps > SETTLE and self.latest > self.divergence * self.best


def smooth(losses: Sequence[float], beta: float = SMOOTHING) -> np.ndarray:
    return np.array(live.smoothed(losses, beta))


@dataclass(frozen=True)
class Suggestion:
    rate: float | None
    note: str | None = None  # why there is none


def suggest(rates: Sequence[float], smoothed: Sequence[float]) -> Suggestion:
    """The suggested rate by RULE (None, with the reason, when the curve cannot give one)."""
    if len(rates) < 2 * MIN_FALL:
        return Suggestion(None, f"the sweep ended after {len(rates)} steps: too soon to tell")
    end, steps = _longest_fall(np.asarray(smoothed, float))
    if steps < MIN_FALL:
        return Suggestion(
            None,
            "the loss never fell for long during the sweep: check the data, or try another "
            "optimizer",
        )
    return Suggestion(float(rates[max(end - steps // 2, 0)]))


def _longest_fall(values: np.ndarray) -> tuple[int, int]:
    """(where it ends, how many steps it holds) of the longest chain of steps whose values
    keep falling (each below every earlier one of the chain; steps in between may be
    skipped): a longest decreasing subsequence."""
    length = np.ones(len(values), dtype=int)
    for k in range(1, len(values)):
        higher = values[:k] > values[k]
        if higher.any():
            length[k] = length[:k][higher].max() + 1
    end = int(np.argmax(length))
    return end, int(length[end])


@dataclass
class _Sweep:
    rates: list[float]
    losses: list[float]
    smoothed: list[float]
    diverged: bool = False
    stopped: bool = False


# -- the Keras part (the worker only) -------------------------------------------------------
def run_lr_find(ctx: Context, net: Network) -> tuple[LrFindResult, str]:
    """The range test of the strategy's first Keras phase on `net` (core.train.phases.Network, its
    head adapted); returns the result and the run's final status."""
    from core.model import models
    from core.train import phases

    phase = ctx.config.strategy_spec.keras_phases[0]
    blocks = phase.blocks(ctx.config.unfreeze_blocks)
    models.set_trainable(net.base, blocks)
    model, data, trained_on = _model_and_batches(ctx, net, blocks)
    phases.compile_phase(ctx, model, phase)
    sweep = _sweep(ctx, model, data, phase.name)
    suggestion = suggest(sweep.rates, sweep.smoothed)
    note = "stopped before the sweep ended" if sweep.stopped else suggestion.note
    chosen = ctx.config.optimizer_for(phase)
    result = LrFindResult(
        strategy=ctx.config.strategy,
        phase=phase.name,
        optimizer=chosen.name,
        current_rate=chosen.learning_rate,
        learning_rates=tuple(sweep.rates),
        losses=tuple(sweep.losses),
        smoothed=tuple(sweep.smoothed),
        suggestion=_two_digits(suggestion.rate),
        rule=RULE,
        diverged=sweep.diverged,
        trained_on=trained_on,
        note=note,
    )
    return result, store_mod.STOPPED if sweep.stopped else store_mod.DONE


def _two_digits(rate: float | None) -> float | None:
    """2.3e-03, not 0.0023174...: the curve is not precise beyond that, and a person reads it."""
    return None if rate is None else float(f"{rate:.2g}")


def _model_and_batches(
    ctx: Context, net: Network, blocks: int
) -> tuple[Any, ArrayRows, str]:  # (Keras model, its batches, what it trains on)
    """The phase's trainable model and its shuffled training batches: on cached features of
    the last frozen layer when there is one, else on the (decoded, cached) images."""
    from core.model import models
    from core.train.extraction import extract, image_batches
    from core.train.phases import targets

    cfg, labels = ctx.config, targets(ctx, TRAIN)
    cut = vgg16.frozen_cut_layer(blocks)
    if cut is None:
        model = models.image_model(net.base, net.head, name="lr_find")
        data = image_batches(ctx, ctx.split.train, labels, cfg.seed)
        return model, data, "images"
    table = extract(ctx, net.base, [(cut, "map")])
    model = models.top_model(net.base, cut, net.head)
    data = table.batches((cut, "map"), ctx.split.train, cfg.batch_size, labels, cfg.seed)
    return model, data, f"cached features of {cut}"


def _sweep(ctx: Context, model: Any, data: ArrayRows, phase: str) -> _Sweep:
    """One training step per rate, cycling (and reshuffling) the batches; ends early when the
    loss diverges or a stop is asked for."""
    rates = sweep_rates()
    class_weight = balance.class_weight(ctx.split)
    averager, sweep = SmoothedLoss(), _Sweep([], [], [])
    last_report = 0.0
    for step, rate in enumerate(rates):
        if step and step % len(data) == 0:
            data.on_epoch_end()  # a new pass: a new order
        x, y = data[step % len(data)]
        model.optimizer.learning_rate = float(rate)
        logs = model.train_on_batch(x, y, class_weight=class_weight, return_dict=True)
        loss = float(logs["loss"])
        smoothed = averager.add(loss)
        if math.isfinite(smoothed):
            sweep.rates.append(float(rate))
            sweep.losses.append(loss)
            sweep.smoothed.append(smoothed)
        if averager.diverged:
            sweep.diverged = True
            break
        now = time.monotonic()
        if now - last_report >= PROGRESS_SECONDS or step == len(rates) - 1:
            last_report = now
            if ctx.should_stop():
                sweep.stopped = True
                break
            ctx.progress(
                "finding",
                f"learning-rate range test: rate {rate:.1e}",
                phase=phase,
                step=step + 1,
                steps=len(rates),
            )
    return sweep
