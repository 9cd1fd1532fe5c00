"""The strategy advisor: the size x similarity matrix (as data) and the measurement behind it.

Size comes from images per class. Similarity is measured, not asked: a linear probe (scaled
logistic regression) on global-average-pooled block3/block4/block5 features. When VGG16's top
features separate the classes better than earlier ones, the data is "similar" to ImageNet;
when earlier layers do as well or better, it is "different" and the generic lower features
are the ones to use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from core.data.datasets import Item, Split
from core.model import vgg16

LARGE_PER_CLASS = 1000  # images per class from which a dataset counts as "large"
TOP_LAYER = vgg16.BOTTLENECK_LAYER
EARLIER_LAYERS = ("block3_pool", "block4_pool")


@dataclass(frozen=True)
class Cell:
    size: str  # "small" | "large"
    similarity: str  # "similar" | "different"
    strategy: str
    layer: str | None  # "best-earlier": the probe's best earlier layer
    unfreeze_blocks: int | None
    why: str


MATRIX: tuple[Cell, ...] = (
    Cell(
        "small",
        "similar",
        "linear",
        TOP_LAYER,
        None,
        "Few images, and VGG16's top features already tell your classes apart: a linear "
        "classifier on those features is accurate and cannot overfit much.",
    ),
    Cell(
        "large",
        "similar",
        "finetune",
        None,
        1,
        "Plenty of images that resemble everyday photos: fine-tuning the top block adapts "
        "the features without the risk of overfitting.",
    ),
    Cell(
        "small",
        "different",
        "linear",
        "best-earlier",
        None,
        "Few images that look unlike everyday photos: VGG16's top features are too "
        "specialised, so a linear classifier on earlier, more generic features works best.",
    ),
    Cell(
        "large",
        "different",
        "full",
        None,
        5,
        "Plenty of images that look unlike everyday photos: retrain every layer, starting "
        "from the pretrained weights rather than from random ones.",
    ),
)


@dataclass(frozen=True)
class Advice:
    size: str
    similarity: str
    images_per_class: float
    probe: dict[str, float]
    strategy: str
    layer: str | None
    unfreeze_blocks: int | None
    why: str
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def size_of(images_per_class: float) -> str:
    return "large" if images_per_class >= LARGE_PER_CLASS else "small"


def similarity_of(probe: dict[str, float]) -> str:
    best_earlier = max(probe[layer] for layer in EARLIER_LAYERS)
    return "similar" if probe[TOP_LAYER] > best_earlier else "different"


def cell(size: str, similarity: str) -> Cell:
    return next(c for c in MATRIX if c.size == size and c.similarity == similarity)


def advise(images_per_class: float, probe: dict[str, float]) -> Advice:
    size, similarity = size_of(images_per_class), similarity_of(probe)
    chosen = cell(size, similarity)
    layer = chosen.layer
    if layer == "best-earlier":
        layer = max(EARLIER_LAYERS, key=lambda name: (probe[name], name))
    numbers = ", ".join(f"{name} {acc:.0%}" for name, acc in probe.items())
    evidence = (
        f"{images_per_class:.0f} images per class ({size}: the line is "
        f"{LARGE_PER_CLASS}); linear-probe validation accuracy: {numbers} ({similarity})"
    )
    return Advice(
        size,
        similarity,
        images_per_class,
        dict(probe),
        chosen.strategy,
        layer,
        chosen.unfreeze_blocks,
        chosen.why,
        evidence,
    )


def probe_images(counts: Mapping[str, int], max_per_class: int) -> int:
    """How many pictures a measurement uses: every class's, up to `max_per_class` each."""
    return sum(min(n, max_per_class) for n in counts.values())


def probe_sample(split: Split, max_per_class: int, seed: int = 0) -> Split:
    """The split a measurement fits on: at most `max_per_class` pictures of each class, drawn
    (seeded) from each side of `split` in its own proportion, so the sample stays stratified
    and no validation picture moves into training. A few dozen pictures per class rank the
    three depths as well as thousands, in a fraction of the time."""
    rng = np.random.default_rng(seed)
    train: list[Item] = []
    validation: list[Item] = []
    for name in split.classes:
        sides = [[i for i in side if i.label == name] for side in (split.train, split.validation)]
        total = len(sides[0]) + len(sides[1])
        if total <= max_per_class:
            keep = [len(sides[0]), len(sides[1])]
        else:
            n_val = min(len(sides[1]), max(1, round(max_per_class * len(sides[1]) / total)))
            keep = [min(len(sides[0]), max_per_class - n_val), n_val]
        for side, n, out in zip(sides, keep, (train, validation), strict=True):
            chosen = sorted(rng.choice(len(side), size=n, replace=False)) if n < len(side) else None
            out += side if chosen is None else [side[k] for k in chosen]
    return replace(split, train=train, validation=validation)


@dataclass
class LinearFit:
    coef: np.ndarray
    intercept: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    train_accuracy: float
    train_loss: float
    val_accuracy: float
    val_loss: float
    val_probabilities: np.ndarray
    # the fitted scaler + classifier, for images held out of the fit (the test side)
    probabilities: Callable[[np.ndarray], np.ndarray] | None = None


def fit_linear(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    num_classes: int,
    balanced: bool = False,
    seed: int = 0,
) -> LinearFit:
    """Standardise, then multinomial logistic regression (scikit-learn)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.preprocessing import StandardScaler

    from core.model.metrics import log_loss

    scaler = StandardScaler().fit(x_train)
    classifier = LogisticRegression(
        max_iter=2000, C=1.0, random_state=seed, class_weight="balanced" if balanced else None
    )
    classifier.fit(scaler.transform(x_train), y_train)

    def probabilities(x: np.ndarray) -> np.ndarray:
        """Columns for every class, also those absent from the training split."""
        out = np.zeros((len(x), num_classes))
        out[:, classifier.classes_] = classifier.predict_proba(scaler.transform(x))
        return out

    p_train, p_val = probabilities(x_train), probabilities(x_val)

    coef, intercept = classifier.coef_, classifier.intercept_
    if len(classifier.classes_) != num_classes and num_classes > 2:
        raise ValueError("every class needs training images for the linear strategy")
    return LinearFit(
        coef,
        intercept,
        scaler.mean_,
        scaler.scale_,  # sklearn already maps zero scales to 1
        float(accuracy_score(y_train, p_train.argmax(1))),
        log_loss(y_train, p_train, num_classes),
        float(accuracy_score(y_val, p_val.argmax(1))),
        log_loss(y_val, p_val, num_classes),
        p_val,
        probabilities,
    )
