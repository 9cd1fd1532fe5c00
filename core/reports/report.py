"""Plain data for the pages: progress text, run labels, result tables and CSV.

Everything here takes store records and typed results and returns strings, numbers and lists
of dicts, so what the pages show is unit-tested without Streamlit.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.data import samples
from core.data.datasets import ScanProgress
from core.model.weights import WeightsSpec
from core.reports import references
from core.runs import store as store_mod
from core.runs import strategies, tasks
from core.runs.results import Progress, RunResult
from core.runs.store import Run

STATUS_WORDS = {
    store_mod.QUEUED: "waiting for its turn",
    store_mod.RUNNING: "running",
    store_mod.STOPPING: "stopping",
    store_mod.STOPPED: "stopped",
    store_mod.DONE: "finished",
    store_mod.FAILED: "failed",
    store_mod.INTERRUPTED: "interrupted",
    store_mod.DIVERGED: "diverged",
}
BEST_MARK = "★ best"


def duration(seconds: float | None) -> str:
    """'45 s', '3 min 05 s', '1 h 02 min'; '-' for unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def task(run: Run) -> str:
    return run.config.task


def is_probe(run: Run) -> bool:
    return task(run) == tasks.PROBE


def is_lr_find(run: Run) -> bool:
    return task(run) == tasks.LR_FIND


def is_training(run: Run) -> bool:
    """A training run (not a measurement, not a learning-rate range test)."""
    return task(run) == tasks.TRAIN


def is_map(run: Run) -> bool:
    """A map of the data (core.train.datamap): no model, shown on the Data page."""
    return task(run) == tasks.MAP


# runs that train nothing, in words
SIDE_TASKS = {name: t.title for name, t in tasks.SIDE_TASKS.items()}


def task_title(run: Run) -> str:
    """What a run does, in words: its strategy's title, or the kind of measurement."""
    return run.config.task_spec.title_for(strategy_title(run.strategy))


def task_page(run: Run) -> str:
    """The page that shows a run's results: Strategy (a probe), Data (a map) or Train."""
    return run.config.task_spec.page


def strategy_title(key: str) -> str:
    spec = strategies.STRATEGIES.get(key)
    return spec.title if spec else key


def shared_start_note(strategy_keys: Iterable[str]) -> str | None:
    """When a compared strategy begins with another compared strategy's whole training (the
    fine-tunes start with the head phase), their curves coincide at first: say so, in one line
    for the chart's caption. None when no two of them share a start."""
    specs = [strategies.get(k) for k in dict.fromkeys(strategy_keys) if k in strategies.STRATEGIES]
    pairs = [
        (longer, shorter)
        for shorter in specs
        for longer in specs
        if len(longer.phases) > len(shorter.phases)
        and longer.phases[: len(shorter.phases)] == shorter.phases
    ]
    if not pairs:
        return None
    starts = "; ".join(
        f"the first phase of {longer.title} is {shorter.title}" for longer, shorter in pairs
    )
    return (
        f"Overlapping curves are expected: {starts} (same pictures, split and seed), so their "
        "first epochs match. Each run has its own dash and marker, so both stay visible."
    )


def run_title(run: Run) -> str:
    """What tells runs apart, for a person: what ran, with which weights (pretrained or not,
    and which file), at which image size, on which dataset. 'Linear probe · ImageNet · 48 px
    · digits'. A name a person gave the run comes first: 'baseline: Linear probe · ...'."""
    config = run.config
    what = task_title(run)
    described = " · ".join(
        (what, weights_label(run), f"{config.image_size} px", Path(run.dataset).name)
    )
    return f"{run.display_name}: {described}" if run.display_name else described


def weights_label(run: Run) -> str:
    """The weights a run started from, in words ('ImageNet', 'no pretrained weights', a file)."""
    config = run.config
    return (config.weights_for_run() if is_training(run) else config.weights_spec).label


