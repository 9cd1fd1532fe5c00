"""Fixing a dataset without touching its files: the overlay of edits (core.data.overlay,
core.data.datafix),
applied by the scan, undone one by one or all at once, recorded by a run."""

from __future__ import annotations

import dataclasses
import json

import pytest
from synthetic import write_colour_dataset
from tiny_run import TINY, train

from core import cli
from core.data import datafix, datasets, overlay
from core.jobs import runs, worker
from core.platform.fileio import sha256_file
from core.runs import runfiles
from core.runs.config import RunConfig
from core.runs.store import Store
from core.train import context as run_context
from core.train import training


@pytest.fixture
def data(tmp_path):
    return write_colour_dataset(tmp_path / "data", ("red", "blue"), per_class=6, size=32)


def _hashes(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in folder.rglob("*.png")}


def test_relabel_and_exclude_change_the_scan_and_never_the_files(tmp_path, data):
    home, before = tmp_path / "home", _hashes(data)
    found = datafix.scan(home, data)
    datafix.relabel(home, found, "red/red_00.png", "blue")
    datafix.exclude(home, datafix.scan(home, data), "blue/blue_01.png")
    edited = datafix.scan(home, data)
    labels = {i.rel: i.label for i in edited.items}
    assert labels["red/red_00.png"] == "blue"
    assert "blue/blue_01.png" not in labels
    assert [i.rel for i in edited.excluded] == ["blue/blue_01.png"]
    assert edited.counts() == {"blue": 6, "red": 5}  # 6 - 1 excluded + 1 moved in
    assert len(edited.summary()["edits"]) == 2
    assert _hashes(data) == before  # byte for byte, nothing moved or rewritten
    assert datasets.scan(data).counts() == {"blue": 6, "red": 6}  # without the overlay


def test_undo_one_restores_the_edit_before_and_undo_all_restores_the_folders(tmp_path, data):
    home = tmp_path / "home"
    first = datafix.relabel(home, datafix.scan(home, data), "red/red_00.png", "blue")
    second = datafix.exclude(home, datafix.scan(home, data), "red/red_00.png")
    assert "red/red_00.png" not in {i.rel for i in datafix.scan(home, data).items}
    datafix.undo(home, data, second.id)  # back to the relabel
    assert {i.rel: i.label for i in datafix.scan(home, data).items}["red/red_00.png"] == "blue"
    assert [e.id for e in datafix.edits(home, data)] == [first.id]
    datafix.exclude(home, datafix.scan(home, data), "blue/blue_02.png")
    assert datafix.undo_all(home, data) == 2
    assert datafix.scan(home, data).counts() == {"blue": 6, "red": 6}
    with pytest.raises(overlay.EditError, match="undone already"):
        datafix.undo(home, data, first.id)


def test_edits_that_make_no_sense_are_refused_with_a_reason(tmp_path, data):
    home = tmp_path / "home"
    found = datafix.scan(home, data)
    with pytest.raises(overlay.EditError, match="no class 'green'"):
        datafix.relabel(home, found, "red/red_00.png", "green")
    with pytest.raises(overlay.EditError, match="already in red"):
        datafix.relabel(home, found, "red/red_00.png", "red")
    with pytest.raises(overlay.EditError, match="not in this dataset"):
        datafix.exclude(home, found, "red/nope.png")
    assert datafix.edits(home, data) == ()


def test_an_edit_whose_file_is_gone_is_reported_not_applied(tmp_path, data):
    home = tmp_path / "home"
    datafix.relabel(home, datafix.scan(home, data), "red/red_00.png", "blue")
    (data / "red" / "red_00.png").unlink()
    found = datafix.scan(home, data)
    assert any("could not be applied" in w and "red_00" in w for w in found.warnings)
    assert found.counts() == {"blue": 6, "red": 5}


def test_an_exclusion_keeps_the_feature_cache_key(tmp_path, data):
    home = tmp_path / "home"
    key = datasets.scan(data).fingerprint()
    datafix.exclude(home, datafix.scan(home, data), "red/red_03.png")
    assert datafix.scan(home, data).fingerprint() == key  # cached features stay usable


def test_the_dataset_fingerprint_changes_with_the_edits(tmp_path, data):
    home = tmp_path / "home"
    split = datasets.split(datasets.scan(data), val_fraction=0.2, test_fraction=0.15)
    plain = runfiles.hashed_manifest(split)
    edit = datafix.exclude(home, datafix.scan(home, data), "red/red_03.png")
    with_edit = runfiles.hashed_manifest(split, [edit.to_json()])
    assert runfiles.dataset_fingerprint(with_edit) != runfiles.dataset_fingerprint(plain)
    assert runfiles.plain_manifest(with_edit)["edits"] == [edit.to_json()]
    assert "edits" not in runfiles.plain_manifest(plain)


