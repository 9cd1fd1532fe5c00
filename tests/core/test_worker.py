"""The worker process: stop within one batch, a killed worker, resume; queued runs in order."""

import json
import os
import signal
import time

import keras
import numpy as np
import pytest

from core.jobs import worker
from core.model import device, device_facts
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.store import Store
from core.train.callbacks import FitInterrupted, ReportToStore

pytestmark = pytest.mark.slow


class CountBatches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0
        self.validations = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_test_begin(self, logs=None):
        self.validations += 1


def test_stop_request_ends_training_after_the_batch_it_is_seen(tmp_path, monkeypatch):
    store = Store(tmp_path / "home")
    run = store.create(RunConfig(dataset=str(tmp_path), weights="none"))
    checks = {"n": 0}

    def stop_after_third_batch(run_id):
        checks["n"] += 1
        return checks["n"] >= 3

    monkeypatch.setattr(store, "stop_requested", stop_after_third_batch)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy")
    reporter = ReportToStore(store, run.id, "head", 0, 1, 0, 5, steps=20)
    counter = CountBatches()
    x, y = np.random.rand(40, 4), np.random.randint(0, 2, (40, 1))
    with pytest.raises(FitInterrupted) as interrupted:
        model.fit(
            x,
            y,
            batch_size=2,
            epochs=5,
            validation_data=(x, y),
            callbacks=[counter, reporter],
            verbose=0,
        )
    assert interrupted.value.reason == "stopped"
    assert counter.batches == 3  # not one batch more, not the rest of the epoch
    assert counter.validations == 0  # no validation pass of the partial epoch
    assert reporter.stop_requested
    assert store.epoch_history(run.id) == []  # a partial epoch is not recorded as an epoch


