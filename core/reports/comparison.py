"""What a repeated comparison says: per strategy the mean and spread of its score over the
seeds that finished, the best strategy, and whether its lead over the runner-up is larger than
the seed-to-seed noise (a paired t-test across seeds), in plain words.

The score is a run's test accuracy and loss (RunResult.test_accuracy / test_loss); a run scored
before the test split existed has only validation numbers. Only runs scored on one side are
counted (the side most runs have, `scored_on`); the verdict says how many others were left out.
Runs of a comparison are paired by their training seed: seed k of every strategy trained on the
same split (core.jobs.runs.comparison_configs).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.data.datasets import TEST, VALIDATION
from core.reports import report
from core.runs import store as store_mod
from core.runs.results import EpochRecord
from core.runs.store import Run

SIGNIFICANCE = 0.05  # p below this: "larger than the seed-to-seed noise"


@dataclass(frozen=True)
class Repeat:
    """One finished run of a comparison, as the summary reads it."""

    strategy: str
    seed: int  # its training seed: pairs it with the other strategies' runs of that seed
    accuracy: float
    loss: float | None
    scored_on: str  # TEST, or VALIDATION for a run without a test score
    seconds: float | None = None  # wall time, queue to finish excluded
    seconds_per_epoch: float | None = None

    @classmethod
    def from_run(cls, run: Run, history: Sequence[EpochRecord] = ()) -> Repeat | None:
        """The run's score, or None when it has none to count (not done, or no result)."""
        result = run.training_result
        if run.status != store_mod.DONE or result is None or result.score is None:
            return None
        epoch_seconds = [r.seconds for r in history if r.seconds is not None]
        return cls(
            strategy=run.strategy,
            seed=run.config.seed,
            accuracy=float(result.score),
            loss=result.score_loss,
            scored_on=TEST if result.test_accuracy is not None else VALIDATION,
            seconds=run.seconds,
            seconds_per_epoch=statistics.fmean(epoch_seconds) if epoch_seconds else None,
        )


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation (ddof=1) of `n` values; std is None below 2."""

    mean: float | None
    std: float | None
    n: int

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Spread:
        known = [float(v) for v in values if v is not None]
        if not known:
            return cls(None, None, 0)
        std = statistics.stdev(known) if len(known) >= 2 else None
        return cls(statistics.fmean(known), std, len(known))


@dataclass(frozen=True)
class StrategySummary:
    strategy: str
    seeds: int  # runs that finished with a score: the n of every spread below
    planned: int  # runs of this strategy in the comparison (finished or not)
    accuracy: Spread
    loss: Spread
    seconds: Spread
    seconds_per_epoch: Spread
    by_seed: Mapping[int, float]  # training seed -> accuracy


@dataclass(frozen=True)
class Verdict:
    """The best strategy and whether its lead over the runner-up is larger than the noise."""

    best: str | None
    runner_up: str | None
    difference: float | None  # mean accuracy of best minus runner-up's, over the paired seeds
    pairs: int  # seeds both finished
    p_value: float | None  # paired t-test; None when it cannot be computed
    significant: bool
    statement: str


@dataclass(frozen=True)
class Summary:
    strategies: tuple[StrategySummary, ...]  # best first
    verdict: Verdict
    scored_on: str  # the side most runs were scored on (scoring_side): TEST or VALIDATION
    left_out: int = 0  # finished runs scored only on the other side, not counted

    @property
    def score_name(self) -> str:
        return f"{self.scored_on} accuracy"

    def to_json(self) -> dict[str, Any]:
        """The CLI's last line (its keys are a stable interface for scripts)."""
        return {
            "strategies": {
                s.strategy: {
                    "test_accuracy_mean": s.accuracy.mean,
                    "test_accuracy_std": s.accuracy.std,
                    "test_loss_mean": s.loss.mean,
                    "test_loss_std": s.loss.std,
                    "seeds": s.seeds,
                    "seconds_mean": s.seconds.mean,
                    "seconds_per_epoch_mean": s.seconds_per_epoch.mean,
                }
                for s in self.strategies
            },
            "best": self.verdict.best,
            "significant": self.verdict.significant,
            "p_value": self.verdict.p_value,
            "statement": self.verdict.statement,
        }


