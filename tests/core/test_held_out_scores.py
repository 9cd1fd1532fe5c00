"""Scores on the held-out sides without training: the 95% Wilson interval, the caution for a
test side too small to separate strategies, and which side the per-class figures describe."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import write_colour_dataset

from core.data import datasets
from core.model import metrics
from core.train.evaluation import held_out_result


@pytest.mark.parametrize(
    "correct, total, low, high",
    [
        (8, 10, 0.4902, 0.9433),
        (10, 10, 0.7225, 1.0),
        (0, 5, 0.0, 0.4345),
        (85, 100, 0.7672, 0.9069),
    ],
)
def test_the_interval_is_wilsons(correct, total, low, high):
    for found in (metrics.accuracy_interval(correct, total), metrics._wilson(correct, total)):
        assert found == pytest.approx((low, high), abs=1e-4)


def test_a_small_test_side_gets_a_caution_and_a_large_one_none():
    small = metrics.interval_caution(metrics.accuracy_interval(45, 50), 50)
    assert small is not None and "Only 50 test images" in small and "cannot be told apart" in small
    assert metrics.interval_caution(metrics.accuracy_interval(1800, 2000), 2000) is None


def _split(tmp_path, test_fraction: float) -> datasets.Split:
    root = write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=10, size=16)
    return datasets.split(
        datasets.scan(root), val_fraction=0.2, test_fraction=test_fraction, seed=0
    )


def _certain(labels: np.ndarray, wrong: int = 0) -> np.ndarray:
    """Probabilities that are right for all but the first `wrong` images."""
    predicted = labels.copy()
    predicted[:wrong] = 1 - predicted[:wrong]
    return np.eye(2)[predicted] * 0.9 + 0.05


def test_the_result_scores_test_and_keeps_validation(tmp_path):
    split = _split(tmp_path, 0.2)
    y_val, y_test = split.labels(datasets.VALIDATION), split.labels(datasets.TEST)
    result = held_out_result(split, _certain(y_val), _certain(y_test, wrong=1))
    assert result.val_accuracy == 1.0 and result.test_accuracy == 1 - 1 / len(y_test)
    assert result.evaluated_on == "test" and result.test_images == len(split.test)
    assert sum(row.support for row in result.per_class) == len(split.test)
    assert [w.file for w in result.most_wrong] == [str(split.test[0].path)]
    assert result.test_interval[0] < result.test_accuracy < result.test_interval[1]
    assert result.caution and (result.score, result.score_name) == (
        result.test_accuracy,
        "test accuracy",
    )


def test_without_a_test_side_the_scores_are_named_validation(tmp_path):
    split = _split(tmp_path, 0.0)
    y_val = split.labels(datasets.VALIDATION)
    result = held_out_result(split, _certain(y_val, wrong=1), None)
    assert result.test_accuracy is None and result.evaluated_on == "validation"
    assert result.caution == metrics.NO_TEST_CAUTION
    assert result.score_name == "validation accuracy" and result.score == result.val_accuracy
    assert sum(row.support for row in result.per_class) == len(split.validation)


def test_every_misclassified_test_image_is_kept_and_the_shown_ones_are_its_head(
    tmp_path, monkeypatch
):
    """The map of the data marks every mistake, not only the pictures shown (16)."""
    from core.train import datamap, evaluation

    monkeypatch.setattr(evaluation, "MOST_WRONG", 1)  # fewer shown than made: 2 wrong, 1 shown
    split = _split(tmp_path, 0.3)
    y_val, y_test = split.labels(datasets.VALIDATION), split.labels(datasets.TEST)
    result = held_out_result(split, _certain(y_val), _certain(y_test, wrong=2))
    wrong = {str(split.test[0].path), str(split.test[1].path)}
    assert {w.file for w in result.misclassified} == wrong
    assert len(result.most_wrong) == 1 and result.most_wrong[0] in result.misclassified
    again = type(result).from_json(result.to_json())
    assert again.misclassified == result.misclassified
    root = split.test[0].path.parent.parent
    assert len(datamap.wrong_files(again, root, every=True)) == 2
    assert len(datamap.wrong_files(again, root)) == 1
