"""The phases of a dense-head strategy, one after another: each trains the layers the strategy
table names, reports into the store, and can be stopped, diverge or be resumed.

Without augmentation, a phase whose lower blocks are frozen trains a "top model" on cached
outputs of the last frozen layer instead of pushing every image through the frozen blocks
every epoch: same mathematics (VGG16 has no batch norm and the frozen part is deterministic),
a fraction of the compute.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.data import balance
from core.data.datasets import TRAIN, VALIDATION
from core.model import device, vgg16
from core.runs import live, speed, strategies
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.runfiles import tensorboard_dir
from core.train.context import Context
from core.train.extraction import extract, image_batches
from core.train.features import ExtractionStopped
from core.train.resume import START, ResumePoint, ResumeState

if TYPE_CHECKING:  # imports Keras
    from core.train.callbacks import ReportToStore

STOPPED, DIVERGED = "stopped", "diverged"  # FitInterrupted reasons


@dataclass(frozen=True)
class PhasePlan:
    index: int
    phase: strategies.Phase
    blocks: int  # VGG16 blocks that train with the head
    epochs: int


def plan(config: RunConfig) -> tuple[PhasePlan, ...]:
    """Each phase of the run's strategy with its unfrozen blocks and epochs."""
    return tuple(
        PhasePlan(i, p, p.blocks(config.unfreeze_blocks), getattr(config, p.epochs_setting))
        for i, p in enumerate(config.strategy_spec.phases)
    )


@dataclass(frozen=True)
class Network:
    """The Keras objects a dense-head run trains; `inference` (base + head) is what is saved."""

    base: Any
    head: Any
    inference: Any


@dataclass(frozen=True)
class PhaseStart:
    first_epoch: int  # epochs of this phase already finished (a resumed run)
    epoch_offset: int  # epochs of the run before this phase
    total_epochs: int  # of the whole run


@dataclass(frozen=True)
class PhasesOutcome:
    status: str  # store DONE, STOPPED or DIVERGED
    epochs_run: int
    deepest: int  # the most blocks any phase reached so far unfroze


def run_phases(ctx: Context, net: Network, resume: bool) -> PhasesOutcome:
    """Every phase of the plan from the resume point; after a stop or divergence the last
    finished epoch's weights are restored (never a partial epoch's) and later phases skipped."""
    plans = plan(ctx.config)
    state = ResumeState(ctx.folder)
    initial_weights = net.inference.get_weights()
    start = state.resume(net.inference) if resume else START
    total = sum(p.epochs for p in plans)
    done, deepest = start.global_epochs, 0
    for p in plans:
        deepest = max(deepest, p.blocks)
        if p.index < start.phase_index:
            continue
        first = start.epochs_done if p.index == start.phase_index else 0
        finished, interrupted = train_phase(
            ctx, net, p, PhaseStart(first, done - first, total), state
        )
        done += finished
        if interrupted is not None:
            state.restore(net.inference, initial_weights)
            status = store_mod.STOPPED if interrupted == STOPPED else store_mod.DIVERGED
            return PhasesOutcome(status, done, deepest)
        state.save(net.inference, ResumePoint(p.index + 1, 0, done))  # the phase's best weights
    return PhasesOutcome(store_mod.DONE, done, deepest)


def train_phase(
    ctx: Context, net: Network, p: PhasePlan, start: PhaseStart, state: ResumeState
) -> tuple[int, str | None]:
    """Train one phase from start.first_epoch; returns (epochs finished in this call,
    None | STOPPED | DIVERGED)."""
    from core.model import models
    from core.train.callbacks import FitInterrupted

    models.set_trainable(net.base, p.blocks)
    try:
        trainer = _trainer(ctx, net, p)
    except ExtractionStopped:
        return 0, STOPPED
    compile_phase(ctx, trainer.model, p.phase)
    steps = math.ceil(len(ctx.split.train) / ctx.config.batch_size)
    reporter = _reporter(ctx, net, p, start, steps, state)
    ctx.progress(
        "training",
        f"phase {p.index + 1}: {p.phase.name}",
        phase=p.phase.name,
        phase_index=p.index,
        epoch=start.epoch_offset + start.first_epoch + 1,
        epochs=start.total_epochs,
        step=0,
        steps=steps,
    )
    try:
        trainer.fit(
            epochs=p.epochs,
            initial_epoch=start.first_epoch,
            callbacks=[reporter, *_keras_callbacks(ctx, p.phase)],
            verbose=0,
            class_weight=balance.class_weight(ctx.split),
        )
    except FitInterrupted as interrupted:
        return reporter.epochs_finished, interrupted.reason
    return reporter.epochs_finished, None


@dataclass(frozen=True)
class _Trainer:
    model: Any
    fit: Callable[..., Any]  # model.fit bound to this phase's training and validation data


def _trainer(ctx: Context, net: Network, p: PhasePlan) -> _Trainer:
    """On cached features of the last frozen layer when it can, else on the images."""
    cut = None if ctx.config.augment else vgg16.frozen_cut_layer(p.blocks)
    if cut is None:
        return _image_trainer(ctx, net, p.phase)
    return _cached_trainer(ctx, net, cut)


