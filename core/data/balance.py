"""Class imbalance of a split, and the balanced class weights training uses for it."""

from __future__ import annotations

import numpy as np

from core.data.datasets import TRAIN, Split

CLASS_WEIGHT_RATIO = 1.5  # largest/smallest class at or above this: balanced class weights


def is_imbalanced(split: Split) -> bool:
    counts = np.bincount(split.labels(TRAIN), minlength=len(split.classes))
    counts = counts[counts > 0]
    return bool(counts.max() / counts.min() >= CLASS_WEIGHT_RATIO)


def class_weight(split: Split) -> dict[int, float] | None:
    """scikit-learn's balanced weights per class label, or None for a balanced split."""
    from sklearn.utils.class_weight import compute_class_weight

    if not is_imbalanced(split):
        return None
    y = split.labels(TRAIN)
    present = np.unique(y)
    weights = compute_class_weight("balanced", classes=present, y=y)
    return {int(c): float(w) for c, w in zip(present, weights, strict=True)}