def series_name(run: Run) -> str:
    """A run's short name in a chart legend: its name (or strategy), weights and id's end."""
    what = run.display_name or strategy_title(run.strategy)
    return f"{what} · {weights_label(run)} ({run.id[-6:]})"


def run_name(run: Run) -> str:
    """What a run is, without its status (for labels drawn outside the polled parts)."""
    return f"{run_title(run)} ({run.id})"


def run_label(run: Run) -> str:
    """One line naming a run in selectboxes: what, how, on what, how it ended, when."""
    result = run.training_result
    accuracy = result.score if result else None
    score = f", {accuracy:.1%} {result.score_name}" if result and accuracy is not None else ""
    return f"{run_title(run)} — {STATUS_WORDS.get(run.status, run.status)}{score} ({run.id})"


def owner_words(run: Run, me: str) -> str | None:
    """Who started a run, as seen from the browser session `me` (None: `me` did), with the
    time it was queued: "started in another browser at 09:41"."""
    if run.owner == me:
        return None
    at = time.strftime("%H:%M", time.localtime(run.created))
    if run.owner == store_mod.CLI_OWNER:
        return f"started from the command line at {at}"
    if run.owner is None:
        return f"started at {at} (where is not recorded: an older run)"
    return f"started in another browser at {at}"


def progress_view(run: Run, ahead: int | None = None) -> tuple[float | None, str]:
    """(fraction for a progress bar or None, one sentence) from a run's progress record;
    `ahead`: how many active runs were queued before this one, when known (seen: "waiting
    for the runs queued before this one" with none queued)."""
    p = run.progress
    if run.status == store_mod.QUEUED:
        if ahead == 0:
            return None, "Starting: the worker picks it up in a moment."
        if ahead:
            return None, f"Waiting for {ahead} run(s) queued before this one to finish."
        return None, "Waiting for the runs queued before this one to finish."
    step, steps = p.step, p.steps
    fraction = None
    if step is not None and steps:
        fraction = min(1.0, max(0.0, step / steps))
    if p.stage == "training" and p.epoch and p.epochs:
        text = f"Epoch {p.epoch} of {p.epochs}"
        if p.phase:
            text += f" (phase: {p.phase})"
        if fraction is not None:
            text += f", batch {step} of {steps}"
        if p.eta_seconds is not None:
            text += f", about {duration(p.eta_seconds)} left in this epoch"
        return fraction, text + run_eta_words(p)
    message = p.message or STATUS_WORDS.get(run.status, run.status)
    if p.stage == "scanning" and steps:
        message = _files_read_words(step or 0, steps, p.eta_seconds)
    return fraction, message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def scan_words(p: ScanProgress) -> str:
    """'reading the dataset: 1,200 of 10,000 files, about 2 min 10 s left' (the CLI, the Data
    page and a run's progress say it alike)."""
    return _files_read_words(p.done, p.total, p.seconds_left)


def _files_read_words(done: int, total: int, seconds_left: float | None) -> str:
    eta = f", about {duration(seconds_left)} left" if seconds_left is not None else ""
    return f"reading the dataset: {done:,} of {total:,} files{eta if done < total else ''}"


def run_eta_words(p: Progress) -> str:
    """The end of the progress sentence: how long training has left, every phase. 'At most':
    early stopping may end a phase sooner; a phase not yet timed is estimated from VGG16's
    measured speed until it measures its own. Scoring and saving afterwards are not counted."""
    if p.run_eta_seconds is None:
        return "."
    basis = "" if p.run_eta_measured else " (partly estimated)"
    seconds = max(p.run_eta_seconds, p.eta_seconds or 0.0)  # never less than this epoch's
    return f"; all phases: at most about {duration(seconds)} left{basis}."


def per_class_rows(result: RunResult) -> list[dict[str, Any]]:
    """Per-class figures, the image column named after the side scored (test or validation)."""
    return [
        {
            "class": row.name,
            "precision": row.precision,
            "recall": row.recall,
            "f1": row.f1,
            f"{result.evaluated_on} images": row.support,
        }
        for row in result.per_class
    ]