def _cached_trainer(ctx: Context, net: Network, cut: str) -> _Trainer:
    from core.model import models

    table = extract(ctx, net.base, [(cut, "map")])
    model = models.top_model(net.base, cut, net.head)
    output, batch_size = (cut, "map"), ctx.config.batch_size
    # read batch by batch from the memory-mapped cache: a split's features never all in memory
    train_data = table.batches(
        output, ctx.split.train, batch_size, targets(ctx, TRAIN), ctx.config.seed
    )
    val_data = table.batches(output, ctx.split.validation, batch_size, targets(ctx, VALIDATION))

    def fit(**kwargs: Any) -> Any:  # Keras' History
        return model.fit(train_data, validation_data=val_data, shuffle=False, **kwargs)

    return _Trainer(model, fit)


def _image_trainer(ctx: Context, net: Network, phase: strategies.Phase) -> _Trainer:
    from core.model import models

    cfg = ctx.config
    augment = models.image_augmentation(cfg.augment_kind, cfg.seed) if cfg.augment else None
    model = models.image_model(net.base, net.head, augment=augment, name=f"train_{phase.name}")

    def fit(**kwargs: Any) -> Any:  # images decoded once; augmentation: on tensors, in the model
        train_data = image_batches(ctx, ctx.split.train, targets(ctx, TRAIN), cfg.seed)
        val_data = image_batches(ctx, ctx.split.validation, targets(ctx, VALIDATION))
        return model.fit(train_data, validation_data=val_data, shuffle=False, **kwargs)

    return _Trainer(model, fit)


def compile_phase(ctx: Context, model: Any, phase: strategies.Phase) -> None:
    """Loss, accuracy and the phase's optimizer (the strategy table's or the run's override)."""
    from core.model import models

    chosen = ctx.config.optimizer_for(phase)  # the table's, or the run's override
    model.compile(
        optimizer=models.optimizer(chosen.name, chosen.learning_rate, chosen.momentum),
        loss=models.loss_for(ctx.num_classes),
        metrics=["accuracy"],
        jit_compile=device.current_plan().jit_compile,
    )


def _reporter(
    ctx: Context, net: Network, p: PhasePlan, start: PhaseStart, steps: int, state: ResumeState
) -> ReportToStore:
    """Progress, stop and divergence checks, epoch metrics; saves resume state per epoch."""
    from core.train.callbacks import ReportToStore

    def saved(epochs_done: int) -> None:
        point = ResumePoint(p.index, epochs_done, start.epoch_offset + epochs_done)
        state.save(net.inference, point)

    return ReportToStore(
        ctx.store,
        ctx.run_id,
        p.phase.name,
        p.index,
        len(ctx.config.strategy_spec.phases),
        start.epoch_offset,
        start.total_epochs,
        steps,
        on_epoch_saved=saved,
        timings=timings(ctx),
        batch_size=ctx.config.batch_size,
        images=len(ctx.split.train),
    )


def timings(ctx: Context) -> tuple[live.PhaseTiming, ...]:
    """Every phase of the run as the whole-run ETA first sees it: its batches and what the
    speed model (VGG16's measured speed on this machine, core.runs.speed) says they cost."""
    cfg = ctx.config
    measured = speed.measured(ctx.store.home, device.active_precision())
    train, validation = len(ctx.split.train), len(ctx.split.validation)
    out = []
    for p in plan(cfg):
        on_features = not cfg.augment and vgg16.frozen_cut_layer(p.blocks) is not None
        setup = live.modelled_setup_seconds(train + validation, cfg.image_size, p.blocks, measured)
        out.append(
            live.PhaseTiming(
                epochs=p.epochs,
                steps=live.batches(train, cfg.batch_size),
                validation_steps=live.batches(validation, cfg.batch_size),
                modelled_batch_seconds=live.modelled_batch_seconds(
                    cfg.batch_size, cfg.image_size, p.blocks, on_features, measured
                ),
                setup_seconds=setup if on_features else 0.0,
            )
        )
    return tuple(out)


def _keras_callbacks(ctx: Context, phase: strategies.Phase) -> list[Any]:  # Keras callbacks
    """NaN guard, best-epoch checkpoint, learning-rate decay, early stopping, TensorBoard."""
    import keras

    from core.train.callbacks import SaveBestWeights

    cfg = ctx.config
    best_path = ctx.folder / "checkpoints" / f"best-{phase.name}.weights.h5"
    best_path.parent.mkdir(parents=True, exist_ok=True)
    return [
        keras.callbacks.TerminateOnNaN(),
        SaveBestWeights(best_path, monitor="val_loss"),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, min_lr=1e-7, patience=cfg.reduce_lr_patience
        ),
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=cfg.early_stopping_patience, restore_best_weights=True
        ),
        keras.callbacks.TensorBoard(tensorboard_dir(ctx.folder) / phase.name, write_graph=False),
    ]


def targets(ctx: Context, split: str) -> np.ndarray:
    """Labels as the loss wants them: a float column for two classes, else integer classes."""
    y = ctx.split.labels(split)
    return y.astype("float32").reshape(-1, 1) if ctx.num_classes == 2 else y