def summarize(repeats: Iterable[Repeat], planned: Mapping[str, int] | None = None) -> Summary:
    """The summary of finished repeats; `planned`: runs per strategy in the comparison, so a
    strategy with none finished yet is still listed (with n = 0)."""
    repeats = list(repeats)
    names = list(dict.fromkeys([*(planned or {}), *(r.strategy for r in repeats)]))
    scored_on = scoring_side(repeats)
    counted = [r for r in repeats if r.scored_on == scored_on]
    rows = [_strategy(name, counted, (planned or {}).get(name)) for name in names]
    rows.sort(key=_rank)
    verdict = _verdict(rows, f"{scored_on} accuracy")
    left_out = len(repeats) - len(counted)
    if left_out:  # a mean of test and validation accuracies would compare unlike things
        other = VALIDATION if scored_on == TEST else TEST
        note = (
            f" {left_out} finished run(s) scored only on {other} accuracy were left out: "
            f"every number here is {scored_on} accuracy."
        )
        verdict = dataclasses.replace(verdict, statement=verdict.statement + note)
    return Summary(tuple(rows), verdict, scored_on, left_out)


def scoring_side(repeats: Sequence[Repeat]) -> str:
    """The side a comparison is scored on: the one most of its runs have (test on a tie; a
    run scored before the test split existed has only validation numbers)."""
    on_test = sum(r.scored_on == TEST for r in repeats)
    return TEST if on_test >= len(repeats) - on_test else VALIDATION


def summary_of(store: store_mod.Store, runs: Iterable[Run]) -> Summary:
    """The summary of a comparison's runs as they stand (finished ones count)."""
    runs = [r for r in runs if report.is_training(r)]
    planned = Counter(r.strategy for r in sorted(runs, key=lambda r: r.created))
    found = (Repeat.from_run(r, store.epoch_history(r.id)) for r in runs)
    return summarize([r for r in found if r is not None], planned)


def plus_minus(spread: Spread, digits: int = 3) -> str:
    """'0.912 ± 0.021' ('0.912' for one value; '-' for none)."""
    if spread.mean is None:
        return "-"
    if spread.std is None:
        return f"{spread.mean:.{digits}f}"
    return f"{spread.mean:.{digits}f} ± {spread.std:.{digits}f}"


def table_rows(summary: Summary) -> list[dict[str, str]]:
    """One row per strategy, best first, every number as 'mean ± std' over the seeds stated."""
    score = summary.scored_on
    return [
        {
            "strategy": s.strategy,
            "seeds": f"{s.seeds} of {s.planned}",
            f"{score} accuracy": plus_minus(s.accuracy),
            f"{score} loss": plus_minus(s.loss),
            "wall time": report.duration(s.seconds.mean),
            "time per epoch": _seconds(s.seconds_per_epoch.mean),
        }
        for s in summary.strategies
    ]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def describe(summary: Summary) -> list[str]:
    """The summary as aligned text lines (the CLI prints them): a table, then the verdict.
    Times are means over the seeds; ± is one sample standard deviation (ddof=1)."""
    rows = table_rows(summary)
    if not rows:
        return [summary.verdict.statement]
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in columns).rstrip() for r in rows]
    lines.append("± is the standard deviation across seeds; times are means.")
    return [*lines, summary.verdict.statement]


def is_repeated(runs: Sequence[Run]) -> bool:
    """Runs of one comparison group in which some strategy ran more than once (seeds)."""
    groups = {r.group_id for r in runs}
    strategies_run = [r.strategy for r in runs]
    return (
        len(groups) == 1 and None not in groups and len(set(strategies_run)) < len(strategies_run)
    )


def splits_vary(runs: Iterable[Run]) -> bool:
    """Whether the runs trained on splits drawn with different seeds (--repeat-splits)."""
    return len({(r.config.manifest or {}).get("seed") for r in runs}) > 1


def _strategy(name: str, repeats: list[Repeat], planned: int | None) -> StrategySummary:
    own = [r for r in repeats if r.strategy == name]
    return StrategySummary(
        strategy=name,
        seeds=len(own),
        planned=max(planned or 0, len(own)),
        accuracy=Spread.of(r.accuracy for r in own),
        loss=Spread.of(r.loss for r in own),
        seconds=Spread.of(r.seconds for r in own),
        seconds_per_epoch=Spread.of(r.seconds_per_epoch for r in own),
        by_seed={r.seed: r.accuracy for r in own},
    )


def _rank(row: StrategySummary) -> tuple[int, float, float]:
    """Highest mean accuracy first; ties: lower mean loss; strategies without a score last."""
    if row.accuracy.mean is None:
        return (1, 0.0, 0.0)
    loss = row.loss.mean if row.loss.mean is not None else math.inf
    return (0, -row.accuracy.mean, loss)


