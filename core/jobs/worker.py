"""The worker process: takes queued runs from the store and executes them one after another.

Pages and the CLI never train: they `submit` a run and poll the store. At most one worker per
home folder runs at a time (an flock on home/worker.lock); it exits after a quiet spell and is
started again on the next submission. A run whose worker died is marked interrupted (see
`reap`) and can be resumed from its last finished epoch.

Runs queued for a Ray cluster (core.jobs.engines) are taken by a second kind of executor, the Ray
driver (`worker --engine ray`, core.jobs.ray_engine), with its own lock (home/ray-driver.lock): it
claims them, fans them out as Ray tasks and writes their progress into this same store.
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from core.data import overlay, session
from core.jobs import engines
from core.jobs.engines import Engine
from core.platform import settings
from core.platform.fileio import remove_stale_temps
from core.runs import budget
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.store import Run, Store

IDLE_SECONDS = 120.0  # a warm worker skips TensorFlow's start-up for the next run
POLL_SECONDS = 0.5
log = logging.getLogger(__name__)


def _lock_path(home: Path, kind: str = engines.LOCAL) -> Path:
    return home / ("worker.lock" if kind == engines.LOCAL else f"{kind}-driver.lock")


def _try_lock(home: Path, kind: str = engines.LOCAL) -> IO[str] | None:
    handle = open(_lock_path(home, kind), "a+")  # noqa: SIM115 - held for the worker's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    if kind != engines.LOCAL:  # who holds it: reap judges the runs it claimed by this pid
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
    return handle


def worker_running(home: Path, kind: str = engines.LOCAL) -> bool:
    handle = _try_lock(home, kind)
    if handle is None:
        return True
    handle.close()  # closing releases the probe's lock
    return False


def ray_driver_pid(home: Path) -> int | None:
    """The pid of this home's running Ray executor, or None when none runs."""
    if not worker_running(home, engines.RAY):
        return None
    try:
        return int(_lock_path(home, engines.RAY).read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][:1] not in ("Z", "X")  # zombies are dead
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


def reap(store: Store, start: bool = True) -> list[str]:
    """Mark runs whose worker is gone as interrupted (returns their ids), and start a worker
    when queued runs are waiting with none running (e.g. one that exited just as they were
    queued)."""
    lock = None if worker_running(store.home) else _try_lock(store.home)
    if lock is None:  # a worker holds the lock: only runs of dead worker processes are orphans
        return store.mark_interrupted(pid_alive, other_home_alive=pid_alive)
    driver = ray_driver_pid(store.home)
    try:  # holding the lock, no local worker can claim a run while we mark live ones; only
        # the runs a live Ray executor of this home claimed are still owned
        gone = store.mark_interrupted(
            lambda pid: driver is not None and pid == driver, other_home_alive=pid_alive
        )
    finally:
        lock.close()
    if start:
        for kind in {r.engine for r in store.list(statuses=(store_mod.QUEUED,))}:
            engine = engines.remembered(store.home) if kind == engines.RAY else Engine()
            start_worker(store.home, engine=engine)
    return gone


def start_worker(
    home: Path, idle_seconds: float = IDLE_SECONDS, engine: Engine | None = None
) -> subprocess.Popen[bytes] | None:
    """Start a detached worker (the local one, or the engine's executor) for this home unless
    one is already running."""
    engine = engine or Engine()
    if worker_running(home, engine.kind):
        return None
    log_name = "worker.log" if not engine.is_ray else f"{engine.kind}-driver.log"
    logfile = open(home / log_name, "ab")  # noqa: SIM115 - handed to the child
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "core",
            "--home",
            str(home),
            "worker",
            "--idle-seconds",
            str(idle_seconds),
            *engine.executor_args(),
        ],
        stdout=logfile,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=str(settings.PROJECT_ROOT),
    )


def with_frozen_edits(config: RunConfig, home: Path) -> RunConfig:
    """The settings with the dataset's fixes (core.data.overlay) as they are now, unless they carry
    some already: a run trains on the fixes made before it was queued, whenever it starts and
    wherever (a Ray node has no overlay of its own)."""
    if config.edits is not None:
        return config
    edits = overlay.load(home, config.dataset)
    return dataclasses.replace(config, edits=[e.to_json() for e in edits])


def absolute_paths(config: RunConfig) -> RunConfig:
    """The worker runs elsewhere (another working directory): store absolute paths."""

    def absolute(path: str) -> str:
        return str(Path(path).expanduser().resolve()) if path else path

    return dataclasses.replace(
        config,
        dataset=absolute(config.dataset),
        val_dir=config.val_dir and absolute(config.val_dir),
        weights=config.weights_spec.setting,
    )


def submit(
    store: Store,
    config: RunConfig,
    group_id: str | None = None,
    start: bool = True,
    idle_seconds: float = IDLE_SECONDS,
    owner: str | None = None,
    engine: Engine | None = None,
) -> Run:
    """Queue a run (after checking its settings, and that it fits this machine's free memory
    and disk) and make sure a worker will pick it up (one started here stays warm for
    idle_seconds after the queue empties). owner: who queued it (a session id, "cli")."""
    return submit_all(store, [config], group_id, start, idle_seconds, owner, engine)[0]


