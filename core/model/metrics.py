"""Probabilities from model outputs, and the scores every run reports."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def class_probabilities(raw: npt.ArrayLike) -> np.ndarray:
    """Model outputs as an (N, classes) matrix: one sigmoid unit (binary) becomes two columns,
    P(first class) = 1 - p and P(second class) = p."""
    raw = np.asarray(raw, dtype=np.float64)
    return np.concatenate([1.0 - raw, raw], axis=1) if raw.shape[-1] == 1 else raw


def log_loss(y_true: np.ndarray, probabilities: np.ndarray, num_classes: int) -> float:
    """Cross-entropy of (clipped, renormalised) probabilities over all classes."""
    from sklearn.metrics import log_loss as sklearn_log_loss

    clipped = np.clip(probabilities, 1e-7, 1.0)
    return float(
        sklearn_log_loss(
            y_true, clipped / clipped.sum(1, keepdims=True), labels=list(range(num_classes))
        )
    )


CONFIDENCE = 0.95
# a test accuracy whose 95% interval is wider than this cannot separate strategies whose
# accuracies differ by a few points: the result says so
SEPARABLE_WIDTH = 0.10


def accuracy_interval(correct: int, total: int) -> tuple[float, float]:
    """The 95% Wilson score interval of an accuracy of correct/total (statsmodels' when it is
    installed; the same formula otherwise). Wilson, not the normal approximation: it stays
    inside 0..1 and is honest for small test sides and accuracies near 100%."""
    if total <= 0:
        return 0.0, 1.0
    try:
        from statsmodels.stats.proportion import proportion_confint
    except ImportError:
        return _wilson(correct, total)
    low, high = proportion_confint(correct, total, alpha=1 - CONFIDENCE, method="wilson")
    return float(low), float(high)


def _wilson(correct: int, total: int) -> tuple[float, float]:
    from scipy.stats import norm

    z = float(norm.ppf(1 - (1 - CONFIDENCE) / 2))
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def interval_caution(interval: tuple[float, float], images: int) -> str | None:
    """A plain warning when the test side is too small to tell strategies apart, else None."""
    low, high = interval
    if high - low <= SEPARABLE_WIDTH:
        return None
    return (
        f"Only {images} test images: the true accuracy is somewhere between {low:.0%} and "
        f"{high:.0%} (95% confidence), so strategies within about "
        f"{50 * (high - low):.0f} points of each other cannot be told apart. More pictures "
        "per class, or a larger test fraction, narrow this."
    )


NO_TEST_CAUTION = (
    "No test images: these scores are on the validation images that also chose the model's "
    "best epoch, so they are optimistic."
)