def points(difference: float) -> str:
    """An accuracy difference in percentage points: '4.1 points'."""
    return f"{100 * difference:.1f} points"


def _verdict(rows: list[StrategySummary], score: str) -> Verdict:
    scored = [r for r in rows if r.seeds]
    if not scored:
        return Verdict(None, None, None, 0, None, False, "No run has finished yet.")
    best = scored[0]
    if len(scored) == 1:
        return Verdict(
            best.strategy,
            None,
            None,
            0,
            None,
            False,
            f"Only {best.strategy} has finished a run: nothing to compare it with yet.",
        )
    second = scored[1]
    seeds = sorted(set(best.by_seed) & set(second.by_seed))
    diffs = [best.by_seed[s] - second.by_seed[s] for s in seeds]
    best_mean, second_mean = best.accuracy.mean, second.accuracy.mean
    assert best_mean is not None and second_mean is not None  # both have scored runs (seeds)
    difference = statistics.fmean(diffs) if diffs else best_mean - second_mean
    lead = _lead(best.strategy, second.strategy, difference, score)
    test = _paired_test(diffs)
    significant = test.significant
    statement = lead + test.words
    return Verdict(
        best.strategy, second.strategy, difference, len(seeds), test.p_value, significant, statement
    )


def _lead(best: str, second: str, difference: float, score: str) -> str:
    if difference <= 0:  # best by its mean over all seeds, not ahead on the shared ones
        return f"{best} and {second} are level on {score}"
    return f"{best} beats {second} by {points(difference)} of {score}"


@dataclass(frozen=True)
class _Test:
    p_value: float | None
    significant: bool
    words: str  # continues the lead sentence


def _paired_test(diffs: list[float]) -> _Test:
    """A paired t-test of the per-seed differences (scipy.stats.ttest_rel against zero)."""
    n = len(diffs)
    if n == 0:
        return _Test(
            None,
            False,
            ", but no seed finished for both, so the studio cannot tell "
            "whether that is more than noise.",
        )
    if n == 1:
        return _Test(
            None,
            False,
            "; with one seed the studio cannot tell whether that is more than the seed-to-seed "
            "noise: repeat the comparison with 3 or more seeds.",
        )
    if max(diffs) - min(diffs) <= 1e-12:  # no spread at all: a t-test has nothing to weigh
        if abs(diffs[0]) <= 1e-12:
            return _Test(None, False, f" on every one of the {n} seeds: no difference.")
        return _Test(
            None,
            True,
            f", by the same amount on every one of the {n} seeds (no seed-to-seed "
            "noise to weigh it against).",
        )
    from scipy import stats

    p_value = float(stats.ttest_rel(diffs, [0.0] * n).pvalue)
    if p_value < SIGNIFICANCE:
        return _Test(
            p_value,
            True,
            f"; with {n} seeds this is larger than the seed-to-seed noise (p={p_value:.2g}).",
        )
    return _Test(
        p_value,
        False,
        f"; with {n} seeds this is not distinguishable from the seed-to-seed noise "
        f"(p={p_value:.2g}): more seeds may tell them apart.",
    )


@dataclass(frozen=True)
class Band:
    """One strategy's curve over its seeds: per epoch the mean, the lowest and the highest
    value, and how many runs reached that epoch (early stopping ends some sooner)."""

    epochs: tuple[int, ...]
    mean: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    runs: tuple[int, ...]


def band(histories: Iterable[Sequence[EpochRecord]], metric: str = "val_accuracy") -> Band:
    """The mean curve of several runs' `metric` with its min..max spread, epoch by epoch."""
    by_epoch: dict[int, list[float]] = {}
    for history in histories:
        for record in history:
            value = record.value(metric)
            if value is not None:
                by_epoch.setdefault(record.epoch, []).append(float(value))
    epochs = sorted(by_epoch)
    values = [by_epoch[e] for e in epochs]
    return Band(
        tuple(epochs),
        tuple(statistics.fmean(v) for v in values),
        tuple(min(v) for v in values),
        tuple(max(v) for v in values),
        tuple(len(v) for v in values),
    )


def bands(
    store: store_mod.Store, runs: Iterable[Run], metric: str = "val_accuracy"
) -> dict[str, Band]:
    """Per strategy (in the order of first appearance) the band of its runs' curves so far."""
    grouped: dict[str, list[Sequence[EpochRecord]]] = {}
    for run in runs:
        grouped.setdefault(run.strategy, []).append(store.epoch_history(run.id))
    return {name: band(histories, metric) for name, histories in grouped.items()}
