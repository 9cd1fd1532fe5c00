"""core.reports.comparison: a repeated comparison's mean and spread over exactly the seeds that
finished, the best strategy, and a paired test stated in plain words."""

from __future__ import annotations

import math
import statistics

import pytest

from core.reports import comparison
from core.reports.comparison import Repeat
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.results import RunResult
from core.runs.store import Store


def repeats(strategy: str, accuracies, losses=None, scored_on=comparison.TEST) -> list[Repeat]:
    losses = losses or [1.0 - a for a in accuracies]
    return [
        Repeat(strategy, seed, acc, loss, scored_on, seconds=10.0 + seed, seconds_per_epoch=2.0)
        for seed, (acc, loss) in enumerate(zip(accuracies, losses, strict=True))
    ]


def row(summary, name):
    return next(s for s in summary.strategies if s.strategy == name)


def test_std_is_the_sample_std_over_exactly_the_stated_seeds():
    head = [0.80, 0.84, 0.90]
    summary = comparison.summarize(repeats("head", head), planned={"head": 5})
    found = row(summary, "head")
    assert found.seeds == found.accuracy.n == 3 and found.planned == 5
    assert found.accuracy.mean == pytest.approx(sum(head) / 3)
    # ddof=1: sqrt(sum((x - mean)^2) / (n - 1)), not / n
    mean = sum(head) / 3
    expected = math.sqrt(sum((x - mean) ** 2 for x in head) / 2)
    assert found.accuracy.std == pytest.approx(expected)
    assert found.accuracy.std != pytest.approx(statistics.pstdev(head))
    assert found.seconds.mean == pytest.approx(11.0)


def test_one_seed_has_no_std_and_the_statement_cannot_tell():
    summary = comparison.summarize([*repeats("head", [0.9]), *repeats("linear", [0.8])])
    assert row(summary, "head").accuracy.std is None
    verdict = summary.verdict
    assert verdict.best == "head" and verdict.runner_up == "linear"
    assert not verdict.significant and verdict.p_value is None
    assert "head beats linear by 10.0 points of test accuracy" in verdict.statement
    assert "with one seed the studio cannot tell" in verdict.statement


def test_a_steady_lead_is_larger_than_the_noise():
    head = [0.90, 0.92, 0.95, 0.91]
    linear = [0.85, 0.88, 0.90, 0.86]  # head leads by 4-5 points on every seed
    summary = comparison.summarize([*repeats("linear", linear), *repeats("head", head)])
    verdict = summary.verdict
    assert [s.strategy for s in summary.strategies] == ["head", "linear"]
    assert verdict.significant and verdict.p_value < 0.05 and verdict.pairs == 4
    assert verdict.difference == pytest.approx(0.0475)
    assert verdict.statement.startswith("head beats linear by 4.8 points of test accuracy")
    assert "with 4 seeds this is larger than the seed-to-seed noise (p=" in verdict.statement


def test_a_lead_inside_the_noise_is_said_to_be_indistinguishable():
    head = [0.95, 0.80, 0.90]
    linear = [0.85, 0.88, 0.86]
    verdict = comparison.summarize([*repeats("head", head), *repeats("linear", linear)]).verdict
    assert verdict.best == "head" and not verdict.significant
    assert verdict.p_value is not None and verdict.p_value > 0.05
    assert "with 3 seeds this is not distinguishable from the seed-to-seed noise" in (
        verdict.statement
    )


def test_the_same_difference_on_every_seed_is_no_noise_at_all():
    verdict = comparison.summarize(
        [*repeats("head", [0.9, 0.8]), *repeats("linear", [0.85, 0.75])]
    ).verdict
    assert verdict.significant and verdict.p_value is None
    assert "same amount on every one of the 2 seeds" in verdict.statement


def test_validation_scores_are_named_as_such():
    summary = comparison.summarize(
        [
            *repeats("head", [0.9, 0.8], scored_on=comparison.VALIDATION),
            *repeats("linear", [0.7, 0.75], scored_on=comparison.VALIDATION),
        ]
    )
    assert summary.scored_on == comparison.VALIDATION
    assert "of validation accuracy" in summary.verdict.statement


def test_planned_strategies_without_a_finished_run_are_listed_last():
    summary = comparison.summarize(repeats("linear", [0.7]), planned={"head": 2, "linear": 2})
    assert [(s.strategy, s.seeds) for s in summary.strategies] == [("linear", 1), ("head", 0)]
    assert "Only linear has finished" in summary.verdict.statement
    empty = comparison.summarize([], planned={"head": 1})
    assert empty.verdict.best is None and "No run has finished" in empty.verdict.statement