def interval_text(result: RunResult) -> str:
    """'81%–93%': the 95% interval of the test accuracy ('' without a test side)."""
    if result.test_interval is None:
        return ""
    low, high = result.test_interval
    return f"{low:.0%}–{high:.0%}"


def train_seconds(run: Run) -> float | None:
    result = run.training_result
    value = result.train_seconds if result else None
    return float(value) if value is not None else run.seconds


SIDE_NAMES = {"test": "test accuracy", "val": "validation accuracy"}


def ranking_side(runs: Iterable[Run]) -> str:
    """What compared runs are ranked by: "test" (held-out test accuracy; validation chose the
    checkpoint) when any has a test side, else "val" (older runs, before the test split)."""
    return "test" if any(r.test_accuracy is not None for r in runs) else "val"


def side_score(run: Run, side: str) -> tuple[float | None, float | None]:
    """(accuracy, loss) of a run on `side` ("test" or "val")."""
    result = run.training_result or RunResult()
    if side == "test":
        return result.test_accuracy, result.test_loss
    return result.val_accuracy, result.val_loss


def _rank_key(accuracy: float, loss: float | None) -> tuple[float, float]:
    """Higher accuracy first; ties: the lower loss."""
    return accuracy, -(loss if loss is not None else math.inf)


def best_run(runs: Iterable[Run], side: str) -> Run | None:
    """The run with the best score on `side`, or None when none has one."""
    sides = [(r, *side_score(r, side)) for r in runs]
    scored = [(r, accuracy, loss) for r, accuracy, loss in sides if accuracy is not None]
    if not scored:
        return None
    return max(scored, key=lambda s: _rank_key(s[1], s[2]))[0]


def compare_rows(runs: Iterable[Run]) -> list[dict[str, Any]]:
    """One row per run, the best marked: by test accuracy (ties: lower test loss wins); only
    when no run has a test side (older runs) by validation accuracy, which the `ranked by`
    column then says."""
    rows: list[dict[str, Any]] = []
    for run in runs:
        result = run.training_result or RunResult()
        rows.append(
            {
                "strategy": strategy_title(run.strategy),
                "run": run.id,
                "status": run.status,
                "test_accuracy": result.test_accuracy,
                "test_interval": interval_text(result),
                "test_loss": result.test_loss,
                "val_accuracy": result.val_accuracy,
                "val_loss": result.val_loss,
                "epochs": result.epochs_run,
                "train_seconds": train_seconds(run),
                "best": "",
            }
        )
    side = "test" if any(r["test_accuracy"] is not None for r in rows) else "val"
    scored = [r for r in rows if r[f"{side}_accuracy"] is not None]
    if scored:
        best = max(scored, key=lambda r: _rank_key(r[f"{side}_accuracy"], r[f"{side}_loss"]))
        best["best"] = BEST_MARK
    return rows


def test_bars(
    runs: Iterable[Run],
) -> tuple[list[str], list[float], list[tuple[float, float]]]:
    """(names, test accuracies, 95% intervals) of the runs that have a test score."""
    scored = [
        (series_name(r), result.test_accuracy, result.test_interval)
        for r in runs
        if (result := r.training_result)
        and result.test_accuracy is not None  # always so when there is an interval
        and result.test_interval is not None
    ]
    return (
        [name for name, _, _ in scored],
        [float(accuracy) for _, accuracy, _ in scored],
        [interval for _, _, interval in scored],
    )


def compare_caution(runs: Iterable[Run]) -> str | None:
    """The caution of the compared run with the widest test interval (the one that limits
    what the table can tell apart), or the no-test-side caution, or None; it names its run,
    so its numbers are never read as another run's (seen: the loser's interval under the
    winner's sentence)."""
    cautious = [r for r in runs if r.training_result is not None and r.training_result.caution]
    if not cautious:
        return None

    def width(run: Run) -> float:
        interval = run.training_result.test_interval if run.training_result else None
        return interval[1] - interval[0] if interval else 1.0

    widest = max(cautious, key=width)
    caution = widest.training_result.caution if widest.training_result else ""
    return f"{series_name(widest)}: {caution}"


