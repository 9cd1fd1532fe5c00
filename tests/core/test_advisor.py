"""core.runs.advisor: the size x similarity matrix and the advice it gives."""

import pytest

from core.runs import advisor, strategies


@pytest.mark.parametrize(
    "per_class, probe, expected",
    [
        (
            50,
            {"block3_pool": 0.6, "block4_pool": 0.7, "block5_pool": 0.9},
            ("linear", "block5_pool"),
        ),
        (
            50,
            {"block3_pool": 0.9, "block4_pool": 0.8, "block5_pool": 0.7},
            ("linear", "block3_pool"),
        ),
        (
            50,
            {"block3_pool": 0.7, "block4_pool": 0.9, "block5_pool": 0.9},
            ("linear", "block4_pool"),
        ),
        (2000, {"block3_pool": 0.6, "block4_pool": 0.7, "block5_pool": 0.9}, ("finetune", None)),
        (2000, {"block3_pool": 0.9, "block4_pool": 0.7, "block5_pool": 0.8}, ("full", None)),
    ],
)
def test_advice_follows_the_matrix(per_class, probe, expected):
    advice = advisor.advise(per_class, probe)
    assert (advice.strategy, advice.layer) == expected
    assert advice.strategy in strategies.STRATEGIES
    assert "images per class" in advice.evidence


def test_matrix_covers_every_cell_once():
    cells = {(c.size, c.similarity) for c in advisor.MATRIX}
    assert cells == {(s, m) for s in ("small", "large") for m in ("similar", "different")}
    assert len(advisor.MATRIX) == 4
