"""`python -m core runs list|rename|tag|delete`, run in-process (no worker is started)."""

import json

import pytest

from core import cli
from core.jobs import worker
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.store import Store


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "start_worker", lambda *args, **kwargs: None)
    return tmp_path / "home"


def _run(store, dataset, strategy="head", status=store_mod.DONE):
    run = store.create(RunConfig(dataset=str(dataset), strategy=strategy, weights="none"))
    if status != store_mod.QUEUED:
        store.update(run.id, status=status)
    return run


def _main(home, *args) -> int:
    return cli.main(["--home", str(home), *args])


def test_runs_without_an_action_lists_runs_with_weights_in_the_name(home, tmp_path, capsys):
    store = Store(home)
    run = _run(store, tmp_path / "flowers")
    assert _main(home, "runs") == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(run.id) and "no pretrained weights" in line and "flowers" in line


def test_rename_tag_and_filtered_json_list(home, tmp_path, capsys):
    store = Store(home)
    kept = _run(store, tmp_path / "cats")
    _run(store, tmp_path / "dogs", "linear")
    assert _main(home, "runs", "rename", kept.id[-8:], "baseline") != 0  # not a prefix
    assert _main(home, "runs", "rename", kept.id, "baseline") == 0
    assert _main(home, "runs", "tag", kept.id, "--add", "best", "--add", "v1") == 0
    assert _main(home, "runs", "tag", kept.id, "--remove", "v1") == 0
    capsys.readouterr()
    assert _main(home, "runs", "list", "--tag", "best", "--json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["run_id"] for r in rows] == [kept.id]
    assert rows[0]["name"] == "baseline" and rows[0]["tags"] == ["best"]
    assert rows[0]["title"].startswith("baseline: Feature extractor")
    assert _main(home, "runs", "list", "--dataset", "dogs", "--strategy", "linear") == 0
    assert "Linear" in capsys.readouterr().out
    assert _main(home, "runs", "tag", kept.id, "--remove", "nope") == 2
    assert "no tag 'nope'" in capsys.readouterr().err


def test_delete_needs_yes_off_a_terminal_and_refuses_an_active_run(home, tmp_path, capsys):
    store = Store(home)
    done = _run(store, tmp_path / "d")
    queued = _run(store, tmp_path / "d", status=store_mod.QUEUED)
    assert _main(home, "runs", "delete", done.id) == 2  # stdin is not a terminal under pytest
    assert "add --yes" in capsys.readouterr().err
    assert store.run_dir(done.id).is_dir()
    assert _main(home, "runs", "delete", done.id, "--yes") == 0
    assert "Deleted" in capsys.readouterr().out
    assert not store.run_dir(done.id).exists()
    assert _main(home, "runs", "delete", queued.id, "--yes") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: This run is waiting for its turn") and "stop it" in err
    assert store.get(queued.id).status == store_mod.QUEUED
