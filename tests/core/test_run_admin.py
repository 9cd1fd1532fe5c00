"""Managing runs (core.jobs.run_admin): display names, tags, filters and deleting with files."""

import sqlite3

from core.jobs import run_admin
from core.jobs.runs import Refused
from core.reports import report
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.store import Store


def _run(store, dataset, strategy="head", status=store_mod.DONE, group_id=None, task="train"):
    config = RunConfig(dataset=str(dataset), strategy=strategy, weights="none", task=task)
    run = store.create(config, group_id=group_id)
    if status != store_mod.QUEUED:
        store.update(run.id, status=status)
    return store.get(run.id)


def test_rename_sets_a_display_name_the_id_and_description_stay(tmp_path):
    store = Store(tmp_path / "home")
    run = _run(store, tmp_path / "flowers")
    renamed = run_admin.rename(store, run.id, "  my\tbaseline \n")
    assert renamed.id == run.id and renamed.display_name == "my baseline"
    title = report.run_title(renamed)
    assert title.startswith("my baseline: Feature extractor")
    assert "no pretrained weights" in title.lower() and title.endswith("flowers")
    assert store.get(run.id).display_name == "my baseline"
    assert run_admin.rename(store, run.id, "   ").display_name is None  # empty: name removed
    assert isinstance(run_admin.rename(store, run.id, "x" * 200), Refused)
    assert isinstance(run_admin.rename(store, "nope", "a"), Refused)


def test_tags_are_added_once_and_removed(tmp_path):
    store = Store(tmp_path / "home")
    run = _run(store, tmp_path / "d")
    run_admin.add_tag(store, run.id, "keep")
    run_admin.add_tag(store, run.id, "augment on")
    again = run_admin.add_tag(store, run.id, "keep")
    assert again.tags == ("keep", "augment on")
    assert store.get(run.id).tags == ("keep", "augment on")
    assert run_admin.remove_tag(store, run.id, "keep").tags == ("augment on",)
    refused = run_admin.remove_tag(store, run.id, "keep")
    assert isinstance(refused, Refused) and "no tag" in refused.reason
    assert isinstance(run_admin.add_tag(store, run.id, " \n "), Refused)


def test_filter_by_dataset_strategy_tag_and_status(tmp_path):
    store = Store(tmp_path / "home")
    a = _run(store, tmp_path / "cats", "head")
    b = _run(store, tmp_path / "cats", "linear", status=store_mod.FAILED)
    c = _run(store, tmp_path / "dogs", "head")
    probe = _run(store, tmp_path / "dogs", "linear", task="probe")
    run_admin.add_tag(store, a.id, "best")
    run_admin.add_tag(store, c.id, "best")
    runs = store.list()

    def ids(**wanted):
        return {r.id for r in run_admin.filter_runs(runs, run_admin.RunFilter(**wanted))}

    assert ids() == {a.id, b.id, c.id, probe.id}
    assert ids(datasets=("cats",)) == {a.id, b.id}
    assert ids(strategies=("head",)) == {a.id, c.id}
    assert ids(strategies=("probe",)) == {probe.id}
    assert ids(tags=("best",)) == {a.id, c.id}
    assert ids(tags=("best",), datasets=("dogs",)) == {c.id}
    assert ids(statuses=(store_mod.FAILED,)) == {b.id}
    found = run_admin.facets(runs)
    assert found.datasets == ("cats", "dogs") and found.tags == ("best",)
    assert found.strategies == ("head", "linear", "probe")


def test_delete_removes_the_row_metrics_and_files(tmp_path):
    store = Store(tmp_path / "home")
    run = _run(store, tmp_path / "d")
    store.add_metric(run.id, "epoch", "head", 1, 1, {"loss": 1.0})
    folder = store.run_dir(run.id)
    (folder / "model.keras").write_bytes(b"model")
    (folder / "export").mkdir()
    (folder / "export" / "model.tflite").write_bytes(b"x")
    other = _run(store, tmp_path / "d")
    with sqlite3.connect(store.path) as db:  # a per-run table added later is cleaned up too
        db.execute("CREATE TABLE later (run_id TEXT, x INTEGER)")
        db.executemany("INSERT INTO later VALUES (?, 1)", [(run.id,), (other.id,)])
    deleted = run_admin.delete(store, run.id)
    assert isinstance(deleted, run_admin.Deleted) and deleted.folder == folder
    assert not folder.exists() and store.run_dir(other.id).is_dir()
    assert [r.id for r in store.list()] == [other.id]
    assert store.metrics_since(run.id) == []
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT run_id FROM later").fetchall() == [(other.id,)]
    assert "and its files" in deleted.describe()


def test_an_active_run_is_never_deleted(tmp_path):
    store = Store(tmp_path / "home")
    for status in store_mod.ACTIVE:
        run = _run(store, tmp_path / "d", status=status)
        refused = run_admin.delete(store, run.id)
        assert isinstance(refused, Refused) and refused.busy
        assert "before deleting it" in refused.reason
        assert store.get(run.id).status == status and store.run_dir(run.id).is_dir()


def test_deleting_one_run_of_a_comparison_keeps_the_others(tmp_path):
    store = Store(tmp_path / "home")
    first = _run(store, tmp_path / "d", "linear", group_id="g1")
    second = _run(store, tmp_path / "d", "head", group_id="g1")
    deleted = run_admin.delete(store, first.id)
    assert deleted.group_left == 1 and "1 of its runs remain" in deleted.describe()
    assert [r.id for r in store.list(group_id="g1")] == [second.id]
    last = run_admin.delete(store, second.id)
    assert last.group_left == 0 and "last run of its comparison" in last.describe()


def test_an_old_database_without_names_or_tags_is_migrated(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    schema = store_mod.SCHEMA.replace(
        ",\n    display_name TEXT,\n    tags TEXT NOT NULL DEFAULT '[]'", ""
    )
    assert "display_name" not in schema and "tags" not in schema
    old = sqlite3.connect(home / "runs.sqlite3")
    old.executescript(schema)
    old.execute(
        "INSERT INTO runs (id, created, updated, status, strategy, dataset, config) "
        "VALUES ('old', 1, 1, 'done', 'head', 'data', ?)",
        ('{"dataset": "data"}',),
    )
    old.commit()
    old.close()
    store = Store(home)
    run = store.get("old")
    assert run.display_name is None and run.tags == ()
    assert run_admin.add_tag(store, "old", "legacy").tags == ("legacy",)
    assert run_admin.rename(store, "old", "first try").display_name == "first try"
