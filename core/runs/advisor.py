"""The strategy advisor: the size x similarity matrix (as data) and the measurement behind it.

Size comes from images per class. Similarity is measured, not asked: a linear probe (scaled
logistic regression) on global-average-pooled block3/block4/block5 features, scored by
repeated stratified cross-validation on the measured sample (every layer on the same folds).
When VGG16's top features separate the classes better than earlier ones by more than the
measurement's noise, the data is "similar" to ImageNet; when an earlier layer does better by
more than the noise, it is "different" and the generic lower features are the ones to use.
Within the noise the measurement cannot tell ("unclear"): the advice is then the simpler,
cheaper choice, and says what would settle it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from core.data.datasets import Item, Split
from core.model import vgg16

LARGE_PER_CLASS = 1000  # images per class from which a dataset counts as "large"
TOP_LAYER = vgg16.BOTTLENECK_LAYER
EARLIER_LAYERS = ("block3_pool", "block4_pool")
UNCLEAR = "unclear"  # the layers' difference is inside the measurement's noise
CV_FOLDS = 5  # stratified folds of the measured sample (fewer when a class has fewer pictures)
CV_REPEATS = 3  # ... drawn this many times: 15 logistic fits per layer, on cached features
CONFIDENCE = 0.95
LOGISTIC_C = 1.0  # inverse strength of the L2 penalty of every linear fit (scikit-learn's C)


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
    similarity: str  # "similar" | "different" | UNCLEAR (inside the noise)
    images_per_class: float
    probe: dict[str, float]  # layer -> mean accuracy over the folds
    strategy: str
    layer: str | None
    unfreeze_blocks: int | None
    why: str
    evidence: str
    intervals: dict[str, list[float]] = field(default_factory=dict)  # layer -> [low, high]
    settle: str = ""  # what would settle an unclear measurement

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Noise:
    """Fold scores of the probe: per layer one accuracy per fold, every layer on the same
    folds (so differences can be paired), and the folds' held-out share of the sample."""

    scores: dict[str, list[float]]
    test_share: float  # 1/k for k folds: the Nadeau-Bengio correction needs it
    per_class: int  # pictures per class measured (the smallest class's)
    cap: int | None = None  # the measurement's pictures-per-class cap (probe_max_per_class)


def corrected_interval(scores: Sequence[float], test_share: float) -> tuple[float, float, float]:
    """(mean, low, high) of repeated cross-validation scores at CONFIDENCE. The folds share
    most of their training pictures, so their spread understates the noise: the variance is
    corrected as Nadeau and Bengio (2003) show, (1/J + n_test/n_train) s^2, with Student's t."""
    from scipy import stats

    values = np.asarray(scores, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, -math.inf, math.inf
    variance = (1 / len(values) + test_share / (1 - test_share)) * float(values.var(ddof=1))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(values) - 1)) * math.sqrt(variance)
    return mean, mean - half, mean + half


def size_of(images_per_class: float) -> str:
    return "large" if images_per_class >= LARGE_PER_CLASS else "small"


def best_earlier_layer(probe: Mapping[str, float]) -> str:
    return max(EARLIER_LAYERS, key=lambda name: (probe[name], name))


def similarity_of(probe: dict[str, float], noise: Noise | None = None) -> str:
    """ "similar" when the top layer beats the best earlier one, "different" when it does
    not; with fold scores, only by more than the noise of their paired difference (else
    UNCLEAR: seen, a tie inside one picture of 21 decided "different")."""
    earlier = best_earlier_layer(probe)
    if noise is None:
        return "similar" if probe[TOP_LAYER] > probe[earlier] else "different"
    differences = np.subtract(noise.scores[TOP_LAYER], noise.scores[earlier])
    _, low, high = corrected_interval(differences.tolist(), noise.test_share)
    if low > 0:
        return "similar"
    if high < 0:
        return "different"
    return UNCLEAR


def cell(size: str, similarity: str) -> Cell:
    return next(c for c in MATRIX if c.size == size and c.similarity == similarity)


UNCLEAR_WHY = (
    "The measurement cannot tell whether your pictures look like everyday photos: VGG16's "
    "top and earlier features scored within the measurement's noise of each other. So the "
    "simpler, cheaper choice: {choice}."
)
UNCLEAR_CHOICES = {
    "small": "a linear classifier on VGG16's standard top features",
    "large": "fine-tune only the top block (retraining every layer costs far more)",
}


