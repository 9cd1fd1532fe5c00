"""Managing finished runs, the same for the Runs page and the CLI: a display name (the id never
changes), free-text tags, deleting a run with its files, and filtering the list.

Each change either returns the updated run (or what was deleted) or a `runs.Refused` saying why
in a sentence the page shows and the CLI prints. Nothing here touches a run's training.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.jobs.runs import Refused
from core.reports import report
from core.runs.store import Run, Store

MAX_NAME_LENGTH = 80
MAX_TAG_LENGTH = 40
MAX_TAGS = 20


@dataclass(frozen=True)
class Deleted:
    """What delete removed: the run, its folder (None when it had none) and, when it was part
    of a comparison, how many of that comparison's runs are left."""

    run_id: str
    title: str
    folder: Path | None
    group_id: str | None = None
    group_left: int = 0

    def describe(self) -> str:
        text = f"Deleted {self.title} ({self.run_id})"
        text += " and its files." if self.folder else " (it had no files)."
        if self.group_id:
            text += (
                f" It was part of a comparison: {self.group_left} of its runs remain."
                if self.group_left
                else " It was the last run of its comparison."
            )
        return text


@dataclass(frozen=True)
class RunFilter:
    """Which runs to show; an empty field matches every run. dataset is a folder name (as the
    run names show it), tag matches runs holding every one of the tags."""

    datasets: tuple[str, ...] = ()
    strategies: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()

    def matches(self, run: Run) -> bool:
        return (
            (not self.datasets or dataset_name(run) in self.datasets)
            and (not self.strategies or strategy_key(run) in self.strategies)
            and all(tag in run.tags for tag in self.tags)
            and (not self.statuses or run.status in self.statuses)
        )


@dataclass(frozen=True)
class Facets:
    """The values present in a list of runs, for the filter widgets (sorted)."""

    datasets: tuple[str, ...]
    strategies: tuple[str, ...]
    tags: tuple[str, ...]
    statuses: tuple[str, ...]


def dataset_name(run: Run) -> str:
    return Path(run.dataset).name


def strategy_key(run: Run) -> str:
    """The strategy key, or the task ("probe", "map") of a run that trains nothing."""
    return run.strategy if report.is_training(run) else report.task(run)


def filter_runs(runs: Iterable[Run], wanted: RunFilter) -> list[Run]:
    return [run for run in runs if wanted.matches(run)]


def facets(runs: Sequence[Run]) -> Facets:
    return Facets(
        datasets=tuple(sorted({dataset_name(r) for r in runs})),
        strategies=tuple(sorted({strategy_key(r) for r in runs})),
        tags=tuple(sorted({t for r in runs for t in r.tags})),
        statuses=tuple(sorted({r.status for r in runs})),
    )


def _clean(text: str) -> str:
    """User text on one line: control characters dropped, runs of whitespace made one space."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(text or "")).split())


def _get(store: Store, run_id: str) -> Run | Refused:
    try:
        return store.get(run_id)
    except KeyError:
        return Refused(f"There is no run {run_id} (it may have been deleted).")


def rename(store: Store, run_id: str, name: str) -> Run | Refused:
    """Give a run a display name shown before its description; an empty name removes it. The
    id, and the description (strategy, weights, size, dataset), stay."""
    run = _get(store, run_id)
    if isinstance(run, Refused):
        return run
    cleaned = _clean(name)
    if len(cleaned) > MAX_NAME_LENGTH:
        return Refused(f"A run name can have at most {MAX_NAME_LENGTH} characters.")
    store.update(run.id, display_name=cleaned or None)
    return store.get(run.id)


def add_tag(store: Store, run_id: str, tag: str) -> Run | Refused:
    """Add a free-text tag (kept once; order of adding kept)."""
    run = _get(store, run_id)
    if isinstance(run, Refused):
        return run
    cleaned = _clean(tag)
    if not cleaned:
        return Refused("A tag needs at least one letter, digit or sign.")
    if len(cleaned) > MAX_TAG_LENGTH:
        return Refused(f"A tag can have at most {MAX_TAG_LENGTH} characters.")
    if cleaned in run.tags:
        return run
    if len(run.tags) >= MAX_TAGS:
        return Refused(f"A run can have at most {MAX_TAGS} tags: remove one first.")
    store.update(run.id, tags=(*run.tags, cleaned))
    return store.get(run.id)


def remove_tag(store: Store, run_id: str, tag: str) -> Run | Refused:
    """Remove a tag; a tag the run does not have is refused (a typo should not pass quietly)."""
    run = _get(store, run_id)
    if isinstance(run, Refused):
        return run
    cleaned = _clean(tag)
    if cleaned not in run.tags:
        return Refused(f"This run has no tag {cleaned!r}.")
    store.update(run.id, tags=tuple(t for t in run.tags if t != cleaned))
    return store.get(run.id)


def delete(store: Store, run_id: str) -> Deleted | Refused:
    """Delete a finished run: its row, its metrics and its folder (model, exports, bundle,
    reports). An active run is refused (stop it first). The rest of a comparison it belonged
    to is kept and still compares; the shared feature cache is kept (other runs use it)."""
    run = _get(store, run_id)
    if isinstance(run, Refused):
        return run
    if run.active or not store.delete_finished(run.id):
        now = _get(store, run.id)  # it became active meanwhile, or someone else deleted it
        if isinstance(now, Refused):
            return now
        return Refused(
            f"This run is {report.STATUS_WORDS.get(now.status, now.status)}: stop it (or wait "
            "for it to end) before deleting it.",
            busy=True,
        )
    folder = _remove_folder(store, run.id)
    left = len(store.list(group_id=run.group_id, limit=1_000)) if run.group_id else 0
    return Deleted(run.id, report.run_title(run), folder, run.group_id, left)


def _remove_folder(store: Store, run_id: str) -> Path | None:
    """Remove the run's folder below this home's runs folder (never anything else)."""
    folder = store.run_dir(run_id)
    if not folder.is_dir() or folder.is_symlink() or folder.parent != store.runs_dir:
        return None
    shutil.rmtree(folder, ignore_errors=True)
    return folder
