"""Probabilities from model outputs, and the scores every run reports."""

from __future__ import annotations

import numpy as np


def class_probabilities(raw) -> np.ndarray:
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
