"""core.runs.advisor: the size x similarity matrix and the advice it gives."""

import numpy as np
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


def _noise(top, earlier, per_class=60):
    """Fold scores: block5 `top`, block4 `earlier`, block3 a little below block4."""
    scores = {
        "block3_pool": [s - 0.05 for s in earlier],
        "block4_pool": list(earlier),
        "block5_pool": list(top),
    }
    return advisor.Noise(scores, test_share=0.2, per_class=per_class)


def test_a_difference_inside_the_noise_decides_nothing_and_says_what_would_settle_it():
    """Issue 20 item 16: seen, block4 85.7% = block5 85.7% on 21 pictures decided
    "different". Fold scores that overlap are "unclear": the simpler, cheaper choice is
    recommended, and the advice says that measuring more pictures per class would settle it."""
    top = [0.86, 0.71, 0.93, 0.79, 0.86, 0.93, 0.71, 0.86, 0.79, 0.93]
    earlier = [0.79, 0.86, 0.86, 0.93, 0.71, 0.86, 0.79, 0.93, 0.86, 0.79]
    noise = _noise(top, earlier)
    probe = {name: sum(s) / len(s) for name, s in noise.scores.items()}
    advice = advisor.advise(150, probe, noise)
    assert advice.similarity == advisor.UNCLEAR
    assert (advice.strategy, advice.layer) == ("linear", advisor.TOP_LAYER)
    assert "cannot tell" in advice.why and "simpler, cheaper" in advice.why
    assert "more pictures per class" in advice.settle and "60 per class" in advice.settle
    low, high = advice.intervals["block5_pool"]
    assert low < probe["block5_pool"] < high
    assert "95% interval" in advice.evidence
    large = advisor.advise(2000, probe, noise)  # retraining every layer is the dearer choice
    assert (large.strategy, large.similarity) == ("finetune", advisor.UNCLEAR)


def test_a_difference_beyond_the_noise_decides():
    top = [0.95, 0.93, 0.97, 0.95, 0.96, 0.94, 0.95, 0.97, 0.93, 0.96]
    earlier = [0.70, 0.72, 0.69, 0.71, 0.73, 0.70, 0.68, 0.72, 0.71, 0.70]
    similar = _noise(top, earlier)
    probe = {name: sum(s) / len(s) for name, s in similar.scores.items()}
    assert advisor.advise(50, probe, similar).similarity == "similar"
    different = _noise(earlier, top)
    probe = {name: sum(s) / len(s) for name, s in different.scores.items()}
    advice = advisor.advise(50, probe, different)
    assert (advice.similarity, advice.layer, advice.settle) == ("different", "block4_pool", "")


def test_cross_validation_scores_every_layer_on_the_same_stratified_folds():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 12)
    separable = rng.normal(size=(24, 8)) + labels[:, None] * 4.0
    noise_only = rng.normal(size=(24, 8))
    means, noise = advisor.cross_validate(
        {"block3_pool": noise_only, "block4_pool": noise_only, "block5_pool": separable},
        labels,
        num_classes=2,
    )
    assert len(noise.scores["block5_pool"]) == advisor.CV_FOLDS * advisor.CV_REPEATS
    assert noise.test_share == pytest.approx(1 / advisor.CV_FOLDS) and noise.per_class == 12
    assert means["block5_pool"] > 0.9 > means["block3_pool"]
    assert advisor.similarity_of(means, noise) == "similar"
    # a class of 3 pictures allows 3 folds, not 5
    _, few = advisor.cross_validate({"block5_pool": separable[:15]}, labels[:15], 2)
    assert few.test_share == pytest.approx(1 / 3)


def test_what_would_settle_it_depends_on_whether_the_cap_limited_the_sample():
    # seen in the browser: 24 per class, 20 measured (4 kept aside as test), cap 60
    assert "all 20 per class" in advisor.settle_words(20, 24, cap=60)
    assert "raise 'Pictures per class to measure on'" in advisor.settle_words(60, 150, cap=60)
