"""The Ray engine: runs queued for a cluster become Ray tasks; their progress and results are
written into this home's run store, so the pages show them exactly like local runs.

This module imports Ray: only the Ray executor (`python -m core worker --engine ray`, started
by core.jobs.worker) imports it. That process is the Ray driver. It claims the home's runs queued
for Ray, and for each:

- sends what the run reads through Ray's object store, because nodes share no disk: the
  dataset's files (unless the user says its path is the same on every node), a weights file;
- when several runs read the same VGG16 features (core.jobs.engines.shared_extractions), one
  extraction task computes them and its result (the cache files) is handed to each of those
  runs' tasks, which then start on a full feature cache instead of extracting again;
- submits one task per run with its resources declared (one GPU on a GPU cluster, else
  CPUS_PER_RUN CPUs); Ray starts them as resources free up, and runs a task again (at most
  MAX_RETRIES times) when its node or worker process is lost; the store shows each retry.

A task trains exactly as the local worker does (core.train.training.execute) against a scratch
store on its node; a thread relays that store's progress and metrics to a small actor, which
the driver drains into the real store, and passes a Stop back. The finished run's folder
(model, checkpoints, reports) comes back with the task's result. Stop acts within one batch;
a queued task, or one that has not stopped after STOP_GRACE_SECONDS, is cancelled on the
cluster (ray.cancel).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

from core.jobs import engines
from core.jobs.engines import Engine
from core.platform import settings
from core.platform.fileio import sha256_file
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.results import BatchRecord, Progress, Result
from core.runs.store import Metric, Run, Store

log = logging.getLogger(__name__)
ROOT = settings.PROJECT_ROOT
MAX_RETRIES = 2  # a task whose node (or worker process) is lost runs again at most twice
STOP_GRACE_SECONDS = 30.0  # after a Stop, a running task that has not ended is cancelled
CPUS_PER_RUN = 1  # on a cluster without GPUs; TensorFlow in the task uses as many threads
POLL_SECONDS = 0.5
RELAY_SECONDS = 0.5
NODE_DATA = "studio-ray-data"  # under the node's temp folder: shipped datasets, once per node


# -- what crosses between the driver and the tasks -------------------------------------------
@dataclass(frozen=True)
class Files:
    """A folder's files (relative path -> bytes), sent through the object store."""

    digest: str
    files: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, folders: Mapping[str, Path]) -> Files:
        """Every file under each folder, named '<key>/<path in the folder>'."""
        files, digest = {}, hashlib.sha256()
        for key, folder in folders.items():
            for path in sorted(Path(folder).rglob("*")):
                if path.is_file() and not path.name.startswith(".tmp-"):
                    name = f"{key}/{path.relative_to(folder).as_posix()}"
                    files[name] = path.read_bytes()
                    digest.update(name.encode() + hashlib.sha256(files[name]).digest())
        return cls(digest.hexdigest()[:24], files)

    def write(self, root: Path) -> Path:
        for name, content in self.files.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        return root


@dataclass(frozen=True)
class Started:
    run_id: str
    attempt: int  # 1 the first time; more when Ray runs the task again after a loss
    host: str


@dataclass(frozen=True)
class Report:
    run_id: str
    progress: Progress
    metrics: tuple[Metric, ...]
    batches: tuple[BatchRecord, ...] = ()  # batch losses kept since the previous report


@dataclass(frozen=True)
class Outcome:
    """A finished task: the run's final record and its folder's files."""

    run_id: str
    status: str
    error: str | None
    progress: Progress
    result: Result | None
    folder: Files
    host: str


def task_resources(cluster: Mapping[str, float]) -> dict[str, float]:
    """What one run asks of the cluster: a GPU where there are GPUs (each run trains on one;
    a host's several GPUs are then shared out run by run), else CPUS_PER_RUN CPUs."""
    if cluster.get("GPU", 0) >= 1:
        return {"num_gpus": 1, "num_cpus": 1}
    return {"num_cpus": CPUS_PER_RUN}