def to_csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def prediction_row(file: str, top: list[dict[str, Any]]) -> dict[str, Any]:
    """One CSV row of a batch prediction: the file, the best class and the top-k list."""
    best: dict[str, Any] = top[0] if top else {"class": "", "probability": float("nan")}
    return {
        "file": file,
        "predicted": best["class"],
        "probability": round(best["probability"], 6),
        "top_k": "; ".join(f"{t['class']} {t['probability']:.3f}" for t in top),
        "error": "",
    }


def error_row(file: str, reason: str) -> dict[str, Any]:
    return {"file": file, "predicted": "", "probability": None, "top_k": "", "error": reason}


def latest_probe(
    runs: Iterable[Run], dataset: str, image_size: int | None = None, weights: str | None = None
) -> Run | None:
    """The newest similarity measurement of a dataset (optionally at an image size and with
    given weights: the advice depends on both)."""
    target = str(Path(dataset).expanduser().resolve())
    for run in runs:  # the store lists newest first
        if not is_probe(run) or str(Path(run.dataset).expanduser().resolve()) != target:
            continue
        if image_size is not None and run.config.image_size != image_size:
            continue
        if weights is None or run.config.weights_spec == WeightsSpec.parse(weights):
            return run
    return None


def latest_advice(
    runs: Iterable[Run], dataset: str, image_size: int | None = None, weights: str | None = None
) -> Run | None:
    """The newest finished measurement of a dataset that gave advice: one at this image size
    and with these weights when there is one, else the newest at any."""
    finished = [
        r for r in runs if r.status == store_mod.DONE and r.probe_result and r.probe_result.advice
    ]
    return latest_probe(finished, dataset, image_size, weights) or latest_probe(finished, dataset)


# Errors a run can end with, in plain words: (a piece of the recorded error, what happened and
# what to do). The recorded error itself becomes the technical detail.
_FAILURE_WORDS: tuple[tuple[str, str], ...] = (
    (
        "could not get the ImageNet weights",
        "The pretrained ImageNet weights could not be downloaded (is there no internet?). On "
        "the Train page, upload the weights file, or continue without pretrained weights.",
    ),
    (
        "does not fit VGG16",
        "The weights file does not fit VGG16. Choose the official VGG16 weights file (without "
        "the top) or another choice of weights on the Train page.",
    ),
    (
        "out of memory",
        "The computer ran out of memory. Lower the batch size or the image size, then start again.",
    ),
)
_TECHNICAL = ("Error:", "Exception:", "Traceback", "_pool", "_conv", "\n")


def failure_words(error: str | None) -> tuple[str, str | None]:
    """(what happened and what to do, in plain words; the technical detail, or None) for the
    error a run ended with."""
    if not error:
        return (
            "No reason was recorded. Start the run again; if it fails again, restart the app.",
            None,
        )
    for piece, plain in _FAILURE_WORDS:
        if piece in error:
            return plain, error
    if any(mark in error for mark in _TECHNICAL) or "Error" in error.split(":")[0]:
        return (
            "Something unexpected stopped the run. Your pictures and earlier runs are safe: "
            "start again, or try a smaller image size or batch size.",
            error,
        )
    return error, None  # already plain: the core's own sentences


def latest(runs: Iterable[Run], train_only: bool = True) -> Run | None:
    for run in runs:
        if not train_only or is_training(run):
            return run
    return None


def shared_references(runs: list[Run]) -> list[references.Reference]:
    """Published results to draw next to these runs' curves: those of their dataset when they
    all share one (none for a mixed comparison), judged by the first run's settings."""
    datasets_used = {r.dataset for r in runs}
    if len(datasets_used) != 1:
        return []
    config = runs[0].config
    return references.references_for(
        samples.sample_id(runs[0].dataset),
        config.image_size,
        config.weights_spec,
    )