def _wait_for(predicate, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def _slow_config(dataset, epochs=3):
    # the image path (full fine-tuning) runs real batches every epoch
    return RunConfig(
        dataset=str(dataset),
        strategy="scratch",
        weights="none",
        image_size=32,
        batch_size=2,
        epochs=epochs,
        early_stopping_patience=50,
    )


def test_stop_from_another_process_ends_the_run(binary_dataset, tmp_path):
    store = Store(tmp_path / "home")
    run = worker.submit(store, _slow_config(binary_dataset, epochs=50))
    _wait_for(
        lambda: (
            (store.get(run.id).progress.step or 0) >= 1
            and store.get(run.id).progress.stage == "training"
        )
    )
    store.request_stop(run.id)
    finished = worker.wait(store, run.id, timeout=120)
    assert finished.status == store_mod.STOPPED
    assert len(store.epoch_history(run.id)) < 50


def test_killed_worker_leaves_run_interrupted_then_resumes(binary_dataset, tmp_path):
    store = Store(tmp_path / "home")
    run = worker.submit(store, _slow_config(binary_dataset, epochs=3))
    _wait_for(lambda: len(store.epoch_history(run.id)) >= 1)
    os.kill(store.get(run.id).worker_pid, signal.SIGKILL)
    _wait_for(lambda: not worker.worker_running(store.home), timeout=30)
    assert worker.reap(store) == [run.id]
    interrupted = store.get(run.id)
    assert interrupted.status == store_mod.INTERRUPTED
    assert "resumed" in interrupted.error
    folder = store.run_dir(run.id)
    # killed mid-write or not, every real file is whole: temp names are hidden until replaced
    state = json.loads((folder / "resume" / "state.json").read_text())
    assert state["global_epochs"] >= 1
    assert (folder / "resume" / state["weights"]).stat().st_size > 1_000_000
    assert json.loads((folder / "manifest.json").read_text())["files"]
    done_before = len(store.epoch_history(run.id))

    worker.resume(store, run.id)
    finished = worker.wait(store, run.id, timeout=180)
    assert finished.status == store_mod.DONE, finished.error
    epochs = [h.epoch for h in store.epoch_history(run.id)]
    assert epochs[:done_before] == list(range(1, done_before + 1))
    assert epochs[-1] == 3  # the resumed run continued to the planned last epoch
    assert epochs == sorted(set(epochs))  # no epoch is counted twice
    assert finished.result.epochs_run == 3
    assert not list(folder.rglob(".tmp-*"))  # stale temporaries were swept


def test_queued_runs_execute_one_after_another(binary_dataset, tmp_path):
    store = Store(tmp_path / "home")
    config = RunConfig(
        dataset=str(binary_dataset), strategy="linear", weights="none", image_size=32
    )
    first = worker.submit(store, config, start=False)
    second = worker.submit(store, config, start=False)
    assert worker.serve(store.home, once=True) == 2
    a, b = store.get(first.id), store.get(second.id)
    assert a.status == b.status == store_mod.DONE
    assert a.finished <= b.started  # never two at once
    # each run's record says where it really ran; the worker recorded TensorFlow's view
    auto = device.POLICIES[device.quick_plan().precision]  # bfloat16 on a CPU with AMX
    assert a.result.device.placed_on == ("CPU:0",) and a.result.device.policy == auto
    assert not a.result.device.xla  # a closed-form fit compiles nothing
    view = device_facts.recorded_view(store.home)
    assert view is not None and view.gpus == () and view.device.startswith("CPU")


def test_worker_outlives_a_database_error(tmp_path, monkeypatch):
    import sqlite3

    store = Store(tmp_path / "home")
    calls = []

    def claim_next(self, pid):
        calls.append(pid)
        if len(calls) == 1:
            raise sqlite3.DatabaseError("file is not a database")
        return None

    monkeypatch.setattr(worker, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(Store, "claim_next", claim_next)
    assert worker.serve(store.home, once=True) == 0
    assert len(calls) == 2


def test_worker_start_removes_temporary_files_of_every_run(tmp_path):
    store = Store(tmp_path / "home")
    leftovers = [
        store.runs_dir / "r1" / ".tmp-abc.keras",
        store.runs_dir / "r2" / "resume" / ".tmp-def.weights.h5",
        store.home / "cache" / "k" / ".tmp-ghi.tmp",
    ]
    kept = store.runs_dir / "r1" / "model.keras"
    for path in [*leftovers, kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    assert worker.serve(store.home, once=True) == 0
    assert not any(path.exists() for path in leftovers)
    assert kept.exists()


# -- fault injection: kill -9 at each stage of a fine-tune ---------------------------------------
def _files_of(folder):
    """Every file of a run folder with its content hash: what must never change once done."""
    from core.platform.fileio import sha256_file

    return {str(p.relative_to(folder)): sha256_file(p) for p in folder.rglob("*") if p.is_file()}


# A worker that SIGKILLs itself the moment the run's recorded progress reaches the stage: the
# same death as `kill -9` from outside, at a chosen instant instead of whenever a poll sees it.
KILLING_WORKER = """
import os, signal, sys
from core.jobs import worker
from core.runs.results import Progress
from core.runs.store import Store

home, stage, phase, epoch, min_step = sys.argv[1:6]
original = Store.update


def update(self, run_id, **fields):
    original(self, run_id, **fields)
    p = fields.get("progress")
    if (
        isinstance(p, Progress)
        and p.stage == stage
        and (not phase or (p.phase == phase and p.epoch == int(epoch)))
        and (p.step or 0) >= int(min_step)
        and (p.steps is None or (p.step or 0) < p.steps)
    ):
        os.kill(os.getpid(), signal.SIGKILL)


Store.update = update
worker.serve(home, idle_seconds=0, once=True)
"""

HEAD_EPOCHS, FINETUNE_EPOCHS, BATCH = 2, 2, 4
# stage -> (progress stage, phase, global epoch, first step): where the worker dies
KILL_AT = {
    # the features of the first batch (4 of 24 images) computed, the rest not
    "extraction": ("extracting", "", 0, BATCH),
    # the head's epoch 1 recorded, epoch 2 begun
    "phase 1 (head)": ("training", "head", 2, 0),
    # the head and the first fine-tuning epoch recorded, the second begun
    "phase 2 (fine-tuning)": ("training", "finetune", HEAD_EPOCHS + 2, 0),
}


def _kill_during(store, stage) -> tuple[int, str]:
    """Serve the queue in a worker that dies by SIGKILL at `stage`: its exit code, its log."""
    import subprocess
    import sys
    from pathlib import Path

    where = KILL_AT[stage]
    died = subprocess.run(
        [sys.executable, "-c", KILLING_WORKER, str(store.home), *map(str, where)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return died.returncode, died.stderr[-2000:]


@pytest.mark.parametrize("stage", list(KILL_AT))
def test_kill_9_at_each_stage_resumes_to_the_end_and_spares_finished_work(
    stage, tmp_path, monkeypatch
):
    from synthetic import write_colour_dataset
    from tiny_run import train

    store = Store(tmp_path / "home")
    data = write_colour_dataset(tmp_path / "data", per_class=12, size=32)
    done = train(
        store, RunConfig(dataset=str(data), strategy="linear", weights="none", image_size=32)
    )
    assert done.status == store_mod.DONE, done.error
    before = _files_of(store.run_dir(done.id))
    config = RunConfig(
        dataset=str(data),
        strategy="finetune",
        weights="none",
        image_size=32,
        batch_size=BATCH,
        epochs=HEAD_EPOCHS,
        finetune_epochs=FINETUNE_EPOCHS,
        early_stopping_patience=50,
        seed=1,  # not the linear run's base: this run extracts its own features
    )
    run = worker.submit(store, config, start=False)
    code, log = _kill_during(store, stage)
    assert code == -signal.SIGKILL, log  # it died where planned, not by finishing or failing
    progress = store.get(run.id).progress
    stage_name, phase, epoch, _ = KILL_AT[stage]
    assert progress.stage == stage_name, progress
    if phase:
        assert (progress.phase, progress.epoch) == (phase, epoch), progress
    recorded = store.epoch_history(run.id)
    assert [h.epoch for h in recorded] == list(range(1, (epoch or 1)))  # finished epochs kept
    assert worker.reap(store) == [run.id]
    assert store.get(run.id).status == store_mod.INTERRUPTED

    # the resuming worker serves in this process, whose TensorFlow is already up
    monkeypatch.setattr(worker, "start_worker", lambda home, *a, **k: worker.serve(home, once=True))
    worker.resume(store, run.id)
    finished = worker.wait(store, run.id, timeout=300)
    assert finished.status == store_mod.DONE, finished.error
    history = store.epoch_history(run.id)
    assert [h.epoch for h in history] == list(range(1, HEAD_EPOCHS + FINETUNE_EPOCHS + 1))
    assert [h.phase for h in history] == ["head"] * HEAD_EPOCHS + ["finetune"] * FINETUNE_EPOCHS
    assert history[: len(recorded)] == recorded  # the epochs finished before the kill survive
    assert finished.result.epochs_run == HEAD_EPOCHS + FINETUNE_EPOCHS
    assert _files_of(store.run_dir(done.id)) == before  # the finished run is untouched


def test_a_worker_whose_database_stays_unreadable_ends_after_its_idle_time(tmp_path, monkeypatch):
    import sqlite3

    store = Store(tmp_path / "home")

    def claim_next(self, pid):
        raise sqlite3.OperationalError("unable to open database file")  # its home was deleted

    monkeypatch.setattr(worker, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(Store, "claim_next", claim_next)
    started = time.time()
    assert worker.serve(store.home, idle_seconds=0.2) == 0  # returns instead of retrying forever
    assert time.time() - started < 10
