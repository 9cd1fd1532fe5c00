"""Scoring a trained model on held-out images: accuracy, log loss, per-class figures, the
confusion matrix and the most confidently wrong images. The reported score is on the test
side; the validation side (which chose the model) is scored too, as the optimistic figure."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.data.datasets import TEST, VALIDATION, Item, Split
from core.model import vgg16
from core.model.metrics import (
    NO_TEST_CAUTION,
    accuracy_interval,
    class_probabilities,
    interval_caution,
    log_loss,
)
from core.runs.results import PerClass, RunResult, WrongImage
from core.train.context import Context
from core.train.extraction import extract, image_batches

MOST_WRONG = 16  # shown as pictures
# kept for the map of the data: every mistake of a 10,000-picture test set fits (a few hundred
# KB of JSON in the store at worst)
MISCLASSIFIED_CAP = 5000


def evaluation(y_true: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> RunResult:
    """Accuracy, log loss, per-class precision/recall/F1/support and the confusion matrix of
    one side, in the validation fields (the caller moves them when the side is test; the
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
    """Misclassified images of `items`, most confidently wrong first."""
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


def held_out_result(
    split: Split, val_probabilities: np.ndarray, test_probabilities: np.ndarray | None
) -> RunResult:
    """The scores of a trained model: validation accuracy and loss always; with a test side,
    test accuracy, loss and 95% interval, and the per-class figures, confusion matrix and
    most-wrong images of the test images. Without one, those describe validation, say so
    (`evaluated_on`) and carry a caution."""
    classes = split.classes
    y_val = split.labels(VALIDATION)
    validation = evaluation(y_val, val_probabilities, classes)
    if test_probabilities is None or not split.test:
        wrong = most_wrong(split.validation, y_val, val_probabilities, classes, MISCLASSIFIED_CAP)
        return dataclasses.replace(
            validation,
            evaluated_on=VALIDATION,
            caution=NO_TEST_CAUTION,
            most_wrong=wrong[:MOST_WRONG],
            misclassified=wrong,
        )
    y_test = split.labels(TEST)
    test = evaluation(y_test, test_probabilities, classes)
    correct = int((test_probabilities.argmax(axis=1) == y_test).sum())
    interval = accuracy_interval(correct, len(y_test))
    wrong = most_wrong(split.test, y_test, test_probabilities, classes, MISCLASSIFIED_CAP)
    return dataclasses.replace(
        test,
        val_accuracy=validation.val_accuracy,
        val_loss=validation.val_loss,
        test_accuracy=test.val_accuracy,
        test_loss=test.val_loss,
        test_images=len(y_test),
        test_interval=interval,
        evaluated_on=TEST,
        caution=interval_caution(interval, len(y_test)),
        most_wrong=wrong[:MOST_WRONG],
        misclassified=wrong,
    )


def predict_items(
    ctx: Context,
    base: Any,
    head: Any,
    inference: Any,
    deepest: int,
    items: Sequence[Item],
    side: str,
) -> np.ndarray:
    """Probabilities of `items` (a held-out side, named `side` in the progress) from the
    trained weights. `deepest` is the most blocks any phase that ran unfroze: the cached
    features used are those of the last layer below them (still the pretrained one). Scoring
    always finishes, also after a stop request."""
    from core.model import models

    ctx.progress("evaluating", f"scoring the {side} images")
    cut = vgg16.frozen_cut_layer(deepest)
    if cut is not None:
        table = extract(ctx, base, [(cut, "map")], stoppable=False)
        top = models.top_model(base, cut, head)
        batches = table.batches((cut, "map"), list(items), ctx.config.batch_size)
        raw = top.predict(batches, verbose=0)
    else:
        raw = inference.predict(image_batches(ctx, list(items)), verbose=0)
    return class_probabilities(raw)
