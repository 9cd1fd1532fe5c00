"""Scoring a trained model on the validation images: accuracy, log loss, per-class figures,
the confusion matrix and the most confidently wrong images."""

from __future__ import annotations

import numpy as np

from core import vgg16
from core.datasets import Item
from core.extraction import extract, image_batches
from core.metrics import class_probabilities, log_loss
from core.results import PerClass, RunResult, WrongImage
from core.run_context import Context

MOST_WRONG = 16


def evaluation(y_true: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> RunResult:
    """Accuracy, log loss, per-class precision/recall/F1/support and the confusion matrix (the
    result's other fields are left for the caller)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = list(range(len(classes)))
    predicted = probabilities.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, predicted, labels=labels, zero_division=0
    )
    matrix = confusion_matrix(y_true, predicted, labels=labels).tolist()
    return RunResult(
        val_accuracy=float(accuracy_score(y_true, predicted)),
        val_loss=log_loss(y_true, probabilities, len(classes)),
        per_class=tuple(
            PerClass(c, float(p), float(r), float(f), int(s))
            for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
        ),
        confusion_matrix=tuple(tuple(row) for row in matrix),
    )


def most_wrong(
    items: list[Item],
    y_true: np.ndarray,
    probabilities: np.ndarray,
    classes: list[str],
    limit: int = MOST_WRONG,
) -> tuple[WrongImage, ...]:
    """Misclassified validation images, most confidently wrong first."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    order = wrong[np.argsort(probabilities[wrong, y_true[wrong]])][:limit]
    return tuple(
        WrongImage(
            file=str(items[k].path),
            true=classes[y_true[k]],
            predicted=classes[predicted[k]],
            confidence=float(probabilities[k, predicted[k]]),
            true_probability=float(probabilities[k, y_true[k]]),
        )
        for k in order
    )


def predict_validation(ctx: Context, base, head, inference, deepest: int) -> np.ndarray:
    """Validation probabilities from the trained weights. `deepest` is the most blocks any
    phase that ran unfroze: the cached features used are those of the last layer below them
    (still the pretrained one). Scoring always finishes, also after a stop request."""
    from core import models

    ctx.progress("evaluating", "scoring the validation images")
    cut = vgg16.frozen_cut_layer(deepest)
    if cut is not None:
        table = extract(ctx, base, [(cut, "map")], stoppable=False)
        top = models.top_model(base, cut, head)
        batches = table.batches((cut, "map"), ctx.split.validation, ctx.config.batch_size)
        raw = top.predict(batches, verbose=0)
    else:
        raw = inference.predict(image_batches(ctx, ctx.split.validation), verbose=0)
    return class_probabilities(raw)
