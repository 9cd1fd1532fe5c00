"""Typed run records: Progress, RunResult and ProbeResult survive the store unchanged, old or
partial JSON rows still load, and the CLI's JSON line keeps its keys."""

import json
import sqlite3

from core import cli
from core.model.device_facts import DeviceUse
from core.runs import advisor
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.results import (
    CacheUse,
    PerClass,
    ProbeResult,
    Progress,
    RunResult,
    WrongImage,
    result_from_json,
)
from core.runs.store import Store

RESULT = RunResult(
    val_accuracy=0.75,
    val_loss=0.5,
    per_class=(PerClass("cat", 1.0, 0.5, 0.66, 2), PerClass("dog", 0.6, 1.0, 0.75, 2)),
    confusion_matrix=((1, 1), (0, 2)),
    epochs_run=3,
    train_seconds=4.5,
    strategy="head",
    classes=("cat", "dog"),
    train_images=16,
    validation_images=4,
    weights="no pretrained weights",
    pretrained=False,
    class_weights={0: 1.5, 1: 0.75},
    most_wrong=(WrongImage("/x/cat1.png", "cat", "dog", 0.9, 0.1),),
    feature_cache=CacheUse(hits=2, misses=1),
    test_accuracy=0.5,
    test_loss=0.9,
    test_images=4,
    test_interval=(0.15, 0.85),
    evaluated_on="test",
    caution="Only 4 test images",
    device=DeviceUse(("GPU:0",), ("NVIDIA A100",), "mixed_bfloat16", True, 1),
)


def _store_with_run(tmp_path):
    store = Store(tmp_path / "home")
    return store, store.create(RunConfig(dataset=str(tmp_path), weights="none"))


def test_a_result_and_progress_round_trip_through_the_store(tmp_path):
    store, run = _store_with_run(tmp_path)
    progress = Progress("training", "", phase="head", phase_index=0, epoch=2, step=3, steps=9)
    store.update(run.id, progress=progress)
    assert store.get(run.id).progress == progress
    store.finish(run.id, store_mod.DONE, result=RESULT)
    loaded = store.get(run.id)
    assert loaded.result == RESULT and loaded.training_result == RESULT
    assert loaded.probe_result is None and loaded.val_accuracy == 0.75
    assert isinstance(loaded.config, RunConfig) and loaded.config.weights == "none"


def test_the_json_shape_is_the_one_stored_before():
    data = RESULT.to_json()
    assert data["per_class"][0] == {
        "class": "cat",
        "precision": 1.0,
        "recall": 0.5,
        "f1": 0.66,
        "support": 2,
    }
    assert data["confusion_matrix"] == [[1, 1], [0, 2]]
    assert data["feature_cache"] == {"hits": 2, "misses": 1}
    assert data["most_wrong"][0]["true_probability"] == 0.1
    assert "note" not in data  # only a run that ended early carries a note
    again = json.loads(json.dumps(data))  # class weight keys become strings in JSON
    assert RunResult.from_json(again) == RESULT


def test_a_probe_result_round_trips(tmp_path):
    store, run = _store_with_run(tmp_path)
    probe = {"block3_pool": 0.6, "block4_pool": 0.7, "block5_pool": 0.9}
    result = ProbeResult(probe, advisor.advise(20.0, probe), "ImageNet", 20.0)
    store.finish(run.id, store_mod.DONE, result=result)
    loaded = store.get(run.id)
    assert loaded.probe_result == result and loaded.training_result is None
    assert loaded.probe_result.advice.strategy == result.advice.strategy
    assert loaded.val_accuracy is None


def test_old_and_empty_rows_still_load(tmp_path):
    """Rows written before the typed records: '{}', a stopped run's lone note, unknown keys,
    missing keys. Nothing raises; what is missing is None or empty."""
    store, run = _store_with_run(tmp_path)
    assert store.get(run.id).result is None
    assert store.get(run.id).progress == Progress()
    rows = {
        "note_only": {"note": "stopped before any epoch finished: no model was saved"},
        "old_shape": {"val_accuracy": 0.5, "per_class": [{"class": "a"}], "retired_key": 1},
    }
    with sqlite3.connect(store.path) as db:
        db.execute(
            "UPDATE runs SET result = ?, progress = ?, config = ? WHERE id = ?",
            (
                json.dumps(rows["old_shape"]),
                json.dumps({"stage": "training", "removed_field": True, "epoch": 1}),
                json.dumps({"dataset": str(tmp_path), "strategy": "head", "old_setting": 3}),
                run.id,
            ),
        )
    old = store.get(run.id)
    assert old.result.val_accuracy == 0.5 and old.result.epochs_run is None
    # a run from before the test split: its figures are validation ones, and say so
    assert old.result.test_accuracy is None and old.result.evaluated_on == "validation"
    assert (old.result.score, old.result.score_name) == (0.5, "validation accuracy")
    assert old.result.per_class == (PerClass("a", 0.0, 0.0, 0.0, 0),)
    assert old.result.device is None  # recorded before the worker measured its device
    assert old.progress == Progress("training", epoch=1)
    assert old.config.strategy == "head" and old.config.weights == "imagenet"
    stopped = result_from_json(rows["note_only"])
    assert stopped.note.startswith("stopped") and not stopped.scored


def test_the_cli_json_line_keeps_its_keys(tmp_path):
    store, run = _store_with_run(tmp_path)
    store.finish(run.id, store_mod.DONE, result=RESULT, model_path="/m.keras")
    line = cli.result_line(store.get(run.id))
    assert list(line) == [
        "run_id",
        "status",
        "strategy",
        "val_accuracy",
        "val_loss",
        "epochs_run",
        "train_seconds",
        "model_path",
        "weights",
        "error",
        "test_accuracy",
        "test_loss",
        "test_images",
        "test_interval",
        "caution",
        "device",
    ]
    assert (line["val_accuracy"], line["epochs_run"], line["weights"]) == (
        0.75,
        3,
        "no pretrained weights",
    )
    assert (line["test_accuracy"], line["test_interval"]) == (0.5, [0.15, 0.85])
    assert line["device"]["placed_on"] == ["GPU:0"] and line["device"]["policy"] == "mixed_bfloat16"
    store.finish(run.id, store_mod.FAILED, error="boom", result=None)
    failed = cli.result_line(store.get(run.id))
    assert failed["val_accuracy"] is None and failed["error"] == "boom"


def test_epoch_records_keep_known_metrics_and_ignore_others():
    from core.runs.results import EpochRecord

    row = EpochRecord.from_metric("head", 3, 1.5, {"loss": 0.4, "val_accuracy": 0.9, "new": 1})
    assert (row.phase, row.epoch, row.loss, row.val_accuracy) == ("head", 3, 0.4, 0.9)
    assert row.value("val_accuracy") == 0.9 and row.accuracy is None
    assert EpochRecord(**row.to_json()) == row  # the bundle's history.json round-trips
