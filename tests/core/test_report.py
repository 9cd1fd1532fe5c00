"""core.report: progress text, run labels, result tables and CSV rows."""

from __future__ import annotations

import json

import pytest

from core import references, report, samples
from core import store as store_mod
from core.results import PerClass, RunResult
from core.runconfig import RunConfig
from core.store import Store


@pytest.mark.parametrize(
    "seconds,text",
    [(None, "-"), (float("nan"), "-"), (4.4, "4 s"), (65, "1 min 05 s"), (3720, "1 h 02 min")],
)
def test_duration(seconds, text):
    assert report.duration(seconds) == text


def _run(tmp_path, **fields):
    store = Store(tmp_path / "home")
    run = store.create(
        RunConfig(
            dataset=str(tmp_path),
            strategy=fields.pop("strategy", "head"),
            task=fields.pop("task", "train"),
        )
    )
    if fields:
        store.update(run.id, **fields)
    return store, store.get(run.id)


def test_progress_view_for_each_stage(tmp_path):
    store, run = _run(tmp_path)
    assert report.progress_view(run) == (
        None,
        "Waiting for the runs queued before this one to finish.",
    )
    store.update(
        run.id,
        status=store_mod.RUNNING,
        progress={
            "stage": "extracting",
            "message": "VGG16 features: 3/12 images",
            "step": 3,
            "steps": 12,
        },
    )
    assert report.progress_view(store.get(run.id)) == (0.25, "VGG16 features: 3/12 images.")
    store.update(
        run.id,
        progress={
            "stage": "training",
            "phase": "head",
            "epoch": 2,
            "epochs": 4,
            "step": 5,
            "steps": 10,
            "eta_seconds": 75,
        },
    )
    assert report.progress_view(store.get(run.id)) == (
        0.5,
        "Epoch 2 of 4 (phase: head), batch 5 of 10, about 1 min 15 s left in this epoch.",
    )


def test_compare_rows_mark_one_best_and_export_csv(tmp_path):
    store = Store(tmp_path / "home")
    runs = []
    for strategy, accuracy, loss in (
        ("head", 0.9, 0.4),
        ("linear", 0.9, 0.3),
        ("scratch", 0.5, 1.2),
    ):
        run = store.create(RunConfig(dataset=str(tmp_path), strategy=strategy))
        store.finish(
            run.id,
            store_mod.DONE,
            result={
                "val_accuracy": accuracy,
                "val_loss": loss,
                "train_seconds": 12.5,
                "epochs_run": 3,
            },
        )
        runs.append(store.get(run.id))
    failed = store.create(RunConfig(dataset=str(tmp_path), strategy="full"))
    store.finish(failed.id, store_mod.FAILED, error="boom")
    rows = report.compare_rows([*runs, store.get(failed.id)])
    assert [r["best"] for r in rows] == ["", report.BEST_MARK, "", ""]  # tie: lower loss wins
    assert rows[3]["val_accuracy"] is None and rows[3]["status"] == "failed"
    csv = report.to_csv(rows).splitlines()
    assert csv[0] == "strategy,run,status,val_accuracy,val_loss,epochs,train_seconds,best"
    assert csv[2].startswith("Linear probe,") and csv[2].endswith(report.BEST_MARK)
    assert report.to_csv([]) == ""


def test_run_label_latest_probe_and_per_class(tmp_path):
    store, run = _run(tmp_path, task="probe")
    assert report.is_probe(run) and "similarity measurement" in report.run_label(run)
    assert report.run_name(run) == f"similarity measurement on {tmp_path.name} ({run.id})"
    assert report.latest_probe([run], str(tmp_path)) == run
    assert report.latest_probe([run], str(tmp_path), image_size=999) is None
    assert report.latest_probe([run], str(tmp_path), weights=run.config.weights) == run
    assert report.latest_probe([run], str(tmp_path), weights="/other/file.h5") is None
    assert report.latest_probe([run], str(tmp_path / "other")) is None
    assert report.latest([run]) is None and report.latest([run], train_only=False) == run
    rows = report.per_class_rows(RunResult(per_class=(PerClass("a", 1.0, 0.5, 0.66, 4),)))
    assert rows == [
        {"class": "a", "precision": 1.0, "recall": 0.5, "f1": 0.66, "validation images": 4}
    ]


def test_prediction_rows():
    row = report.prediction_row(
        "x.png", [{"class": "cat", "probability": 0.8}, {"class": "dog", "probability": 0.2}]
    )
    assert row == {
        "file": "x.png",
        "predicted": "cat",
        "probability": 0.8,
        "top_k": "cat 0.800; dog 0.200",
        "error": "",
    }
    assert report.error_row("y.png", "broken")["error"] == "broken"


def published_dataset(tmp_path):
    folder = tmp_path / "cats_vs_dogs_small"
    (folder / "cats").mkdir(parents=True)
    (folder / samples.MARKER).write_text(json.dumps({"id": references.CATS_VS_DOGS_SMALL}))
    return folder


def test_references_for_one_dataset_judged_by_the_runs_settings(tmp_path):
    store = Store(tmp_path / "home")
    folder = published_dataset(tmp_path)
    same = store.create(RunConfig(dataset=str(folder), image_size=150, weights="imagenet"))
    other = store.create(RunConfig(dataset=str(folder), image_size=64, weights="imagenet"))
    published = report.shared_references([same])
    assert published and all(r.comparable for r in published)
    assert not any(r.comparable for r in report.shared_references([other]))


def test_no_references_for_a_mixed_comparison(tmp_path):
    store = Store(tmp_path / "home")
    folder = published_dataset(tmp_path)
    runs = [
        store.create(RunConfig(dataset=str(folder), image_size=150)),
        store.create(RunConfig(dataset=str(tmp_path), image_size=150)),
    ]
    assert report.shared_references(runs) == []
    assert report.shared_references(runs[:1])