# -- the relay: progress in, stop requests out -------------------------------------------------
@ray.remote(num_cpus=0)
class Relay:
    """A buffer between the tasks and the driver (tasks cannot reach the driver's store)."""

    def __init__(self) -> None:
        self._records: list[Started | Report] = []
        self._stops: set[str] = set()
        self._attempts: dict[str, int] = {}

    def started(self, run_id: str, host: str) -> int:
        attempt = self._attempts.get(run_id, 0) + 1
        self._attempts[run_id] = attempt
        self._records.append(Started(run_id, attempt, host))
        return attempt

    def report(self, report: Report) -> bool:
        """Record progress; True when the run was asked to stop."""
        self._records.append(report)
        return report.run_id in self._stops

    def stop(self, run_id: str) -> None:
        self._stops.add(run_id)

    def drain(self) -> list[Started | Report]:
        records, self._records = self._records, []
        return records


# -- on a node ----------------------------------------------------------------------------------
_PROCESS_READY = False


def _prepare_process() -> None:
    """Once per Ray worker process: the device plan (GPU memory growth) and TensorFlow's
    threads limited to the CPUs the task was given, so runs sharing a node do not fight."""
    global _PROCESS_READY
    if _PROCESS_READY:
        return
    import tensorflow as tf

    from core.model import device

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    if cpus:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(max(1, int(cpus)))
            tf.config.threading.set_inter_op_parallelism_threads(max(1, int(cpus)))
        except RuntimeError:  # TensorFlow already started in this process
            pass
    device.apply(device.current_plan())
    _PROCESS_READY = True


def _node_copy(files: Files) -> Path:
    """The shipped files on this node, written once per node (tasks of one node share it)."""
    root = Path(tempfile.gettempdir()) / NODE_DATA / files.digest
    if not root.is_dir():
        partial = Path(tempfile.mkdtemp(prefix=f".{files.digest}-", dir=root.parent.parent))
        files.write(partial)
        root.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(partial, root)
        except OSError:  # another task of this node wrote it just now
            shutil.rmtree(partial, ignore_errors=True)
    return root


def _on_this_node(config: RunConfig, data: Files | None, weights: Files | None) -> RunConfig:
    """The run's settings with the paths of the copies made on this node (None: the path as
    given is valid here: a shared path, or not a file)."""
    import dataclasses

    changes: dict[str, Any] = {}
    if data is not None:
        root = _node_copy(data)
        changes["dataset"] = str(root / "dataset")
        changes["val_dir"] = str(root / "val") if config.val_dir else None
    if weights is not None:
        changes["weights"] = str(next((_node_copy(weights) / "weights").iterdir()))
    return dataclasses.replace(config, **changes)


class _Mirror(threading.Thread):
    """Relays the scratch store's progress and new metrics to the driver every RELAY_SECONDS,
    and turns a Stop coming back into a stop request the training loop sees."""

    def __init__(self, store: Store, local_id: str, run_id: str, relay: Any) -> None:
        super().__init__(daemon=True)
        self.store, self.local_id, self.run_id, self.relay = store, local_id, run_id, relay
        self.seq = 0
        self.last_batch = 0  # the number of the last batch loss relayed
        # the previous report's answer (stop or not), read when ready
        self._answer: ray.ObjectRef | None = None
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(RELAY_SECONDS):
            self.flush()

    def flush(self) -> None:
        try:
            run = self.store.get(self.local_id)
            metrics = self.store.metrics_since(self.local_id, self.seq)
            if metrics:
                self.seq = metrics[-1].seq
            batches = tuple(
                b for b in self.store.batch_history(self.local_id) if b.number > self.last_batch
            )
            if batches:
                self.last_batch = batches[-1].number
            # a blocking ray.get here would lend this task's CPU to another task meanwhile:
            # the previous answer is read only once it has arrived
            if self._answer is not None and ray.wait([self._answer], timeout=0)[0]:
                if ray.get(self._answer) and run.status == store_mod.RUNNING:
                    self.store.request_stop(self.local_id)
            report = Report(self.run_id, run.progress, tuple(metrics), batches)
            self._answer = self.relay.report.remote(report)
        except Exception:  # noqa: BLE001 - relaying must never end the run
            log.exception("could not relay the progress of run %s", self.run_id)

    def finish(self) -> None:
        """The last progress and metrics, in the relay before the task returns (the driver
        records the outcome as soon as it sees the task done)."""
        self._done.set()
        self.join()
        self.flush()
        if self._answer is not None:
            ray.get(self._answer)


