"""The run store: SQLite (WAL) for run records and metrics; files live in each run's folder.

Every process (the app, the CLI, the worker) opens its own short-lived connections, so the store
is safe across processes. The worker writes progress and metrics; the pages and the CLI poll
`metrics_since(run_id, seq)` and `get(run_id)`. A run's config, progress and result are typed
values (RunConfig, core.runs.results): this module is the only place they become JSON and back.
"""

from __future__ import annotations

import builtins
import fcntl
import json
import logging
import math
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.platform import settings
from core.runs import budget, live
from core.runs.config import RunConfig
from core.runs.results import (
    BatchRecord,
    EpochRecord,
    LrFindResult,
    ProbeResult,
    Progress,
    Result,
    RunResult,
    result_from_json,
)

log = logging.getLogger(__name__)
_CORRUPT = ("SQLITE_NOTADB", "SQLITE_CORRUPT")  # unreadable file: moved aside, recreated
MAX_WORKER_DEATHS = 2  # a run that killed its worker this often fails instead of resuming

QUEUED, RUNNING, STOPPING = "queued", "running", "stopping"
STOPPED, DONE, FAILED, INTERRUPTED, DIVERGED = (
    "stopped",
    "done",
    "failed",
    "interrupted",
    "diverged",
)
ACTIVE = (QUEUED, RUNNING, STOPPING)
CLI_OWNER = "cli"  # the owner of runs queued from the command line (others: a session id)
LIVE = (RUNNING, STOPPING)  # a worker process owns the run
FINISHED = (STOPPED, DONE, FAILED, INTERRUPTED, DIVERGED)
WITH_MODEL = (DONE, STOPPED, DIVERGED)  # these may have a usable model

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    status TEXT NOT NULL,
    strategy TEXT NOT NULL,
    dataset TEXT NOT NULL,
    group_id TEXT,
    config TEXT NOT NULL,
    progress TEXT NOT NULL DEFAULT '{}',
    result TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    resume INTEGER NOT NULL DEFAULT 0,
    worker_pid INTEGER,
    started REAL,
    finished REAL,
    model_path TEXT,
    model_sha256 TEXT,
    home TEXT,
    worker_home TEXT,
    worker_host TEXT,
    worker_deaths INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    display_name TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    engine TEXT
);
CREATE TABLE IF NOT EXISTS metrics (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    phase TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    step INTEGER NOT NULL,
    time REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics (run_id, seq);
CREATE TABLE IF NOT EXISTS batches (
    run_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    phase TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    step INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    loss REAL NOT NULL,
    time REAL NOT NULL,
    PRIMARY KEY (run_id, number)
);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status, created);
"""
TABLES = ("runs", "metrics", "batches")  # a database lacking one gets it (SCHEMA: IF NOT EXISTS)
# Columns added after the first release: (name, declaration), added to older databases.
ADDED_COLUMNS = (
    ("home", "TEXT"),  # the studio home that queued the run: its files live there
    ("worker_home", "TEXT"),  # where the worker that owns the run lives (with host and pid)
    ("worker_host", "TEXT"),
    ("worker_deaths", "INTEGER NOT NULL DEFAULT 0"),  # workers that died during this run
    ("owner", "TEXT"),  # who queued it: a browser session id or "cli"; NULL: unknown (older)
    ("display_name", "TEXT"),  # a name a person gave the run (the id never changes); NULL: none
    ("tags", "TEXT NOT NULL DEFAULT '[]'"),  # free-text tags, a JSON list
    ("engine", "TEXT"),  # what executes it: NULL or "local" (the worker), "ray" (a cluster)
)
LOCAL_ENGINE = "local"


@dataclass
class Run:
    id: str
    created: float
    updated: float
    status: str
    strategy: str
    dataset: str
    group_id: str | None
    config: RunConfig
    progress: Progress
    result: Result | None  # None until the run has one
    error: str | None
    stop_requested: bool
    resume: bool
    worker_pid: int | None
    started: float | None
    finished: float | None
    model_path: str | None
    model_sha256: str | None
    owner: str | None = None  # who queued the run (see ADDED_COLUMNS); None: not known
    display_name: str | None = None  # a person's name for the run (core.jobs.run_admin.rename)
    tags: tuple[str, ...] = ()  # free-text tags (core.jobs.run_admin.add_tag / remove_tag)
    engine: str = LOCAL_ENGINE  # what executes it: "local" (the worker) or "ray" (a cluster)

    @property
    def training_result(self) -> RunResult | None:
        return self.result if isinstance(self.result, RunResult) else None

    @property
    def probe_result(self) -> ProbeResult | None:
        return self.result if isinstance(self.result, ProbeResult) else None

    @property
    def lr_find_result(self) -> LrFindResult | None:
        return self.result if isinstance(self.result, LrFindResult) else None

    @property
    def val_accuracy(self) -> float | None:
        return self.training_result.val_accuracy if self.training_result else None

    @property
    def test_accuracy(self) -> float | None:
        return self.training_result.test_accuracy if self.training_result else None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started


@dataclass
class Metric:
    seq: int
    run_id: str
    kind: str  # "epoch" (older runs also hold "batch" rows: batch losses now live in `batches`)
    phase: str
    epoch: int
    step: int
    time: float
    data: dict[str, Any] = field(default_factory=dict[str, Any])


class Store:
    """The run store. Every access checks the database file: a deleted one is created again and
    an unreadable (corrupt) one is moved aside and replaced, so a long-lived Store (the app's
    cached one, the worker's) keeps working; `notices` says what happened and where."""

    def __init__(self, home: str | os.PathLike[str] | None = None):
        self.home = settings.studio_home(home)
        self.path = settings.db_path(self.home)
        self.runs_dir = settings.runs_dir(self.home)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.host = socket.gethostname()
        self.notices: list[str] = []
        with self._connect():
            pass

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = self._open()
        try:
            yield db
        except sqlite3.DatabaseError as exc:
            if _is_corrupt(exc):  # found mid-query: the next access starts on a fresh file
                db.close()
                self._recover(exc)
            raise
        finally:
            db.close()

    def _open(self) -> sqlite3.Connection:
        for attempt in (1, 2):
            if not self.path.exists():
                _remove_journal(self.path)  # a stale WAL must not replay into a new file
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                _ensure_schema(db)
                return db
            except sqlite3.DatabaseError as exc:
                db.close()
                if attempt == 2 or not _is_corrupt(exc):
                    raise
                self._recover(exc)
        raise AssertionError("unreachable")

    def _recover(self, exc: sqlite3.DatabaseError) -> None:
        """Move an unreadable database aside (once, even when several processes notice)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".recover.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not self.path.exists() or _readable(self.path):
                return  # another process has replaced it already
            aside = self.path.with_name(
                f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
            )
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                journal = Path(str(self.path) + suffix)
                if journal.exists():
                    os.replace(journal, Path(str(aside) + suffix))
        message = (
            f"the run database {self.path} could not be read ({exc}); it was moved to {aside} "
            "and a new, empty database was created (run folders are kept)"
        )
        log.warning(message)
        self.notices.append(message)

    # -- runs ---------------------------------------------------------------------------------
    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def create(
        self,
        config: RunConfig,
        group_id: str | None = None,
        owner: str | None = None,
        engine: str = LOCAL_ENGINE,
    ) -> Run:
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        now = time.time()
        with self._connect() as db:
            db.execute(
                "INSERT INTO runs (id, created, updated, status, strategy, dataset, group_id, "
                "config, home, owner, engine) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    now,
                    now,
                    QUEUED,
                    config.strategy,
                    config.dataset,
                    group_id,
                    json.dumps(_to_json(config)),
                    str(self.home),
                    owner,
                    engine,
                ),
            )
        self.run_dir(run_id).mkdir(parents=True, exist_ok=True)
        return self.get(run_id)

    def get(self, run_id: str) -> Run:
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run {run_id!r}")
        return _run(row)

    def find(self, run_id_prefix: str) -> Run | None:
        """The run whose id starts with this prefix; None when none or several match."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM runs WHERE substr(id, 1, ?) = ? LIMIT 2",
                (len(run_id_prefix), run_id_prefix),
            ).fetchall()
        return _run(rows[0]) if len(rows) == 1 else None

    def with_model(self, model_path: str) -> Run | None:
        """The run that saved this model file (any age), or None."""
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM runs WHERE model_path = ? LIMIT 1", (model_path,)
            ).fetchone()
        return _run(row) if row else None

    def list(
        self, statuses: tuple[str, ...] | None = None, group_id: str | None = None, limit: int = 500
    ) -> list[Run]:
        query, args = "SELECT * FROM runs WHERE 1=1", []
        if statuses:
            query += f" AND status IN ({','.join('?' * len(statuses))})"
            args += list(statuses)
        if group_id:
            query += " AND group_id = ?"
            args.append(group_id)
        query += " ORDER BY created DESC LIMIT ?"
        with self._connect() as db:
            return [_run(r) for r in db.execute(query, (*args, limit)).fetchall()]

    def update(self, run_id: str, **fields: Any) -> None:
        """Set columns of a run; progress, result and config are given as their typed values
        (a dict in their JSON shape is read as that type first: unknown keys are dropped),
        tags as a sequence of strings."""
        for key in ("progress", "result", "config"):
            if key in fields:
                fields[key] = json.dumps(_to_json(_PARSE[key](fields[key])))
        if "tags" in fields:
            fields["tags"] = json.dumps(list(fields["tags"]))
        fields["updated"] = time.time()
        assignments = ", ".join(f"{k} = ?" for k in fields)
        with self._connect() as db:
            db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*fields.values(), run_id))

    def claim_next(self, worker_pid: int, engine: str = LOCAL_ENGINE) -> Run | None:
        """Atomically take the oldest run queued in this home for this engine's executor (None
        when the queue is empty). Homes sharing one database (STUDIO_DB) each run their own
        runs; the local worker never takes a run queued for a cluster, nor the reverse."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT id FROM runs WHERE status = ? AND (home = ? OR home IS NULL) "
                "AND COALESCE(engine, ?) = ? ORDER BY created LIMIT 1",
                (QUEUED, str(self.home), LOCAL_ENGINE, engine),
            ).fetchone()
            if row is None:
                db.execute("COMMIT")
                return None
            now = time.time()
            db.execute(
                "UPDATE runs SET status = ?, worker_pid = ?, worker_home = ?, worker_host = ?,"
                " started = COALESCE(started, ?), updated = ?, error = NULL WHERE id = ?",
                (RUNNING, worker_pid, str(self.home), self.host, now, now, row["id"]),
            )
            db.execute("COMMIT")
        return self.get(row["id"])

    def request_stop(self, run_id: str) -> Run:
        """Ask a run to stop: a queued run stops at once, a running one within one batch."""
        self._stop_where("id", run_id)
        return self.get(run_id)

    def request_stop_group(self, group_id: str) -> builtins.list[Run]:
        """Stop every run of a group at once (queued ones now, a running one within one batch);
        returns the group's runs afterwards."""
        self._stop_where("group_id", group_id)
        return self.list(group_id=group_id)

    def _stop_where(self, column: str, value: str) -> None:
        """Queued runs matching column = value stop now, running ones are asked to stop. One
        transaction, so the worker cannot claim a queued run between the two updates."""
        assert column in ("id", "group_id")  # a column name, never user text
        now = time.time()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                f"UPDATE runs SET status = ?, finished = ?, updated = ? "
                f"WHERE {column} = ? AND status = ?",
                (STOPPED, now, now, value, QUEUED),
            )
            db.execute(
                f"UPDATE runs SET stop_requested = 1, status = ?, updated = ? "
                f"WHERE {column} = ? AND status = ?",
                (STOPPING, now, value, RUNNING),
            )
            db.execute("COMMIT")

    def stop_requested(self, run_id: str) -> bool:
        with self._connect() as db:
            row = db.execute("SELECT stop_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return bool(row and row["stop_requested"])

    def finish(self, run_id: str, status: str, error: str | None = None, **fields: Any) -> None:
        self.update(run_id, status=status, error=error, finished=time.time(), **fields)

    def mark_interrupted(
        self,
        is_alive: Callable[[int | None], bool],
        other_home_alive: Callable[[int | None], bool] = lambda pid: True,
    ) -> builtins.list[str]:
        """Runs whose worker process is gone become `interrupted` (resumable). A worker is
        known by home + host + pid: `is_alive(pid)` judges this home's workers (the caller may
        hold this home's worker lock), `other_home_alive(pid)` those of another home on this
        host; a worker on another host is never judged from here."""
        marked = []
        for run in self.list(statuses=LIVE):
            home, host = self._worker_place(run.id)
            if host not in (None, self.host):
                continue
            ours = home in (None, str(self.home))
            if (is_alive if ours else other_home_alive)(run.worker_pid):
                continue
            now = time.time()
            with self._connect() as db:  # only if still live: never overwrite a final status
                changed = db.execute(
                    "UPDATE runs SET worker_deaths = worker_deaths + 1, "
                    "status = CASE WHEN worker_deaths + 1 >= ? THEN ? ELSE ? END, "
                    "error = CASE WHEN worker_deaths + 1 >= ? THEN ? ELSE ? END, "
                    "finished = ?, updated = ? "
                    f"WHERE id = ? AND status IN ({','.join('?' * len(LIVE))})",
                    (
                        MAX_WORKER_DEATHS,
                        FAILED,
                        INTERRUPTED,
                        MAX_WORKER_DEATHS,
                        _died_again_message(run),
                        "the worker process stopped during this run; it can be resumed",
                        now,
                        now,
                        run.id,
                        *LIVE,
                    ),
                ).rowcount
            if changed:
                marked.append(run.id)
        return marked

    def worker_deaths(self, run_id: str) -> int:
        """How many worker processes died while executing this run."""
        with self._connect() as db:
            row = db.execute("SELECT worker_deaths FROM runs WHERE id = ?", (run_id,)).fetchone()
        return int(row["worker_deaths"]) if row else 0

    def _worker_place(self, run_id: str) -> tuple[str | None, str | None]:
        """(home, host) of the worker that claimed the run."""
        with self._connect() as db:
            row = db.execute(
                "SELECT worker_home, worker_host FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
        return (row["worker_home"], row["worker_host"]) if row else (None, None)

    def requeue_for_resume(self, run_id: str) -> Run:
        run = self.get(run_id)
        if run.status != INTERRUPTED:
            raise ValueError(f"only interrupted runs can be resumed (this one is {run.status})")
        self.update(run_id, status=QUEUED, resume=1, stop_requested=0, finished=None, error=None)
        return self.get(run_id)

    def delete_finished(self, run_id: str) -> bool:
        """Remove a run's row and every row of it in other tables (metrics, ...) unless the run
        is active (one transaction, so a worker cannot claim or resume it in between); True
        when it was removed. The caller removes its files (core.jobs.run_admin.delete)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            removed = db.execute(
                f"DELETE FROM runs WHERE id = ? AND status NOT IN ({','.join('?' * len(ACTIVE))})",
                (run_id, *ACTIVE),
            ).rowcount
            for table in _tables_with_run_id(db) if removed else ():
                db.execute(f'DELETE FROM "{table}" WHERE run_id = ?', (run_id,))
            db.execute("COMMIT")
        return bool(removed)

    # -- metrics ------------------------------------------------------------------------------
    def add_metric(
        self,
        run_id: str,
        kind: str,
        phase: str,
        epoch: int,
        step: int,
        data: dict[str, Any],
        at: float | None = None,
    ) -> None:
        """One metrics record; `at` when it was measured (default now: a record relayed from
        a cluster node keeps its own time)."""
        when = time.time() if at is None else at
        with self._connect() as db:
            db.execute(
                "INSERT INTO metrics (run_id, kind, phase, epoch, step, time, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, kind, phase, epoch, step, when, json.dumps(data)),
            )

    def metrics_since(
        self,
        run_id: str,
        since_seq: int = 0,
        kind: str | None = None,
    ) -> builtins.list[Metric]:
        query = "SELECT * FROM metrics WHERE run_id = ? AND seq > ?"
        args: builtins.list[object] = [run_id, since_seq]
        if kind:
            query += " AND kind = ?"
            args.append(kind)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY seq", args).fetchall()
        return [
            Metric(
                r["seq"],
                r["run_id"],
                r["kind"],
                r["phase"],
                r["epoch"],
                r["step"],
                r["time"],
                json.loads(r["data"]),
            )
            for r in rows
        ]

    def epoch_history(self, run_id: str) -> builtins.list[EpochRecord]:
        """One record per finished epoch: phase, epoch (global, 1-based) and its metrics."""
        rows = self.metrics_since(run_id, 0, kind="epoch")
        return [EpochRecord.from_metric(m.phase, m.epoch, m.time, m.data) for m in rows]

    # -- batch losses -------------------------------------------------------------------------
    def add_batches(
        self, run_id: str, records: builtins.list[BatchRecord], cap: int = live.MAX_BATCH_RECORDS
    ) -> None:
        """Keep these batches' losses by the rule of core.runs.live.batch_stride: the run's batches
        so far (the highest number) set a stride, batches off it are not kept, and rows kept
        at a smaller stride are dropped. A batch trained again (a resumed run) replaces its
        row. One transaction, so a reader never sees more than `cap` rows."""
        if not records:
            return
        stride = live.batch_stride(max(r.number for r in records), cap)
        rows = [
            (run_id, r.number, r.phase, r.epoch, r.step, r.steps, r.loss, r.time)
            for r in records
            if r.number % stride == 0 and math.isfinite(r.loss)
        ]
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT OR REPLACE INTO batches (run_id, number, phase, epoch, step, steps, "
                "loss, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if stride > 1:
                db.execute(
                    "DELETE FROM batches WHERE run_id = ? AND number % ? != 0", (run_id, stride)
                )
            db.execute("COMMIT")

    def forget_batches_from(self, run_id: str, epoch: int) -> None:
        """Drop batch losses of `epoch` and later: a resumed run trains them again, and a
        partial epoch from before the interruption must not sit ahead of the new curve."""
        with self._connect() as db:
            db.execute("DELETE FROM batches WHERE run_id = ? AND epoch >= ?", (run_id, epoch))

    def batch_history(self, run_id: str) -> builtins.list[BatchRecord]:
        """The kept batch losses of a run, in training order."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT phase, epoch, step, steps, loss, time FROM batches WHERE run_id = ? "
                "ORDER BY number",
                (run_id,),
            ).fetchall()
        return [BatchRecord(*row) for row in rows]


# JSON -> typed value, per column; a typed value passes through
_PARSE: dict[str, Callable[[Any], Any]] = {
    "progress": lambda v: Progress.from_json(v) if isinstance(v, dict) else v,
    "result": lambda v: result_from_json(v) if isinstance(v, dict) else v,
    "config": lambda v: RunConfig.from_dict(v) if isinstance(v, dict) else v,
}


def _to_json(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return value.to_dict() if isinstance(value, RunConfig) else value.to_json()


def _died_again_message(run: Run) -> str:
    """Why a run that killed its worker again is failed, not resumable: the stage it was in,
    and the usual cause (a worker dies without a Python error when memory runs out)."""
    stage = run.progress.message or run.progress.stage or "starting"
    try:
        hint = budget.out_of_memory_advice(run.config).removeprefix("out of memory: ")
    except (TypeError, ValueError, KeyError):
        hint = "lower the batch size or the image size"
    return (
        f"the worker process died {MAX_WORKER_DEATHS} times during this run (last while: "
        f"{stage}), so it is not resumed again; this usually means it ran out of memory: {hint}"
    )


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    return getattr(exc, "sqlite_errorname", "") in _CORRUPT or any(
        text in str(exc) for text in ("file is not a database", "malformed")
    )


def _readable(path: Path) -> bool:
    """Whether the file is a sound database now (a full check: only run when recovering)."""
    db = None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        verdict: str = db.execute("PRAGMA quick_check").fetchone()[0]
        return verdict == "ok"
    except sqlite3.DatabaseError:
        return False
    finally:
        if db is not None:
            db.close()


def _remove_journal(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _tables_with_run_id(db: sqlite3.Connection) -> list[str]:
    """The store's tables that hold rows per run (a run_id column): a table added later is
    cleaned up with its run without being listed here."""
    names = [
        row[0]
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return [
        name
        for name in names
        if any(col[1] == "run_id" for col in db.execute(f'PRAGMA table_info("{name}")'))
    ]


def _ensure_schema(db: sqlite3.Connection) -> None:
    """Create the tables when the file is new or was deleted, and add columns an older
    database lacks (one cheap query when everything is there)."""
    tables = {
        row[0]
        for row in db.execute(
            f"SELECT name FROM sqlite_master WHERE type = 'table' "
            f"AND name IN ({','.join('?' * len(TABLES))})",
            TABLES,
        )
    }
    if len(tables) < len(TABLES):
        db.executescript(SCHEMA)
    columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    for name, declaration in ADDED_COLUMNS:
        if name not in columns:
            try:
                db.execute(f"ALTER TABLE runs ADD COLUMN {name} {declaration}")
            except sqlite3.OperationalError as exc:  # another process added it just now
                if "duplicate column" not in str(exc):
                    raise


def _run(row: sqlite3.Row) -> Run:
    return Run(
        id=row["id"],
        created=row["created"],
        updated=row["updated"],
        status=row["status"],
        strategy=row["strategy"],
        dataset=row["dataset"],
        group_id=row["group_id"],
        config=RunConfig.from_dict(json.loads(row["config"])),
        progress=Progress.from_json(json.loads(row["progress"])),
        result=result_from_json(json.loads(row["result"])),
        error=row["error"],
        stop_requested=bool(row["stop_requested"]),
        resume=bool(row["resume"]),
        worker_pid=row["worker_pid"],
        started=row["started"],
        finished=row["finished"],
        model_path=row["model_path"],
        model_sha256=row["model_sha256"],
        owner=row["owner"],
        display_name=row["display_name"],
        tags=tuple(json.loads(row["tags"] or "[]")),
        engine=row["engine"] or LOCAL_ENGINE,
    )
