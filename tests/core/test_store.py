"""The SQLite run store: queue order, stop requests, metrics and interrupted runs."""

import pytest

from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.store import Store


def _config(tmp_path, strategy="head"):
    return RunConfig(dataset=str(tmp_path), strategy=strategy, weights="none")


def test_queue_is_first_in_first_out_and_claims_once(tmp_path):
    store = Store(tmp_path / "home")
    first = store.create(_config(tmp_path))
    second = store.create(_config(tmp_path, "linear"))
    assert store.claim_next(worker_pid=111).id == first.id
    assert store.claim_next(worker_pid=111).id == second.id
    assert store.claim_next(worker_pid=111) is None
    assert store.get(first.id).status == store_mod.RUNNING
    assert store.get(first.id).worker_pid == 111


def test_stop_request_on_a_queued_run_stops_it_at_once(tmp_path):
    store = Store(tmp_path / "home")
    queued = store.create(_config(tmp_path))
    assert store.request_stop(queued.id).status == store_mod.STOPPED
    assert store.claim_next(1) is None  # a stopped run is never picked up


def test_running_run_is_asked_to_stop(tmp_path):
    store = Store(tmp_path / "home")
    run = store.create(_config(tmp_path))
    store.claim_next(1)
    assert not store.stop_requested(run.id)
    assert store.request_stop(run.id).status == store_mod.STOPPING
    assert store.stop_requested(run.id)


def test_metrics_since_returns_only_new_rows(tmp_path):
    store = Store(tmp_path / "home")
    run = store.create(_config(tmp_path))
    store.add_metric(run.id, "epoch", "head", 1, 3, {"val_accuracy": 0.5})
    rows = store.metrics_since(run.id)
    store.add_metric(run.id, "batch", "head", 2, 1, {"loss": 0.4})
    store.add_metric(run.id, "epoch", "head", 2, 3, {"val_accuracy": 0.7})
    newer = store.metrics_since(run.id, rows[-1].seq)
    assert [(m.kind, m.epoch) for m in newer] == [("batch", 2), ("epoch", 2)]
    assert [h.val_accuracy for h in store.epoch_history(run.id)] == [0.5, 0.7]


def test_dead_worker_leaves_run_interrupted_and_resumable(tmp_path):
    store = Store(tmp_path / "home")
    run = store.create(_config(tmp_path))
    store.claim_next(worker_pid=424242)
    assert store.mark_interrupted(lambda pid: False) == [run.id]
    assert store.get(run.id).status == store_mod.INTERRUPTED
    again = store.requeue_for_resume(run.id)
    assert (again.status, again.resume) == (store_mod.QUEUED, True)
    with pytest.raises(ValueError, match="only interrupted runs"):
        store.requeue_for_resume(run.id)


def test_store_is_shared_between_store_objects(tmp_path):
    a, b = Store(tmp_path / "home"), Store(tmp_path / "home")
    run = a.create(_config(tmp_path))
    assert b.get(run.id).config.strategy == "head"
    assert b.find(run.id[:15] + run.id[15:]) is not None


def test_submit_stores_absolute_paths(tmp_path, monkeypatch):
    from core.jobs import worker

    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    store = Store(tmp_path / "home")
    run = worker.submit(store, RunConfig(dataset="data", weights="none"), start=False)
    assert run.config.dataset == str(tmp_path / "data")


def test_deleted_database_is_created_again_by_a_store_in_use(tmp_path):
    store = Store(tmp_path / "home")
    store.create(_config(tmp_path))
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / "home" / f"runs.sqlite3{suffix}").unlink(missing_ok=True)
    assert store.list() == []
    run = store.create(_config(tmp_path))
    assert Store(tmp_path / "home").get(run.id).status == store_mod.QUEUED


@pytest.mark.parametrize("when", ["between accesses", "under an open store"])
def test_corrupt_database_is_moved_aside_and_replaced(tmp_path, when):
    home = tmp_path / "home"
    store = Store(home)
    store.create(_config(tmp_path))
    if when == "between accesses":
        for suffix in ("-wal", "-shm"):
            (home / f"runs.sqlite3{suffix}").unlink(missing_ok=True)
    (home / "runs.sqlite3").write_bytes(b"this is not a database" * 100)
    assert store.list() == []  # no exception: the app keeps working
    run = store.create(_config(tmp_path))
    assert store.get(run.id).status == store_mod.QUEUED
    (aside,) = home.glob("runs.sqlite3.corrupt-*[0-9]")
    assert aside.read_bytes().startswith(b"this is not a database")
    assert str(aside) in store.notices[0]


def test_homes_sharing_one_database_never_judge_each_others_workers(tmp_path, monkeypatch):
    import os

    from core.jobs import worker

    monkeypatch.setenv("STUDIO_DB", str(tmp_path / "shared.sqlite3"))
    a, b = Store(tmp_path / "a"), Store(tmp_path / "b")
    run = a.create(_config(tmp_path))
    assert b.claim_next(worker_pid=1) is None  # b's worker runs b's runs only
    assert a.claim_next(worker_pid=os.getpid()).id == run.id  # a live worker of home a
    assert worker.reap(b, start=False) == []  # b holds its own lock: a's run is not b's
    assert b.get(run.id).status == store_mod.RUNNING
    with b._connect() as db:  # a worker on another machine is never judged from here
        db.execute("UPDATE runs SET worker_host = 'elsewhere', worker_pid = 999999999")
    assert worker.reap(a, start=False) == [] and a.get(run.id).status == store_mod.RUNNING
    with b._connect() as db:  # a dead worker of another home on this host is noticed
        db.execute("UPDATE runs SET worker_host = ?", (a.host,))
    assert worker.reap(b, start=False) == [run.id]