def _scratch_run(scratch: Path, config: RunConfig, features: Files | None) -> tuple[Store, Run]:
    os.environ.pop(settings.DB_ENV, None)  # a scratch store of its own, never a shared one
    store = Store(scratch / "home")
    if features is not None:
        features.write(settings.cache_dir(store.home))
    run = store.create(config)
    store.claim_next(os.getpid())
    return store, run


@ray.remote
def _train(
    run_id: str,
    config: RunConfig,
    relay: Any,
    data: Files | None,
    weights: Files | None,
    features: Files | None,
) -> Outcome:
    """One run, trained on this node as the local worker trains it. data, weights, features:
    Files from the object store (Ray passes their values), or None."""
    host = socket.gethostname()
    relay.started.remote(run_id, host)  # never ray.get in a task: it lends the task's CPU out
    scratch = Path(tempfile.mkdtemp(prefix="studio-ray-run-"))
    try:
        config = _on_this_node(config, data, weights)
        store, local = _scratch_run(scratch, config, features)
        _prepare_process()
        from core.model import device
        from core.train import training

        mirror = _Mirror(store, local.id, run_id, relay)
        mirror.start()
        try:
            with device.run_precision(config.precision):
                training.execute(store, local.id)
        finally:
            mirror.finish()
        final = store.get(local.id)
        folder = Files.of({"run": store.run_dir(local.id)})
        return Outcome(
            run_id, final.status, final.error, final.progress, final.result, folder, host
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@ray.remote
def _extract(
    config: RunConfig,
    outputs: tuple[engines.Output, ...],
    data: Files | None,
    weights: Files | None,
) -> Files:
    """The features several runs read, extracted once: the cache files, for their tasks."""
    scratch = Path(tempfile.mkdtemp(prefix="studio-ray-features-"))
    try:
        config = _on_this_node(config, data, weights)
        store, local = _scratch_run(scratch, config, None)
        _prepare_process()
        from core.model import device
        from core.train import context as run_context
        from core.train import extraction, features

        with device.run_precision(config.precision):
            ctx = run_context.prepare(store, local.id, config, store.run_dir(local.id))
            base = extraction.build_base(ctx)
            extraction.extract(ctx, base, list(outputs), stoppable=False)
        features.release_models()
        return Files.of({".": settings.cache_dir(store.home)})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# -- the driver -----------------------------------------------------------------------------------
def runtime_env() -> dict[str, Any]:
    """What every task's process gets: this project's core package (so nodes need only its
    requirements installed, not the code) and TensorFlow's C++ logging kept quiet."""
    return {"py_modules": [str(ROOT / "core")], "env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2"}}