def test_a_run_after_an_edit_trains_with_the_edited_label_and_records_it(
    tmp_path, data, monkeypatch
):
    store = Store(tmp_path / "home")
    rel = "red/red_00.png"
    edit = datafix.relabel(store.home, datafix.scan(store.home, data), rel, "blue")
    datafix.exclude(store.home, datafix.scan(store.home, data), "blue/blue_05.png")
    seen = []

    def prepare(*args, **kwargs):
        seen.append(run_context.prepare(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(training, "prepare", prepare)
    run = train(store, RunConfig(dataset=str(data), **TINY))
    assert run.status == "done", run.error
    trained = {
        i.rel: i.label
        for i in [*seen[0].split.train, *seen[0].split.validation, *seen[0].split.test]
    }
    assert trained[rel] == "blue" and "blue/blue_05.png" not in trained
    folder = store.run_dir(run.id)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [e["id"] for e in manifest["edits"]][0] == edit.id
    assert "blue/blue_05.png" not in manifest["files"]
    split = runfiles.run_split(store, run)  # rebuilt with the run's edits, not today's
    datafix.undo_all(store.home, data)
    again = runfiles.run_split(store, run)
    labels = {i.rel: i.label for i in [*again.train, *again.validation, *again.test]}
    assert labels[rel] == "blue"
    assert {i.rel: i.label for i in [*split.train, *split.validation, *split.test]}[rel] == "blue"
    result = run.training_result
    assert result.train_images + result.validation_images + result.test_images == 11


def test_the_command_line_inspects_the_edited_dataset(tmp_path, data, capsys):
    home = tmp_path / "home"
    datafix.exclude(home, datafix.scan(home, data), "red/red_00.png")
    assert cli.main(["--home", str(home), "inspect", str(data), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["counts"] == {"blue": 6, "red": 5}
    assert summary["edits"] == ["red/red_00.png: excluded (was in red)"]


@pytest.mark.parametrize("command", ["compare", "lr-find"])
def test_compare_and_lr_find_scan_with_the_edits_of_the_home_given(
    tmp_path, data, monkeypatch, capsys, command
):
    home = tmp_path / "home"
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "default-home"))  # holds no edits
    for k in range(6):  # every blue image left out, in the home given only: one class remains
        datafix.exclude(home, datafix.scan(home, data), f"blue/blue_{k:02d}.png")
    # nothing may start: a scan that missed the edits would queue runs
    for start in ("start_comparison", "start_lr_find"):
        monkeypatch.setattr(runs, start, lambda *a, **kw: runs.Refused("queued without the edits"))
    argv = ["--home", str(home), command, str(data), "--weights", "none"]
    assert cli.main(argv) == cli.EXIT_BAD_INPUT
    assert "at least two classes with images are needed, found 1" in capsys.readouterr().err


def _prepared(store: Store, config: RunConfig) -> run_context.Context:
    """What a run of `config` would train on, prepared as the worker prepares it."""
    run = store.create(config)
    return run_context.prepare(store, run.id, config, store.run_dir(run.id))


def _labels(ctx: run_context.Context) -> dict[str, str]:
    split = ctx.split
    return {i.rel: i.label for i in [*split.train, *split.validation, *split.test]}


def test_a_comparison_keeps_the_edits_it_was_queued_with(tmp_path, data):
    store = Store(tmp_path / "home")
    datafix.exclude(store.home, datafix.scan(store.home, data), "blue/blue_05.png")
    found = datafix.scan(store.home, data)
    base = RunConfig(dataset=str(data), **TINY)
    configs = runs.comparison_configs(found, base, ["head", "linear"], seeds=2)
    # a fix made while the comparison runs must not reach the runs that start after it
    datafix.relabel(store.home, datafix.scan(store.home, data), "red/red_00.png", "blue")
    for config in configs:
        labels = _labels(_prepared(store, config))
        assert labels["red/red_00.png"] == "red" and "blue/blue_05.png" not in labels
    assert all(c.manifest and len(c.manifest["edits"]) == 1 for c in configs)


def test_a_comparison_queued_without_edits_ignores_one_made_later(tmp_path, data):
    store = Store(tmp_path / "home")
    configs = runs.comparison_configs(
        datafix.scan(store.home, data), RunConfig(dataset=str(data), **TINY), ["head"]
    )
    datafix.exclude(store.home, datafix.scan(store.home, data), "red/red_00.png")
    assert all("red/red_00.png" in _labels(_prepared(store, c)) for c in configs)


def test_a_queued_run_carries_its_edits_to_a_home_without_the_overlay(tmp_path, data):
    queued_at = Store(tmp_path / "home")
    datafix.relabel(queued_at.home, datafix.scan(queued_at.home, data), "red/red_00.png", "blue")
    run = worker.submit(queued_at, RunConfig(dataset=str(data), **TINY), start=False)
    datafix.exclude(queued_at.home, datafix.scan(queued_at.home, data), "blue/blue_00.png")
    # a Ray task prepares the run in a scratch home of its own: no overlay file there
    scratch = Store(tmp_path / "scratch-home")
    labels = _labels(_prepared(scratch, run.config))
    assert labels["red/red_00.png"] == "blue"  # the fix made before it was queued
    assert "blue/blue_00.png" in labels  # not the one made after
    unfrozen = dataclasses.replace(run.config, edits=None)  # settings saved before edits froze
    assert _labels(_prepared(queued_at, unfrozen))["red/red_00.png"] == "blue"