def submit_all(
    store: Store,
    configs: list[RunConfig],
    group_id: str | None = None,
    start: bool = True,
    idle_seconds: float = IDLE_SECONDS,
    owner: str | None = None,
    engine: Engine | None = None,
) -> list[Run]:
    """Queue several runs for one engine (default: the local worker), all or nothing: every
    setting is checked, and a Ray cluster is reached, before the first one is queued. The seam
    comparisons call: the local engine runs them one after another, Ray all at once as
    resources free up. Raises ValueError (engines.EngineUnavailable for the cluster)."""
    engine = engine or Engine()
    for config in configs:
        if problems := config.problems():
            raise ValueError("; ".join(problems))
        # a cluster's nodes bring their own memory and disk: this machine's budget is moot
        if not engine.is_ray and (problem := budget.run_problem(config, store.home)):
            raise ValueError(problem)
    if problem := engine.problem():
        raise engines.EngineUnavailable(problem)
    engines.remember(store.home, engine)
    made = [
        store.create(
            with_frozen_edits(absolute_paths(config), store.home),
            group_id,
            owner,
            engine=engine.kind,
        )
        for config in configs
    ]
    if start:
        reap(store, start=False)
        start_worker(store.home, idle_seconds, engine)
    return made


def resume(store: Store, run_id: str) -> Run:
    if store.get(run_id).engine == engines.RAY:  # its resume files stayed on a cluster node
        raise ValueError("a run that ran on a Ray cluster cannot be resumed: start it again")
    run = store.requeue_for_resume(run_id)
    reap(store, start=False)
    start_worker(store.home)
    return run


def serve(
    home: str | os.PathLike[str] | None = None,
    idle_seconds: float = IDLE_SECONDS,
    once: bool = False,
    engine: Engine | None = None,
) -> int:
    """The worker loop (runs in its own process): returns how many runs it executed. With a
    Ray engine, the Ray executor's loop instead (core.jobs.ray_engine, which imports Ray)."""
    if engine is not None and engine.is_ray:
        return _serve_ray(Store(home), engine, idle_seconds, once)
    store = Store(home)
    lock = _try_lock(store.home)
    if lock is None:
        log.info("another worker is running for %s", store.home)
        return 0
    from core.model import device
    from core.train import training

    plan = device.current_plan()
    device.apply(plan)
    _record_tensorflow_view(store.home)
    # we hold this home's lock: none of its runs is live elsewhere (other homes' may be), but
    # those a live Ray executor of this home claimed
    driver = ray_driver_pid(store.home)
    store.mark_interrupted(
        lambda pid: driver is not None and pid == driver, other_home_alive=pid_alive
    )
    _remove_leftovers(store.home)
    _remove_unused_uploads(store)
    executed, idle_since = 0, time.time()
    try:
        while True:
            try:
                run = store.claim_next(os.getpid())  # the local engine's runs only
            except sqlite3.Error:  # e.g. the database is being replaced: try again shortly
                log.exception("could not read the queue")
                if time.time() - idle_since > idle_seconds:  # e.g. its home was deleted: the
                    return executed  # worker would otherwise retry forever
                time.sleep(POLL_SECONDS)
                continue
            if run is None:
                if once or time.time() - idle_since > idle_seconds:
                    return executed
                time.sleep(POLL_SECONDS)
                continue
            log.info("run %s (%s) started", run.id, run.strategy)
            try:
                with device.run_precision(run.config.precision, plan):  # float32 after
                    status = training.execute(store, run.id)
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any one run
                log.exception("run %s could not be recorded", run.id)
                status = store_mod.FAILED
                store.finish(run.id, status, error=f"{type(exc).__name__}: {exc}")
            log.info("run %s ended: %s", run.id, status)
            executed += 1
            idle_since = time.time()
    finally:
        lock.close()


def _record_tensorflow_view(home: Path) -> None:
    """What TensorFlow sees in this process, for the app (sidebar, the Train page's GPU
    check, `core doctor`), which never imports TensorFlow itself."""
    from core.model import device_facts

    try:
        device_facts.record_view(home, device_facts.measure_view())
    except (OSError, RuntimeError):  # a record for the pages must never keep runs from running
        log.exception("could not record TensorFlow's view of the devices")


def _serve_ray(store: Store, engine: Engine, idle_seconds: float, once: bool) -> int:
    lock = _try_lock(store.home, engines.RAY)
    if lock is None:
        log.info("another Ray executor is running for %s", store.home)
        return 0
    try:
        from core.jobs import ray_engine  # Ray's import time is paid here only

        return ray_engine.serve(store, engine, idle_seconds, once)
    finally:
        lock.close()


def _remove_leftovers(home: Path) -> None:
    """Half-written files (`.tmp-*.keras`, weights, cache arrays) a killed worker left in any
    run folder or the feature cache. Only called holding the lock: no writer is alive."""
    removed = sum(
        remove_stale_temps(folder)
        for folder in (settings.runs_dir(home), settings.cache_dir(home))
        if folder.is_dir()
    )
    if removed:
        log.info("removed %d temporary file(s) left by a stopped worker", removed)


def _remove_unused_uploads(store: Store) -> None:
    try:
        for folder in session.remove_unused_uploads(store):
            log.info("removed unused upload folder %s", folder)
    except OSError:  # tidying up must never keep the worker from running runs
        log.exception("could not tidy the upload folders")


def wait(store: Store, run_id: str, timeout: float = 3600.0) -> Run:
    """Block until the run has finished."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        reap(store)
        run = store.get(run_id)
        if run.status in store_mod.FINISHED:
            return run
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"run {run_id} did not finish within {timeout:.0f} s")