def test_json_has_the_documented_keys():
    summary = comparison.summarize([*repeats("head", [0.9, 0.8]), *repeats("linear", [0.7, 0.8])])
    data = summary.to_json()
    assert set(data) == {"strategies", "best", "significant", "p_value", "statement"}
    assert set(data["strategies"]["head"]) == {
        "test_accuracy_mean",
        "test_accuracy_std",
        "test_loss_mean",
        "test_loss_std",
        "seeds",
        "seconds_mean",
        "seconds_per_epoch_mean",
    }
    assert data["strategies"]["head"]["seeds"] == 2 and data["best"] == "head"


def _finished(store: Store, dataset, strategy, seed, status=store_mod.DONE, **result):
    run = store.create(RunConfig(dataset=str(dataset), strategy=strategy, seed=seed))
    store.update(run.id, status=store_mod.RUNNING, started=run.created)
    store.add_metric(run.id, "epoch", "head", 1, 1, {"val_accuracy": 0.5, "seconds": 3.0})
    store.finish(run.id, status, result=RunResult(**result))
    return store.get(run.id)


def test_summary_of_counts_only_done_runs_and_prefers_the_test_score(tmp_path, binary_dataset):
    store = Store(tmp_path / "home")
    runs = [
        _finished(store, binary_dataset, "head", 0, test_accuracy=0.9, val_accuracy=0.99),
        _finished(store, binary_dataset, "head", 1, test_accuracy=0.8, val_accuracy=0.99),
        _finished(store, binary_dataset, "head", 2, store_mod.STOPPED, val_accuracy=0.5),
        _finished(store, binary_dataset, "linear", 0, val_accuracy=0.7),  # before test splits
    ]
    summary = comparison.summary_of(store, runs)
    head = row(summary, "head")
    assert (head.seeds, head.planned) == (2, 3)
    assert head.accuracy.mean == pytest.approx(0.85)
    assert head.seconds_per_epoch.mean == pytest.approx(3.0)
    # most runs have a test score: linear's validation-only run is left out, and said to be
    assert summary.scored_on == comparison.TEST and summary.left_out == 1
    linear = row(summary, "linear")
    assert (linear.seeds, linear.planned, linear.accuracy.mean) == (0, 1, None)
    assert "1 finished run(s) scored only on validation accuracy were left out" in (
        summary.verdict.statement
    )


def test_runs_scored_on_the_other_side_are_neither_averaged_nor_paired():
    seed_2_on_validation = Repeat("linear", 2, 0.99, 0.01, comparison.VALIDATION)
    summary = comparison.summarize(
        [
            *repeats("head", [0.80, 0.81, 0.82]),
            *repeats("linear", [0.70, 0.72]),
            seed_2_on_validation,
        ]
    )
    linear = row(summary, "linear")
    assert linear.seeds == 2 and linear.accuracy.mean == pytest.approx(0.71)
    assert 2 not in linear.by_seed and summary.verdict.pairs == 2
    assert summary.scored_on == comparison.TEST and summary.left_out == 1
    assert summary.verdict.best == "head" and "left out" in summary.verdict.statement


def test_band_is_the_mean_and_range_of_the_runs_that_reached_each_epoch():
    from core.runs.results import EpochRecord

    first = [EpochRecord("head", 1, val_accuracy=0.5), EpochRecord("head", 2, val_accuracy=0.7)]
    second = [EpochRecord("head", 1, val_accuracy=0.6)]  # stopped early
    found = comparison.band([first, second])
    assert found.epochs == (1, 2) and found.runs == (2, 1)
    assert found.mean == pytest.approx((0.55, 0.7))
    assert (found.low, found.high) == ((0.5, 0.7), (0.6, 0.7))


def test_only_a_group_with_a_strategy_run_more_than_once_is_a_repeated_comparison():
    from types import SimpleNamespace as Run

    def runs(*pairs):
        return [Run(group_id=group, strategy=strategy) for group, strategy in pairs]

    assert comparison.is_repeated(runs(("g", "head"), ("g", "linear"), ("g", "head")))
    assert not comparison.is_repeated(runs(("g", "head"), ("g", "linear")))  # one seed each
    assert not comparison.is_repeated(runs(("g", "head"), ("h", "head")))  # two comparisons
    assert not comparison.is_repeated(runs((None, "head"), (None, "head")))  # single runs


def test_side_names_are_core_datasets_own_not_a_second_copy():
    import ast
    import inspect

    from core.data import datasets

    tree = ast.parse(inspect.getsource(comparison))
    assigned = {
        name.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        for name in ast.walk(target)
        if isinstance(name, ast.Name)
    }
    assert not assigned & {"TEST", "VALIDATION"}
    assert (comparison.TEST, comparison.VALIDATION) == (datasets.TEST, datasets.VALIDATION)
