"""What a run reports, as frozen dataclasses: its progress, its result, the probe's,
the map's and the learning-rate finder's results.

The worker writes them into the store and the pages, the CLI and the reports read them as
typed values. JSON appears only at the store boundary (`to_json` / `from_json`, called by
core/runs/store.py and for the run folder's result.json); the JSON keys are those the store has
always held, and `from_json` reads old or partial rows (a missing key gives the default).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from core.model.device_facts import DeviceUse
from core.runs.advisor import Advice


def _known(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """The entries of `data` that name a field of `cls` (old rows may hold others)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class Progress:
    """Where a run stands: a stage and a sentence, and during training the phase, the global
    epoch and the batch within it."""

    stage: str = ""  # spectrograms, scanning, extracting, training, evaluating, saving, finished
    message: str = ""
    phase: str | None = None
    phase_index: int | None = None
    phases: int | None = None
    epoch: int | None = None  # global, 1-based, across phases
    epochs: int | None = None
    step: int | None = None
    steps: int | None = None
    eta_seconds: float | None = None  # left in this epoch
    # left in training, all phases, at most (early stopping may end a phase sooner)
    run_eta_seconds: float | None = None
    run_eta_measured: bool | None = None  # False: phases not yet run are estimated

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in (None, "")}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Progress:
        return cls(**_known(cls, data or {}))


