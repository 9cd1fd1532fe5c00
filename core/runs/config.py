"""The settings of one training run: plain data, JSON in and out, checked before queueing."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.model import vgg16
from core.model.device import PRECISIONS
from core.model.weights import NO_WEIGHTS, WeightsSpec
from core.runs import strategies, tasks

# Upper bounds: beyond them a run cannot fit a desktop's memory, and a huge value used to crash
# the worker (a segfault, not an error) before any check could say why.
MAX_IMAGE_SIZE = 512
MAX_BATCH_SIZE = 1024
MAX_EPOCHS = 1000
MAX_SEED = 2**32 - 1  # numpy's and Keras' seeds are unsigned 32-bit


@dataclass(frozen=True)
class Bounds:
    """The whole numbers a setting may take: what RunConfig.problems checks, and the range of
    every widget and flag that sets it."""

    name: str  # the RunConfig field
    shown: str  # how a message names it
    low: int
    high: int | None  # None: no upper bound
    unit: str = ""  # after a number in a message (" px")
    too_low: str = ""  # the whole message when below `low` ("": "<shown> must be at least ...")


BOUNDS: dict[str, Bounds] = {
    b.name: b
    for b in (
        Bounds(
            "image_size",
            "image size",
            vgg16.MIN_IMAGE_SIZE,
            MAX_IMAGE_SIZE,
            " px",
            f"image size must be at least {vgg16.MIN_IMAGE_SIZE} px (VGG16's minimum)",
        ),
        Bounds("batch_size", "batch size", 1, MAX_BATCH_SIZE),
        Bounds("epochs", "epochs", 1, MAX_EPOCHS),
        Bounds("finetune_epochs", "finetune epochs", 1, MAX_EPOCHS),
        Bounds("unfreeze_blocks", "blocks to unfreeze", 1, len(vgg16.BLOCKS)),
        Bounds("early_stopping_patience", "early-stopping patience", 1, MAX_EPOCHS, " epochs"),
        Bounds("seed", "seed", 0, MAX_SEED),
        Bounds(
            "probe_max_per_class",
            "pictures per class to measure on",
            2,
            None,
            too_low="a measurement needs at least 2 pictures per class (1 to validate)",
        ),
    )
}


@dataclass
class RunConfig:
    dataset: str
    val_dir: str | None = None
    strategy: str = strategies.DEFAULT_STRATEGY
    layer: str = vgg16.BOTTLENECK_LAYER  # `linear` only: which pooled layer feeds the classifier
    unfreeze_blocks: int = 1  # `finetune` only: top blocks retrained in phase 2
    image_size: int = vgg16.DEFAULT_IMAGE_SIZE
    epochs: int = 10  # head phase (or the only phase)
    # 5, not 10: a fine-tuning epoch runs all of VGG16 forwards and backwards (no feature cache,
    # the top blocks change), several times the cost of a head epoch on cached features, and it
    # starts from a head already trained in phase 1 at a small learning rate; 5 keeps a default
    # run on the sample within minutes on a CPU (the Train page always offered 5).
    finetune_epochs: int = 5
    batch_size: int = 32
    augment: bool = False
    augment_kind: str = "image"  # "image" (flip/rotate/zoom/shift) or "spectrogram" (masking)
    weights: str = "imagenet"  # WeightsSpec.setting text; read it as `weights_spec`
    seed: int = 0
    # shares of a single folder (or of train/ for a side the layout lacks): 70 / 15 / 15.
    # Validation steers early stopping and checkpoints; test is scored once, at the end.
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    learning_rates: dict[str, float] = field(default_factory=dict)  # phase name -> override
    # phase name -> "sgd" | "adam" | "rmsprop" (strategies.OPTIMIZERS), overriding the table's
    optimizers: dict[str, str] = field(default_factory=dict)
    early_stopping_patience: int = 5
    reduce_lr_patience: int = 2
    manifest: dict[str, Any] | None = None  # a saved split to reuse (compare runs on equal terms)
    # the dataset's fixes (core.data.overlay edits, as JSON) frozen when the run was queued, so a
    # relabel made while it waits never changes it and a Ray node (which has no overlay of
    # its own) trains on them; None: not frozen, the run reads the overlay when it starts
    edits: list[dict[str, Any]] | None = None
    label: str = ""  # free text shown in tables
    # SpectrogramSettings fields, for audio datasets (None: defaults)
    audio: dict[str, Any] | None = None
    # a key of core.runs.tasks.TASKS: "train"; "probe": the advisor's linear probe on
    # block3/4/5 features; "map": the map of the data and its near-duplicates
    # (core.train.datamap); "lr_find": the learning-rate range test of the strategy's first
    # Keras phase (core/train/lr_finder.py)
    task: str = tasks.TRAIN
    # "probe" only: pictures per class it measures on (a stratified sample). 60 ranks the three
    # depths reliably and keeps a 5-class measurement to ~300 pictures: about half a minute of
    # feature extraction on 2 CPU cores at 150 px.
    probe_max_per_class: int = 60
    # compute dtype: "auto" = bfloat16 where the CPU/GPU runs it natively (float16 on 7.x GPUs),
    # else float32; "float32" always works. Heads and losses stay float32 either way.
    precision: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def default(cls, name: str) -> Any:
        """The default of one setting: the single source the CLI's flags and the pages' widgets
        read theirs from (per-strategy values, like learning rates, live in
        core.runs.strategies)."""
        found = {f.name: f for f in dataclasses.fields(cls)}.get(name)
        if found is None:
            raise KeyError(f"RunConfig has no setting {name!r}")
        if found.default is not dataclasses.MISSING:
            return found.default
        if found.default_factory is not dataclasses.MISSING:
            return found.default_factory()
        raise KeyError(f"RunConfig.{name} has no default: it must always be given")

    @classmethod
    def bounds(cls, name: str) -> Bounds:
        """The range of a whole-number setting (KeyError: the setting has none)."""
        return BOUNDS[name]

    @property
    def strategy_spec(self) -> strategies.Strategy:
        return strategies.get(self.strategy)

    @property
    def task_spec(self) -> tasks.Task:
        return tasks.get(self.task)

    @property
    def weights_spec(self) -> WeightsSpec:
        return WeightsSpec.parse(self.weights)

    def optimizer_for(self, phase: strategies.Phase) -> strategies.OptimizerSetting:
        """The phase's optimizer, learning rate and momentum with this run's overrides."""
        return phase.optimizer_setting(self.optimizers, self.learning_rates)

    def weights_for_run(self) -> WeightsSpec:
        """A strategy that starts from random weights ignores the weights setting."""
        return self.weights_spec if self.strategy_spec.pretrained else NO_WEIGHTS

    def problems(self) -> list[str]:
        """Everything wrong with these settings, as sentences for the user (empty: fine)."""
        out = []
        if self.strategy not in strategies.STRATEGIES:
            out.append(
                f"unknown strategy '{self.strategy}' (choose {', '.join(strategies.STRATEGIES)})"
            )
        out += _bound_problems(self)
        if self.layer not in vgg16.FEATURE_LAYERS:
            out.append(f"layer must be one of {', '.join(vgg16.FEATURE_LAYERS)}")
        out += _fraction_problems(self)
        if self.precision not in PRECISIONS:
            out.append(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if any(not _is_number(lr) or not 0 < lr < math.inf for lr in self.learning_rates.values()):
            out.append("learning rates must be positive numbers")
        out += _optimizer_problems(self.optimizers)
        if self.task not in tasks.TASKS:
            out.append(f"task must be one of {', '.join(tasks.TASKS)}, not {self.task!r}")
        elif self.task == tasks.LR_FIND and self.strategy in strategies.STRATEGIES:
            if self.strategy_spec.closed_form:
                out.append(
                    f"the {self.strategy_spec.title.lower()} fits in closed form: it has no "
                    "learning rate to find (choose a strategy trained by Keras)"
                )
        if weights_problem := self.weights_spec.problem():
            out.append(weights_problem)
        if not Path(self.dataset).expanduser().is_dir():
            out.append(f"dataset folder not found: {self.dataset}")
        return out


def _fraction_problems(config: RunConfig) -> list[str]:
    val, test = config.val_fraction, config.test_fraction
    if not _is_number(val) or not 0.0 < val < 1.0:
        return ["validation fraction must be between 0 and 1"]
    if not _is_number(test) or not 0.0 <= test < 1.0:
        return ["test fraction must be at least 0 and below 1 (0: no test side)"]
    if val + test >= 1.0:
        return [
            f"validation ({val:g}) and test ({test:g}) fractions must add up to less than 1, "
            "to leave images to train on"
        ]
    return []


def _optimizer_problems(optimizers: dict[str, Any]) -> list[str]:
    """Each override names a known optimizer (JSON or a typo may bring anything)."""
    known = ", ".join(strategies.OPTIMIZERS)
    return [
        f"the optimizer of phase '{phase}' must be one of {known}, not {name!r}"
        for phase, name in optimizers.items()
        if name not in strategies.OPTIMIZERS
    ]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _bound_problems(config: RunConfig) -> list[str]:
    """Whole numbers within their bounds (JSON or a typo may bring a string or 1e9)."""
    out = []
    for b in BOUNDS.values():
        value = getattr(config, b.name)
        if not isinstance(value, int) or isinstance(value, bool):
            out.append(f"{b.shown} must be a whole number, got {value!r}")
        elif value < b.low:
            out.append(b.too_low or f"{b.shown} must be at least {b.low}{b.unit}")
        elif b.high is not None and value > b.high:
            out.append(f"{b.shown} must be at most {b.high}{b.unit}, got {value}{b.unit}")
    return out