def settle_words(per_class: int, images_per_class: float, cap: int | None = None) -> str:
    """What would settle an unclear measurement: more pictures per class measured; when the
    cap did not limit the sample (the test pictures are never measured), more pictures."""
    limited = per_class >= cap if cap is not None else images_per_class > per_class
    if limited:
        return (
            f"Measuring more pictures per class would settle it (this measurement used "
            f"{per_class} per class; raise 'Pictures per class to measure on' and measure again)."
        )
    return (
        f"More pictures per class would settle it: all {per_class} per class that a "
        "measurement may use were measured (the test pictures are kept aside)."
    )


def advise(images_per_class: float, probe: dict[str, float], noise: Noise | None = None) -> Advice:
    """The advice from the dataset's size and the probe (mean accuracy per layer); with the
    folds' scores (`noise`) a difference inside the noise decides nothing."""
    size, similarity = size_of(images_per_class), similarity_of(probe, noise)
    chosen = cell(size, "similar" if similarity == UNCLEAR else similarity)
    layer = chosen.layer
    if layer == "best-earlier":
        layer = best_earlier_layer(probe)
    intervals = {}
    if noise is not None:
        for name, scores in noise.scores.items():
            _, low, high = corrected_interval(scores, noise.test_share)
            intervals[name] = [max(0.0, low), min(1.0, high)]
    numbers = ", ".join(
        f"{name} {acc:.0%}"
        + (f" ({intervals[name][0]:.0%}–{intervals[name][1]:.0%})" if name in intervals else "")
        for name, acc in probe.items()
    )
    how = (
        f"mean of {len(noise.scores[TOP_LAYER])} cross-validation folds, 95% interval"
        if noise is not None
        else "validation"
    )
    evidence = (
        f"{images_per_class:.0f} images per class ({size}: the line is "
        f"{LARGE_PER_CLASS}); linear-probe accuracy ({how}): {numbers} ({similarity})"
    )
    why, settle = chosen.why, ""
    if similarity == UNCLEAR and noise is not None:  # only fold scores can leave it unclear
        why = UNCLEAR_WHY.format(choice=UNCLEAR_CHOICES[size])
        settle = settle_words(noise.per_class, images_per_class, noise.cap)
    return Advice(
        size,
        similarity,
        images_per_class,
        dict(probe),
        chosen.strategy,
        layer,
        chosen.unfreeze_blocks,
        why,
        evidence,
        intervals,
        settle,
    )


def cross_validate(
    features: Mapping[str, np.ndarray],
    labels: np.ndarray,
    num_classes: int,
    seed: int = 0,
    folds: int = CV_FOLDS,
    repeats: int = CV_REPEATS,
    cap: int | None = None,
) -> tuple[dict[str, float], Noise]:
    """Each layer's linear probe scored on the same repeated stratified folds of the sample:
    (mean accuracy per layer, the fold scores). Folds are capped by the smallest class."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    labels = np.asarray(labels)
    smallest = min(int(c) for c in np.unique(labels, return_counts=True)[1])
    k = max(2, min(folds, smallest))
    splitter = RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed)
    scores: dict[str, list[float]] = {name: [] for name in features}
    for train, test in splitter.split(np.zeros(len(labels)), labels):
        for name, x in features.items():
            fit = fit_linear(x[train], labels[train], x[test], labels[test], num_classes, seed=seed)
            scores[name].append(fit.val_accuracy)
    means = {name: float(np.mean(values)) for name, values in scores.items()}
    return means, Noise(scores, 1 / k, smallest, cap)


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


def closed_form_words(layer: str) -> str:
    """What a closed-form fit is, for the settings shown in place of epochs and rates."""
    width = vgg16.BLOCKS[vgg16.block_of(layer) - 1].filters
    return (
        f"logistic regression on the {width} averaged {layer} features (standardised), L2 "
        f"regularisation C = {LOGISTIC_C:g}, solved in one go: no epochs, no learning rate"
    )


NO_CURVE = (
    "A linear probe has no training curve: its classifier is solved in one go on VGG16's "
    "features instead of being improved epoch after epoch, so there is one result, not a line."
)


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
        max_iter=2000,
        C=LOGISTIC_C,
        random_state=seed,
        class_weight="balanced" if balanced else None,
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