@dataclass(frozen=True)
class PerClass:
    name: str  # "class" in JSON
    precision: float
    recall: float
    f1: float
    support: int  # images of this class on the side scored (RunResult.evaluated_on)

    def to_json(self) -> dict[str, Any]:
        return {
            "class": self.name,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PerClass:
        return cls(
            data.get("class", ""),
            data.get("precision", 0.0),
            data.get("recall", 0.0),
            data.get("f1", 0.0),
            data.get("support", 0),
        )


@dataclass(frozen=True)
class WrongImage:
    """A misclassified image of the side scored (RunResult.evaluated_on)."""

    file: str
    true: str  # its class
    predicted: str
    confidence: float  # probability of the predicted class
    true_probability: float

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WrongImage:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class CacheUse:
    hits: int = 0
    misses: int = 0


@dataclass(frozen=True)
class RunResult:
    """A training run's outcome. A run stopped before any epoch has only a `note`.

    The reported score is `test_accuracy`: the held-out test images, never used by training,
    early stopping or checkpoint choice. `val_accuracy` is the chosen (best-validation) model's
    score on the validation images that steered it: optimistic. `per_class`,
    `confusion_matrix` and `most_wrong` describe the side named by `evaluated_on` ("test"; an
    old run, or a split without a test side, has "validation")."""

    val_accuracy: float | None = None
    val_loss: float | None = None
    test_accuracy: float | None = None
    test_loss: float | None = None
    test_images: int | None = None
    test_interval: tuple[float, float] | None = None  # 95% Wilson interval of test_accuracy
    evaluated_on: str = "validation"
    caution: str | None = None  # the test side is too small to tell strategies apart, or absent
    per_class: tuple[PerClass, ...] = ()
    confusion_matrix: tuple[tuple[int, ...], ...] = ()  # rows: true class, columns: predicted
    epochs_run: int | None = None
    train_seconds: float | None = None
    strategy: str = ""
    classes: tuple[str, ...] = ()
    train_images: int | None = None
    validation_images: int | None = None
    weights: str | None = None  # WeightsSpec.label
    pretrained: bool | None = None
    class_weights: dict[int, float] | None = None
    most_wrong: tuple[WrongImage, ...] = ()
    # every misclassified image of the scored side (most confidently wrong first, capped): the
    # map of the data marks them all; most_wrong is its head, shown as pictures
    misclassified: tuple[WrongImage, ...] = ()
    feature_cache: CacheUse | None = None
    note: str | None = None  # why the run ended as it did, when not simply done
    # what the worker measured: devices holding the model, dtype policy, XLA, replicas (None:
    # a run recorded before this was measured)
    device: DeviceUse | None = None

    @property
    def scored(self) -> bool:
        return self.val_accuracy is not None or self.test_accuracy is not None

    @property
    def score(self) -> float | None:
        """The accuracy to report and rank by: test, else (no test side) validation."""
        return self.test_accuracy if self.test_accuracy is not None else self.val_accuracy

    @property
    def score_name(self) -> str:
        return "test accuracy" if self.test_accuracy is not None else "validation accuracy"

    @property
    def score_loss(self) -> float | None:
        return self.test_loss if self.test_accuracy is not None else self.val_loss

    def to_json(self) -> dict[str, Any]:
        out = {
            "val_accuracy": self.val_accuracy,
            "val_loss": self.val_loss,
            "test_accuracy": self.test_accuracy,
            "test_loss": self.test_loss,
            "test_images": self.test_images,
            "test_interval": list(self.test_interval) if self.test_interval else None,
            "evaluated_on": self.evaluated_on,
            "caution": self.caution,
            "per_class": [row.to_json() for row in self.per_class],
            "confusion_matrix": [list(row) for row in self.confusion_matrix],
            "epochs_run": self.epochs_run,
            "train_seconds": self.train_seconds,
            "strategy": self.strategy,
            "classes": list(self.classes),
            "train_images": self.train_images,
            "validation_images": self.validation_images,
            "weights": self.weights,
            "pretrained": self.pretrained,
            "class_weights": self.class_weights,
            "most_wrong": [w.to_json() for w in self.most_wrong],
            "misclassified": [w.to_json() for w in self.misclassified],
            "feature_cache": dataclasses.asdict(self.feature_cache) if self.feature_cache else None,
            "device": self.device.to_json() if self.device else None,
        }
        if self.note is not None:
            out["note"] = self.note
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunResult:
        known = _known(cls, data)
        weights = known.get("class_weights")
        cache = known.get("feature_cache")
        interval = known.get("test_interval")
        return dataclasses.replace(
            cls(**{k: v for k, v in known.items() if k in _PLAIN}),
            per_class=tuple(PerClass.from_json(r) for r in known.get("per_class") or ()),
            confusion_matrix=tuple(tuple(r) for r in known.get("confusion_matrix") or ()),
            classes=tuple(known.get("classes") or ()),
            class_weights={int(k): float(v) for k, v in weights.items()} if weights else None,
            most_wrong=tuple(WrongImage.from_json(w) for w in known.get("most_wrong") or ()),
            misclassified=tuple(WrongImage.from_json(w) for w in known.get("misclassified") or ()),
            feature_cache=CacheUse(**_known(CacheUse, cache)) if cache else None,
            test_interval=(float(interval[0]), float(interval[1])) if interval else None,
            device=DeviceUse.from_json(known.get("device")),
        )


_NESTED = {
    "per_class",
    "confusion_matrix",
    "classes",
    "class_weights",
    "most_wrong",
    "misclassified",
    "test_interval",
    "device",
}
_PLAIN = {f.name for f in dataclasses.fields(RunResult)} - _NESTED - {"feature_cache"}


@dataclass(frozen=True)
class ProbeResult:
    """The advisor's measurement: linear-probe validation accuracy per VGG16 layer, and the
    advice drawn from it and the dataset's size."""

    probe: dict[str, float] = field(default_factory=dict)  # layer -> validation accuracy
    advice: Advice | None = None
    weights: str | None = None  # WeightsSpec.label
    images_per_class: float | None = None
    images_used: int | None = None  # the pictures measured on (a capped, stratified sample)
    images_total: int | None = None  # the dataset's pictures

    def to_json(self) -> dict[str, Any]:
        return {
            "probe": dict(self.probe),
            "advice": self.advice.to_dict() if self.advice else None,
            "weights": self.weights,
            "images_per_class": self.images_per_class,
            "images_used": self.images_used,
            "images_total": self.images_total,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbeResult:
        advice = data.get("advice")
        return cls(
            probe=dict(data.get("probe") or {}),
            advice=Advice(**_known(Advice, advice)) if advice else None,
            weights=data.get("weights"),
            images_per_class=data.get("images_per_class"),
            images_used=data.get("images_used"),
            images_total=data.get("images_total"),
        )


@dataclass(frozen=True)
class MapPoint:
    """One picture on the map of the data: its file (relative to the dataset folder), its
    class when the map was drawn, and its place."""

    rel: str
    label: str
    x: float
    y: float


@dataclass(frozen=True)
class SimilarPair:
    """Two files whose pooled VGG16 features point the same way (cosine similarity)."""

    first: str
    second: str
    similarity: float


@dataclass(frozen=True)
class MapResult:
    """The map of the data (core.train.datamap): every picture placed in 2-D by a projection of its
    pooled VGG16 features, and the pairs of pictures at least `pair_floor` alike."""

    method: str = ""  # "UMAP" | "t-SNE" | "PCA": the projection used
    method_note: str = ""  # why that one (what was installed)
    points: tuple[MapPoint, ...] = ()
    pairs: tuple[SimilarPair, ...] = ()  # most alike first
    pair_floor: float = 0.0  # pairs below this similarity were not kept
    images: str = ""  # the dataset's content fingerprint (datasets.Scan.fingerprint)
    weights: str | None = None  # WeightsSpec.label
    image_size: int | None = None
    from_cache: bool = False  # the projection was already computed (nothing redone)

    def to_json(self) -> dict[str, Any]:
        return {
            "map_method": self.method,
            "method_note": self.method_note,
            "points": [[p.rel, p.label, p.x, p.y] for p in self.points],
            "pairs": [[p.first, p.second, p.similarity] for p in self.pairs],
            "pair_floor": self.pair_floor,
            "images": self.images,
            "weights": self.weights,
            "image_size": self.image_size,
            "from_cache": self.from_cache,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MapResult:
        return cls(
            method=data.get("map_method", ""),
            method_note=data.get("method_note", ""),
            points=tuple(MapPoint(*row) for row in data.get("points") or ()),
            pairs=tuple(SimilarPair(*row) for row in data.get("pairs") or ()),
            pair_floor=data.get("pair_floor", 0.0),
            images=data.get("images", ""),
            weights=data.get("weights"),
            image_size=data.get("image_size"),
            from_cache=bool(data.get("from_cache", False)),
        )


@dataclass(frozen=True)
class LrFindResult:
    """The learning-rate range test of one phase: the rates swept (exponentially, one per
    training step), the loss at each (raw and smoothed), and the suggested rate."""

    strategy: str = ""
    phase: str = ""
    optimizer: str = ""  # strategies.OPTIMIZERS key the sweep used
    current_rate: float | None = None  # the phase's rate in the run's settings when it ran
    learning_rates: tuple[float, ...] = ()
    losses: tuple[float, ...] = ()
    smoothed: tuple[float, ...] = ()
    suggestion: float | None = None  # None: the loss never fell enough to suggest one
    rule: str = ""  # how the suggestion was chosen, in words
    diverged: bool = False  # the sweep ended early because the loss blew up (as it should)
    trained_on: str = ""  # "cached features of block5_pool" or "images"
    note: str | None = None  # why there is no suggestion, or that the sweep was stopped

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("learning_rates", "losses", "smoothed"):
            data[name] = list(data[name])
        return {"lr_find": data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LrFindResult:
        known = _known(cls, data.get("lr_find") or {})
        for name in ("learning_rates", "losses", "smoothed"):
            known[name] = tuple(float(v) for v in known.get(name) or ())
        return cls(**known)


Result = RunResult | ProbeResult | MapResult | LrFindResult


def result_from_json(data: dict[str, Any] | None) -> Result | None:
    """A stored result: none yet ('{}'), the probe's (it has "probe"), a map's (it has
    "map_method"), the learning-rate finder's (it has "lr_find") or a training run's."""
    if not data:
        return None
    if "probe" in data:
        return ProbeResult.from_json(data)
    if "map_method" in data:
        return MapResult.from_json(data)
    if "lr_find" in data:
        return LrFindResult.from_json(data)
    return RunResult.from_json(data)


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch as the store keeps it: its phase, global epoch number (1-based,
    counted across phases) and the metrics logged for it (None: not logged by this phase)."""

    phase: str
    epoch: int
    time: float = 0.0
    loss: float | None = None
    accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    learning_rate: float | None = None
    seconds: float | None = None

    @classmethod
    def from_metric(cls, phase: str, epoch: int, time: float, data: dict[str, Any]) -> EpochRecord:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(phase, epoch, time, **{k: v for k, v in data.items() if k in known})

    def value(self, metric: str) -> float | None:
        """A metric by name (the charts draw several by one loop)."""
        value: float | None = getattr(self, metric)
        return value

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class BatchRecord:
    """One training batch's loss as the store keeps it (core.runs.live.batch_stride says which):
    its phase, global epoch (1-based), batch within the epoch (1-based) of `steps`, and when."""

    phase: str
    epoch: int
    step: int
    steps: int
    loss: float
    time: float = 0.0

    @property
    def number(self) -> int:
        """The batch's number counted across the run, 1-based (every phase has as many
        batches per epoch: one training split, one batch size)."""
        return (self.epoch - 1) * self.steps + self.step

    @property
    def position(self) -> float:
        """Where it sits on an epoch axis: epoch 2's last batch at 2.0, like epoch 2's point."""
        return self.epoch - 1 + self.step / self.steps