def connect(engine: Engine) -> None:
    """Join the engine's cluster (or start the private one); the nodes get this project's
    core package from here (runtime_env py_modules), so only its requirements need installing
    on them. Raises engines.EngineUnavailable with what to do."""
    if ray.is_initialized():  # e.g. a test started a cluster in this process
        return
    address = engine.address or engines.AUTO
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address == engines.PRIVATE:
            cpus = int(os.environ.get("STUDIO_RAY_NUM_CPUS") or os.cpu_count() or 1)
            ray.init(num_cpus=cpus, include_dashboard=False, runtime_env=runtime_env(), **quiet)
        else:
            ray.init(address=address, runtime_env=runtime_env(), **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise engines.EngineUnavailable(
            f"the Ray cluster at {address} could not be joined ({exc}): check that it runs "
            "(`ray status`) and that this machine runs the same Ray and Python versions"
        ) from exc


@dataclass
class _Task:
    run_id: str
    ref: object
    started: bool = False
    stop_sent: float | None = None


class Driver:
    """Claims this home's runs queued for Ray, submits them and writes what comes back."""

    def __init__(self, store: Store, engine: Engine):
        self.store, self.engine = store, engine
        self.relay = Relay.remote()  # type: ignore[attr-defined]  # @ray.remote made an actor class
        self.tasks: dict[str, _Task] = {}
        self._shipped: dict[tuple[str | None, ...], object] = {}  # key -> ObjectRef

    @property
    def busy(self) -> bool:
        return bool(self.tasks)

    def claim(self) -> int:
        runs = []
        while (run := self.store.claim_next(os.getpid(), engines.RAY)) is not None:
            runs.append(run)
        if runs:
            self.launch(runs)
        return len(runs)

    def launch(self, runs: list[Run]) -> None:
        resources = task_resources(ray.cluster_resources())
        configs = [r.config for r in runs]
        features: dict[int, object] = {}
        for shared in engines.shared_extractions(configs):
            first = configs[shared.runs[0]]
            refs = self._refs(first)
            ref = _extract.options(max_retries=MAX_RETRIES, **resources).remote(
                first, shared.outputs, *refs
            )
            features.update(dict.fromkeys(shared.runs, ref))
        for index, run in enumerate(runs):
            message = f"waiting for {resources_text(resources)} on {self.engine.describe()}"
            if index in features:
                message += " (features are extracted once for this comparison first)"
            self.store.update(run.id, progress=Progress("waiting", message))
            ref = _train.options(max_retries=MAX_RETRIES, **resources).remote(
                run.id, run.config, self.relay, *self._refs(run.config), features.get(index)
            )
            self.tasks[run.id] = _Task(run.id, ref)

    def _refs(self, config: RunConfig) -> tuple[object, object]:
        """The dataset's and the weights file's copies in the object store, put once each."""
        data = None
        if not self.engine.shared_data:
            key: tuple[str | None, ...] = ("data", config.dataset, config.val_dir)
            if key not in self._shipped:
                folders = {"dataset": Path(config.dataset)}
                if config.val_dir:
                    folders["val"] = Path(config.val_dir)
                self._shipped[key] = ray.put(Files.of(folders))
            data = self._shipped[key]
        weights = None
        spec = config.weights_for_run()
        if spec.path is not None:
            key = ("weights", str(spec.path))
            if key not in self._shipped:
                self._shipped[key] = ray.put(_weights_files(Path(spec.path)))
            weights = self._shipped[key]
        return data, weights

    def pump(self) -> None:
        """Write what the tasks relayed, act on stop requests, record finished tasks."""
        if not self.tasks:
            return
        refs = {t.ref: t for t in self.tasks.values()}  # ObjectRefs hash by their id
        ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0)
        for record in ray.get(self.relay.drain.remote()):  # after wait: a finished task's
            self._apply(record)  # last records are in before its outcome
        self._stops()
        for ref in ready:
            if refs[ref].run_id in self.tasks:  # not already ended by a stop just now
                self._finish(refs[ref])

    def _apply(self, record: Started | Report) -> None:
        task = self.tasks.get(record.run_id)
        if task is None:  # a run already recorded (stopped, cancelled)
            return
        if isinstance(record, Started):
            task.started = True
            apply_started(self.store, record)
            return
        for m in record.metrics:
            self.store.add_metric(task.run_id, m.kind, m.phase, m.epoch, m.step, m.data, m.time)
        self.store.add_batches(task.run_id, list(record.batches))  # the live loss curve
        if record.progress.stage:
            self.store.update(task.run_id, progress=record.progress)

    def _stops(self) -> None:
        for task in list(self.tasks.values()):
            if not self.store.stop_requested(task.run_id):
                continue
            if not task.started:  # still waiting for a node: cancel it there
                ray.cancel(task.ref)
                self._end(task, store_mod.STOPPED, "stopped before it started on the cluster")
            elif task.stop_sent is None:  # within one batch, keeping the last epoch's model
                self.relay.stop.remote(task.run_id)
                task.stop_sent = time.time()
            elif time.time() - task.stop_sent > STOP_GRACE_SECONDS:
                ray.cancel(task.ref, force=True)
                self._end(task, store_mod.STOPPED, "stopped: the task was cancelled on the cluster")

    def _finish(self, task: _Task) -> None:
        try:
            outcome = ray.get(task.ref)
        except ray.exceptions.TaskCancelledError:
            self._end(task, store_mod.STOPPED, "stopped: the task was cancelled on the cluster")
            return
        except ray.exceptions.RayError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self._end(task, store_mod.FAILED, f"failed on the cluster: {first}")
            return
        self.tasks.pop(task.run_id, None)
        record_outcome(self.store, outcome)

    def _end(self, task: _Task, status: str, message: str) -> None:
        self.tasks.pop(task.run_id, None)
        self.store.finish(
            task.run_id, status, error=message, progress=Progress("finished", message)
        )


