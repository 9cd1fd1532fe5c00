"""The rules for starting runs, the same for the pages and the CLI: at most one training run (or
one comparison) under way at a time, one similarity measurement of a dataset at a time, and a
comparison's runs on equal terms (same split, seed, image size and weights).

Each start function either queues and returns the run(s), or queues nothing and returns a
`Refused` (a core.platform.refusal.Refusal) saying why in a sentence the page shows and the CLI
prints.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.data import datasets, overlay
from core.jobs import worker
from core.jobs.engines import Engine
from core.platform.refusal import Refusal
from core.reports import report
from core.runs import store as store_mod
from core.runs import strategies, tasks
from core.runs.config import MAX_SEED, RunConfig
from core.runs.store import Run, Store

CLI_OWNER = store_mod.CLI_OWNER


class Refused(Refusal):
    """Why nothing was queued. busy: another run is under way (wait for it, or stop it);
    otherwise the settings or the dataset are wrong (change them).

    A Refusal like every other "no" of the studio, but returned rather than raised: the
    start functions answer with a run or a Refused, and a caller that wants the one handler
    (ui.refusals, the CLI's) raises it."""

    def __init__(self, reason: str, busy: bool = False) -> None:
        super().__init__(reason)
        self.busy = busy

    @property
    def reason(self) -> str:
        return self.words

    def __reduce__(self) -> tuple[type[Refused], tuple[str, bool]]:
        return (type(self), (self.reason, self.busy))


def under_way(store: Store) -> list[Run]:
    """The active runs, after runs of dead workers were marked interrupted (so a crashed
    worker never blocks new runs)."""
    worker.reap(store)
    return store.list(statuses=store_mod.ACTIVE)


def start_training(
    store: Store,
    config: RunConfig,
    owner: str | None = None,
    idle_seconds: float = worker.IDLE_SECONDS,
    engine: Engine | None = None,
    task: str | None = None,
) -> Run | Refused:
    """Queue a run of `task` (None: config's own, "train" by default; "lr_find": the
    learning-rate range test of config's strategy, its first Keras phase with config's
    optimizer) unless any run is under way.
    Checked against the store right before queueing, so a second click, a second tab, a stale
    page or the command line never starts a second run (the finder trains too, and its result
    is wanted before training starts). owner: who asks (a browser session id, or CLI_OWNER).
    engine: where it runs (default: Engine.from_environment(), the local worker unless
    STUDIO_RAY_ADDRESS is set); a cluster that cannot be reached refuses it, nothing queued."""
    spec = tasks.get(task or config.task)
    if under_way(store):
        return Refused(spec.busy, busy=True)
    try:
        return worker.submit(
            store,
            dataclasses.replace(config, task=spec.name),
            owner=owner,
            idle_seconds=idle_seconds,
            engine=engine or Engine.from_environment(),
        )
    except ValueError as exc:  # engines.EngineUnavailable is one
        return Refused(f"{spec.cannot_start}: {exc}")


def start_lr_find(
    store: Store,
    config: RunConfig,
    owner: str | None = None,
    idle_seconds: float = worker.IDLE_SECONDS,
    engine: Engine | None = None,
) -> Run | Refused:
    """start_training with task "lr_find"."""
    return start_training(store, config, owner, idle_seconds, engine, task=tasks.LR_FIND)


def resume_training(store: Store, run_id: str, owner: str | None = None) -> Run | Refused:
    """Queue an interrupted run again (from its last finished epoch) unless a run is under
    way; the one who resumes it owns it from now on."""
    if under_way(store):
        return Refused("Another run is under way: resume this one when it ends.", busy=True)
    try:
        run = worker.resume(store, run_id)
    except ValueError as exc:
        return Refused(str(exc))
    if owner is not None:
        store.update(run_id, owner=owner)
    return store.get(run.id)


def start_probe(
    store: Store,
    dataset: str,
    image_size: int,
    weights: str,
    owner: str | None = None,
    max_per_class: int | None = None,
) -> Run | Refused:
    """Queue a similarity measurement (the advisor's linear probe) of a dataset, on at most
    `max_per_class` pictures per class (None: RunConfig's default)."""
    cap = RunConfig.default("probe_max_per_class") if max_per_class is None else max_per_class
    config = RunConfig(
        dataset=dataset,
        task=tasks.PROBE,
        image_size=image_size,
        weights=weights,
        probe_max_per_class=cap,
    )
    return queue_probe(store, config, owner)  # worker.submit refuses a cap below 2


def queue_probe(
    store: Store,
    config: RunConfig,
    owner: str | None = None,
    idle_seconds: float = worker.IDLE_SECONDS,
) -> Run | Refused:
    """Queue a probe run unless one of the same dataset is under way. A probe is short, so it
    may queue behind a training run."""
    return _queue_side_job(store, config, owner, idle_seconds)


DEFAULT_SEEDS = 1  # runs per strategy in a comparison (1: one run each, as before repeats)
MAX_SEEDS = 20


def start_map(
    store: Store, dataset: str, image_size: int, weights: str, owner: str | None = None
) -> Run | Refused:
    """Queue a map of the data (core.train.datamap) unless one of this dataset is under way. Like a
    probe it is short (cached features), so it may queue behind a training run."""
    config = RunConfig(dataset=dataset, task=tasks.MAP, image_size=image_size, weights=weights)
    return _queue_side_job(store, config, owner)


def _queue_side_job(
    store: Store,
    config: RunConfig,
    owner: str | None = None,
    idle_seconds: float = worker.IDLE_SECONDS,
) -> Run | Refused:
    """Queue a side job (a probe, a map) unless one of its task and dataset is under way."""
    spec = config.task_spec
    dataset = worker.absolute_paths(config).dataset
    if any(report.task(r) == spec.name and r.dataset == dataset for r in under_way(store)):
        return Refused(spec.busy, busy=True)
    try:
        return worker.submit(store, config, owner=owner, idle_seconds=idle_seconds)
    except ValueError as exc:
        return Refused(f"{spec.cannot_start}: {exc}")


def latest_map(store: Store, dataset: str) -> Run | None:
    """The newest map run of a dataset (any status), or None."""
    target = str(Path(dataset).expanduser().resolve())
    for run in store.list(limit=200):
        if report.is_map(run) and str(Path(run.dataset).expanduser().resolve()) == target:
            return run
    return None


def comparison_configs(
    found: datasets.Scan,
    base: RunConfig,
    keys: Sequence[str] | None = None,
    seeds: int = DEFAULT_SEEDS,
    repeat_splits: bool = False,
) -> list[RunConfig]:
    """Configs for every chosen strategy (`keys`, in the strategy table's order; default: all),
    `seeds` times: repeat k trains with seed base.seed + k. Every run has base's settings and a
    saved split (manifest), so the strategies train, validate and are tested on the same
    pictures. The split is drawn once with base's seed (only training varies between repeats),
    or with `repeat_splits` once per repeat with that repeat's seed (a folder's own
    train/validation/test layout cannot vary). Ordered repeat by repeat, so a comparison
    stopped midway holds as many finished seeds of each strategy. Raises datasets.DatasetError
    when the dataset cannot be split."""
    chosen = set(strategies.STRATEGIES if keys is None else keys)
    ordered = [key for key in strategies.STRATEGIES if key in chosen]
    # the dataset's fixes are frozen here, with the split: a relabel made while the
    # comparison runs must not reach the runs that start later
    edits = [e.to_json() for e in found.edits]

    def manifest_for(seed: int) -> dict[str, Any]:
        split = datasets.split(
            found, val_fraction=base.val_fraction, test_fraction=base.test_fraction, seed=seed
        )
        return overlay.record(split.manifest(), found.edits)

    shared = manifest_for(base.seed)
    configs = []
    for repeat in range(seeds):
        seed = base.seed + repeat
        manifest = manifest_for(seed) if repeat_splits else shared
        configs += [
            dataclasses.replace(
                base, strategy=key, seed=seed, manifest=manifest, edits=edits, label="compare"
            )
            for key in ordered
        ]
    return configs


def start_comparison(
    store: Store,
    found: datasets.Scan,
    base: RunConfig,
    keys: Sequence[str] | None = None,
    owner: str | None = None,
    seeds: int = DEFAULT_SEEDS,
    repeat_splits: bool = False,
    idle_seconds: float = worker.IDLE_SECONDS,
    engine: Engine | None = None,
) -> list[Run] | Refused:
    """Queue `seeds` runs of each chosen strategy (default: every one) under a shared group id,
    unless any run is under way; all or nothing. The local worker runs them one after
    another, a Ray engine (default: Engine.from_environment(), local unless
    STUDIO_RAY_ADDRESS is set) all at once as the cluster has room; a cluster that cannot be
    reached refuses the comparison, nothing queued."""
    if under_way(store):
        return Refused("Runs are already under way: wait for them to end first.", busy=True)
    unknown = [k for k in keys or () if k not in strategies.STRATEGIES]
    if unknown:
        return Refused(f"Unknown strategies: {', '.join(unknown)}.")
    if keys is not None and not keys:
        return Refused("Choose at least one strategy to compare.")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        return Refused(f"Seeds per strategy must be a whole number from 1 to {MAX_SEEDS}.")
    if base.seed + seeds - 1 > MAX_SEED:
        return Refused("The seed is too large to add repeats to: choose a smaller seed.")
    try:
        configs = comparison_configs(found, base, keys, seeds, repeat_splits)
    except datasets.DatasetError as exc:
        return Refused(f"The dataset cannot be split: {exc}")
    problems = list(dict.fromkeys(p for config in configs for p in config.problems()))
    if problems:
        return Refused("The comparison cannot start: " + "; ".join(problems))
    try:
        return worker.submit_all(
            store,
            configs,
            group_id=uuid.uuid4().hex,
            owner=owner,
            idle_seconds=idle_seconds,
            engine=engine or Engine.from_environment(),
        )
    except ValueError as exc:  # engines.EngineUnavailable is one
        return Refused(f"The comparison cannot start: {exc}")


def stop_comparison(store: Store, group_id: str) -> list[Run]:
    """Stop a whole comparison: its queued runs end now (the worker never starts them), its
    running one within one batch; finished runs keep their results. Returns the group's
    runs."""
    return store.request_stop_group(group_id)
