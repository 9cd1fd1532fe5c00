"""core.reports.report: progress text, run labels, result tables and CSV rows."""

from __future__ import annotations

import json

import pytest

from core.data import samples
from core.reports import references, report
from core.runs import advisor
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.results import PerClass, RunResult
from core.runs.store import Store


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
    scanning = {"stage": "scanning", "message": "reading the dataset", "step": 2500}
    store.update(run.id, progress={**scanning, "steps": 10_000, "eta_seconds": 130})
    assert report.progress_view(store.get(run.id)) == (
        0.25,
        "Reading the dataset: 2,500 of 10,000 files, about 2 min 10 s left.",
    )
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
    assert csv[0] == (
        "strategy,run,status,test_accuracy,test_interval,test_loss,val_accuracy,val_loss,"
        "epochs,train_seconds,best"
    )
    assert csv[2].startswith("Linear probe,") and csv[2].endswith(report.BEST_MARK)
    assert report.to_csv([]) == ""


def test_compare_rows_rank_by_test_accuracy_not_validation(tmp_path):
    """Validation chose each run's epoch, so it flatters: the table ranks by the test side,
    shows its 95% interval, and the widest interval's caution is the table's."""
    store = Store(tmp_path / "home")
    runs = []
    for strategy, val, test, interval, caution in (
        ("head", 0.99, 0.80, (0.70, 0.87), "Only 60 test images"),
        ("linear", 0.90, 0.85, (0.76, 0.91), None),
    ):
        run = store.create(RunConfig(dataset=str(tmp_path), strategy=strategy))
        result = RunResult(
            val_accuracy=val,
            val_loss=0.3,
            test_accuracy=test,
            test_loss=0.4,
            test_images=60,
            test_interval=interval,
            evaluated_on="test",
            caution=caution,
        )
        store.finish(run.id, store_mod.DONE, result=result)
        runs.append(store.get(run.id))
    rows = report.compare_rows(runs)
    assert [r["best"] for r in rows] == ["", report.BEST_MARK]
    assert rows[0]["test_interval"] == "70%–87%"
    # the caution names its run: its numbers are not the winner's
    assert report.compare_caution(runs) == f"{report.series_name(runs[0])}: Only 60 test images"
    assert "85.0% test accuracy" in report.run_label(runs[1])
    names, accuracies, intervals = report.test_bars(runs)
    assert accuracies == [0.80, 0.85] and intervals[1] == (0.76, 0.91)


def test_run_label_latest_probe_and_per_class(tmp_path):
    store, run = _run(tmp_path, task="probe")
    assert report.is_probe(run) and "similarity measurement" in report.run_label(run)
    assert report.run_name(run).startswith("similarity measurement · ImageNet · 150 px · ")
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


def test_run_names_tell_runs_apart(tmp_path):
    store = Store(tmp_path / "home")
    weights = tmp_path / "my_vgg.h5"
    weights.write_bytes(b"x")
    made = [
        RunConfig(dataset=str(tmp_path), strategy="linear", image_size=48, weights="imagenet"),
        RunConfig(dataset=str(tmp_path), strategy="linear", image_size=150, weights=str(weights)),
        RunConfig(dataset=str(tmp_path), strategy="scratch", image_size=48, weights="imagenet"),
    ]
    names = [report.run_name(store.create(c)) for c in made]
    assert names[0].startswith(f"Linear probe · ImageNet · 48 px · {tmp_path.name} (")
    assert "local file my_vgg.h5 · 150 px" in names[1]
    assert "no pretrained weights · 48 px" in names[2]  # scratch ignores the weights setting
    assert len(set(names)) == 3


def test_latest_advice_prefers_matching_settings_and_skips_unfinished(tmp_path):
    store = Store(tmp_path / "home")
    probe = {"block3_pool": 0.6, "block4_pool": 0.7, "block5_pool": 0.9}

    def measured(size, status=store_mod.DONE):
        run = store.create(
            RunConfig(dataset=str(tmp_path), task="probe", image_size=size, weights="none")
        )
        result = {"probe": probe, "advice": advisor.advise(20, probe).to_dict()}
        store.finish(run.id, status, result=result if status == store_mod.DONE else None)
        return run

    at_48, at_64 = measured(48), measured(64)
    measured(64, store_mod.FAILED)  # the newest, but it gave no advice
    runs = store.list()
    assert report.latest_advice(runs, str(tmp_path), 48, "none").id == at_48.id
    assert report.latest_advice(runs, str(tmp_path), 96, "none").id == at_64.id  # any size
    assert report.latest_advice(runs, str(tmp_path / "other")) is None


@pytest.mark.parametrize(
    "error, plain, detailed",
    [
        ("could not get the ImageNet weights (URLError: x)", "upload the weights file", True),
        ("ValueError: block4_pool shape mismatch", "Something unexpected", True),
        ("out of memory: lower the batch size or the image size", "ran out of memory", True),
        ("dataset folder not found: /x", "dataset folder not found: /x", False),
        (None, "No reason was recorded", False),
    ],
)
def test_failure_words_are_plain_with_the_detail_apart(error, plain, detailed):
    words, detail = report.failure_words(error)
    assert plain in words
    assert "Error" not in words and "block4_pool" not in words
    assert (detail == error) if detailed else detail is None


def test_shared_start_note_names_the_strategies_whose_curves_coincide():
    note = report.shared_start_note(["finetune", "head", "linear", "head"])
    assert note is not None
    assert "the first phase of Fine-tune the top blocks is Feature extractor + small head" in note
    assert "Fine-tune everything" not in note  # not compared here
    assert report.shared_start_note(["linear", "head", "scratch"]) is None
    assert report.shared_start_note(["finetune", "full"]) is None  # same start, neither whole
    assert report.shared_start_note(["unknown", "head"]) is None


def test_a_queued_run_says_how_many_runs_are_ahead_of_it(tmp_path):
    """Issue 20 item 12: "waiting for the runs queued before this one" with none queued."""
    store = Store(tmp_path / "home")
    run = store.create(RunConfig(dataset=str(tmp_path), task="map"))
    assert report.progress_view(run, ahead=0) == (
        None,
        "Starting: the worker picks it up in a moment.",
    )
    assert report.progress_view(run, ahead=2)[1].startswith("Waiting for 2 run(s) queued")