def resources_text(resources: Mapping[str, float]) -> str:
    if resources.get("num_gpus"):
        return "a GPU"
    cpus = int(resources.get("num_cpus", 1))
    return f"{cpus} CPU{'s' if cpus != 1 else ''}"


def apply_started(store: Store, record: Started) -> None:
    """A task began on a node; a second start means the first node (or its worker) was
    lost and Ray runs it again: counted as a worker death, said in the progress."""
    if record.attempt == 1:
        store.update(record.run_id, progress=Progress("starting", f"started on {record.host}"))
        return
    store.update(
        record.run_id,
        worker_deaths=record.attempt - 1,
        progress=Progress(
            "retrying",
            f"the node running it was lost: attempt {record.attempt} of {MAX_RETRIES + 1}, "
            f"on {record.host}",
        ),
    )


def record_outcome(store: Store, outcome: Outcome) -> None:
    """The task's run folder into the run's folder here, then its final record."""
    folder = store.run_dir(outcome.run_id)
    for name, content in outcome.folder.files.items():
        target = folder / name.removeprefix("run/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    model = folder / "model.keras"
    fields: dict[str, Any] = (
        {"model_path": str(model), "model_sha256": sha256_file(model)} if model.exists() else {}
    )
    if outcome.result is not None:
        fields["result"] = outcome.result
    store.finish(
        outcome.run_id, outcome.status, error=outcome.error, progress=outcome.progress, **fields
    )


def _weights_files(path: Path) -> Files:
    digest = sha256_file(path)[:24]
    return Files(digest, {f"weights/{path.name}": path.read_bytes()})


def fail_queued(store: Store, message: str) -> list[str]:
    """Every run of this home queued for Ray ends failed with `message` (the cluster cannot
    be joined): never left queued for an executor that cannot run it."""
    failed = []
    while (run := store.claim_next(os.getpid(), engines.RAY)) is not None:
        store.finish(
            run.id, store_mod.FAILED, error=message, progress=Progress("finished", message)
        )
        failed.append(run.id)
    return failed


def serve(store: Store, engine: Engine, idle_seconds: float, once: bool = False) -> int:
    """The Ray executor's loop; returns how many runs it recorded. Holds the caller's lock.
    A private cluster it started ends with it."""
    joined_here = not ray.is_initialized()
    try:
        connect(engine)
    except engines.EngineUnavailable as exc:
        log.error("%s", exc)
        fail_queued(store, str(exc))
        return 0
    try:
        return _loop(Driver(store, engine), idle_seconds, once)
    finally:
        if joined_here:
            ray.shutdown()


def _loop(driver: Driver, idle_seconds: float, once: bool) -> int:
    recorded, idle_since = 0, time.time()
    while True:
        before = len(driver.tasks)
        driver.claim()
        claimed = len(driver.tasks) - before
        driver.pump()
        recorded += before + claimed - len(driver.tasks)
        if driver.busy:
            idle_since = time.time()
        elif once or time.time() - idle_since > idle_seconds:
            return recorded
        time.sleep(POLL_SECONDS)