def test_an_older_database_gains_the_new_columns(tmp_path):
    import sqlite3

    (tmp_path / "home").mkdir()
    added = "".join(f"    {name} {decl},\n" for name, decl in store_mod.ADDED_COLUMNS)
    schema = store_mod.SCHEMA.replace(
        "model_sha256 TEXT,\n" + added.rstrip(",\n"), "model_sha256 TEXT"
    )
    assert "worker_host" not in schema
    old = sqlite3.connect(tmp_path / "home" / "runs.sqlite3")
    old.executescript(schema)
    old.execute(
        "INSERT INTO runs (id, created, updated, status, strategy, dataset, config) "
        "VALUES ('old', 1, 1, 'done', 'head', 'data', ?)",
        ('{"dataset": "data"}',),
    )
    old.commit()
    old.close()
    store = Store(tmp_path / "home")
    assert store.get("old").owner is None  # a run from before owners were kept: unknown
    run = store.create(_config(tmp_path), owner="tab-1")
    assert store.claim_next(1).id == run.id
    assert store.get(run.id).owner == "tab-1"


def test_a_run_that_killed_its_worker_twice_fails_and_is_not_resumed(tmp_path):
    store = Store(tmp_path / "home")
    run = store.create(_config(tmp_path))
    store.claim_next(worker_pid=424242)
    store.update(run.id, progress={"stage": "extracting", "message": "VGG16 features: 3/9"})
    assert store.mark_interrupted(lambda pid: False) == [run.id]
    assert store.get(run.id).status == store_mod.INTERRUPTED
    store.requeue_for_resume(run.id)
    store.claim_next(worker_pid=424243)
    assert store.mark_interrupted(lambda pid: False) == [run.id]
    failed = store.get(run.id)
    assert failed.status == store_mod.FAILED and store.worker_deaths(run.id) == 2
    assert "died 2 times" in failed.error and "VGG16 features: 3/9" in failed.error
    assert "lower the batch size to 16" in failed.error
    with pytest.raises(ValueError, match="only interrupted runs"):
        store.requeue_for_resume(run.id)


def _batches(first: int, last: int, steps: int = 100, phase: str = "head"):
    from core.runs.results import BatchRecord

    return [
        BatchRecord(phase, (n - 1) // steps + 1, (n - 1) % steps + 1, steps, 1.0 / n, float(n))
        for n in range(first, last + 1)
    ]


def test_batch_losses_are_capped_evenly_over_a_long_run(tmp_path):
    store = Store(tmp_path / "home")
    run = store.create(_config(tmp_path))
    for first in range(1, 1000, 37):  # written a few at a time, as the callback flushes
        store.add_batches(run.id, _batches(first, min(first + 36, 1000)), cap=100)
        assert len(store.batch_history(run.id)) <= 100
    kept = store.batch_history(run.id)
    assert [b.number for b in kept] == list(range(16, 1001, 16))  # stride 16: 62 rows
    assert kept[0].loss == pytest.approx(1 / 16) and kept[0].position == pytest.approx(0.16)
    other = store.create(_config(tmp_path))
    store.add_batches(other.id, _batches(1, 50), cap=100)
    assert len(store.batch_history(other.id)) == 50  # one run's thinning never touches another


def test_a_resumed_epoch_replaces_its_batches(tmp_path):
    store = Store(tmp_path / "home")
    run = store.create(_config(tmp_path))
    store.add_batches(run.id, _batches(1, 150))  # interrupted halfway through epoch 2
    store.forget_batches_from(run.id, 2)  # the resumed run starts epoch 2 again
    assert [b.number for b in store.batch_history(run.id)] == list(range(1, 101))
    store.add_batches(run.id, _batches(101, 120, phase="finetune"))
    assert store.batch_history(run.id)[-1].phase == "finetune"


def test_an_older_database_gains_the_batches_table(tmp_path):
    import sqlite3

    (tmp_path / "home").mkdir()
    schema = store_mod.SCHEMA.split("CREATE TABLE IF NOT EXISTS batches")[0]
    old = sqlite3.connect(tmp_path / "home" / "runs.sqlite3")
    old.executescript(schema)
    old.execute(
        "INSERT INTO runs (id, created, updated, status, strategy, dataset, config) "
        "VALUES ('old', 1, 1, 'done', 'head', 'data', ?)",
        ('{"dataset": "data"}',),
    )
    old.execute(
        "INSERT INTO metrics (run_id, kind, phase, epoch, step, time, data) "
        "VALUES ('old', 'epoch', 'head', 1, 3, 1, '{\"loss\": 0.5}')"
    )
    old.commit()
    old.close()
    store = Store(tmp_path / "home")
    assert store.batch_history("old") == []  # a run from before batch losses were kept
    assert store.epoch_history("old")[0].loss == 0.5
    store.add_batches("old", _batches(1, 3))
    assert len(store.batch_history("old")) == 3


def test_deleting_a_run_removes_its_batch_losses(tmp_path):
    store = Store(tmp_path / "home")
    run, other = store.create(_config(tmp_path)), store.create(_config(tmp_path))
    for each in (run, other):
        store.add_batches(each.id, _batches(1, 5))
        store.finish(each.id, store_mod.DONE)
    assert store.delete_finished(run.id)
    assert store.batch_history(run.id) == [] and len(store.batch_history(other.id)) == 5
