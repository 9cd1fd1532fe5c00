"""Training runs end to end, in-process (the worker calls the same function)."""

import json

import numpy as np
import pytest
from synthetic import write_colour_dataset

from core.export import predict
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.results import Progress
from core.runs.store import Store
from core.train import training

pytestmark = pytest.mark.slow

FAST = dict(image_size=32, weights="none", batch_size=8, epochs=4, finetune_epochs=2, seed=0)
EXPECTED_PHASES = {
    "linear": {"fit"},
    "head": {"head"},
    "finetune": {"head", "finetune"},
    "full": {"head", "finetune"},
    "scratch": {"train"},
}


def _run(store: Store, dataset, **settings) -> store_mod.Run:
    config = RunConfig(dataset=str(dataset), **{**FAST, **settings})
    run = store.create(config)
    store.claim_next(worker_pid=0)
    training.execute(store, run.id)
    return store.get(run.id)


@pytest.mark.parametrize(
    "strategy, dataset_fixture, epochs",
    [
        ("linear", "three_class_dataset", 4),
        ("head", "binary_dataset", 8),
        ("head", "three_class_dataset", 8),
        ("finetune", "three_class_dataset", 8),
        ("full", "binary_dataset", 8),
        ("scratch", "binary_dataset", 8),
    ],
)
def test_each_strategy_learns_an_easy_task(strategy, dataset_fixture, epochs, request, tmp_path):
    dataset = request.getfixturevalue(dataset_fixture)
    store = Store(tmp_path / "home")
    run = _run(
        store,
        dataset,
        strategy=strategy,
        epochs=epochs,
        learning_rates={"train": 3e-4} if strategy == "scratch" else {},
    )
    assert run.status == store_mod.DONE, run.error
    classes = len(run.result.classes)
    assert run.result.val_accuracy > 1.0 / classes + 0.15, run.result.val_accuracy
    history = store.epoch_history(run.id)
    assert {h.phase for h in history} == EXPECTED_PHASES[strategy]
    assert [h.epoch for h in history] == list(range(1, len(history) + 1))
    matrix = np.array(run.result.confusion_matrix)
    assert matrix.shape == (classes, classes)
    assert matrix.sum() == run.result.test_images  # scored on the held-out test side
    assert run.result.evaluated_on == "test"
    saved = json.loads((store.run_dir(run.id) / "manifest.json").read_text())
    sides = (run.result.train_images, run.result.validation_images, run.result.test_images)
    assert len(saved["files"]) == sum(sides)


def test_second_run_on_the_same_data_extracts_nothing(binary_dataset, tmp_path):
    store = Store(tmp_path / "home")
    first = _run(store, binary_dataset, strategy="head", epochs=1)
    second = _run(store, binary_dataset, strategy="head", epochs=2, seed=0)
    assert first.result.feature_cache.misses >= 1
    assert second.result.feature_cache.misses == 0
    assert second.result.feature_cache.hits >= 1


def test_saved_model_reproduces_the_runs_validation_scores(three_class_dataset, tmp_path):
    store = Store(tmp_path / "home")
    run = _run(store, three_class_dataset, strategy="finetune", epochs=2, finetune_epochs=1)
    loaded = predict.load(store, run.id)
    manifest = json.loads((store.run_dir(run.id) / "manifest.json").read_text())
    val_files = sorted(f for f, side in manifest["files"].items() if side == "validation")
    batch = np.stack([predict.prepare(three_class_dataset / f, 32) for f in val_files])
    predicted = predict.probabilities(loaded, batch).argmax(1)
    truth = [manifest["classes"].index(f.split("/")[0]) for f in val_files]
    assert np.mean(predicted == np.array(truth)) == pytest.approx(run.result.val_accuracy)


def test_unreadable_image_is_reported_and_skipped(binary_dataset, tmp_path):
    (binary_dataset / "red" / "truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    store = Store(tmp_path / "home")
    run = _run(store, binary_dataset, strategy="linear")
    assert run.status == store_mod.DONE
    result = run.result
    assert result.train_images + result.validation_images + result.test_images == 24


def test_imbalanced_classes_get_balanced_class_weights(tmp_path):
    root = write_colour_dataset(tmp_path / "d", ("red",), per_class=16)
    write_colour_dataset(root, ("blue",), per_class=4, seed=3)
    run = _run(Store(tmp_path / "home"), root, strategy="head", epochs=2)
    weights = run.result.class_weights
    assert weights is not None and weights[0] > weights[1]  # blue (0) is the rare class
    assert [c.support for c in run.result.per_class] == [1, 2]  # the test side: 1 blue, 2 red


def test_bad_dataset_fails_the_run_with_a_message(tmp_path):
    root = write_colour_dataset(tmp_path / "one", ("red",), per_class=3)
    run = _run(Store(tmp_path / "home"), root, strategy="head")
    assert run.status == store_mod.FAILED
    assert "at least two classes" in run.error


def test_nan_loss_ends_as_diverged_and_keeps_a_model(binary_dataset, tmp_path, monkeypatch):
    import keras

    from core.model import models

    def nan_loss(y_true, y_pred):
        return keras.ops.mean(y_pred) * float("nan")

    monkeypatch.setattr(models, "loss_for", lambda classes: nan_loss)
    store = Store(tmp_path / "home")
    run = _run(store, binary_dataset, strategy="head", epochs=3)
    assert run.status == store_mod.DIVERGED, (run.status, run.error)
    assert "NaN" in run.error
    loaded = predict.load(store, run.id)
    assert loaded.classes == ["blue", "red"]
    image = predict.prepare(binary_dataset / "red" / "red_00.png", 32)[None]
    assert np.isfinite(predict.probabilities(loaded, image)).all()  # good weights were kept


def _stop_after(store, monkeypatch, checks: int):
    """The stop flag turns on at the N-th check (extraction checks once per batch, training
    once per batch)."""
    calls = {"n": 0}

    def stop_requested(run_id):
        calls["n"] += 1
        return calls["n"] >= checks

    monkeypatch.setattr(store, "stop_requested", stop_requested)


def test_stop_during_first_extraction_ends_stopped_not_failed(
    binary_dataset, tmp_path, monkeypatch
):
    store = Store(tmp_path / "home")
    _stop_after(store, monkeypatch, 1)
    run = _run(store, binary_dataset, strategy="finetune")
    assert run.status == store_mod.STOPPED, run.error
    assert not (store.run_dir(run.id) / "traceback.txt").exists()
    assert run.model_path is None


def test_stop_in_epoch_two_keeps_epoch_one_and_skips_later_phases(
    binary_dataset, tmp_path, monkeypatch
):
    store = Store(tmp_path / "home")
    # 24 images, batch 8: 3 extraction checks, then 3 training batches per epoch
    _stop_after(store, monkeypatch, 3 + 3 + 1)
    run = _run(store, binary_dataset, strategy="finetune", epochs=5, finetune_epochs=3)
    assert run.status == store_mod.STOPPED, run.error
    assert run.result.epochs_run == 1
    assert [h.phase for h in store.epoch_history(run.id)] == ["head"]
    assert run.model_path and predict.load(store, run.id).classes == ["blue", "red"]


def test_resume_in_phase_two_continues_the_epoch_numbering(
    three_class_dataset, tmp_path, monkeypatch
):
    store = Store(tmp_path / "home")
    history = store.epoch_history
    monkeypatch.setattr(
        store,
        "stop_requested",
        lambda run_id: any(h.phase == "finetune" for h in history(run_id)),
    )  # stop after one finetune epoch
    run = _run(
        store,
        three_class_dataset,
        strategy="finetune",
        epochs=2,
        finetune_epochs=3,
        early_stopping_patience=50,
    )
    assert run.status == store_mod.STOPPED, run.error
    assert [h.phase for h in store.epoch_history(run.id)] == ["head", "head", "finetune"]
    monkeypatch.undo()
    store.finish(run.id, store_mod.INTERRUPTED)  # as if the worker had died there
    store.requeue_for_resume(run.id)
    store.claim_next(0)
    training.execute(store, run.id)
    resumed = store.get(run.id)
    assert resumed.status == store_mod.DONE, resumed.error
    history = store.epoch_history(run.id)
    assert [h.epoch for h in history] == [1, 2, 3, 4, 5]
    assert [h.phase for h in history] == ["head"] * 2 + ["finetune"] * 3
    assert resumed.result.epochs_run == 5
    # the epoch trained again after the stop replaced its batches: each batch once, in order
    batches = store.batch_history(run.id)
    assert [b.number for b in batches] == list(range(1, 5 * batches[0].steps + 1))
    assert {b.phase for b in batches if b.epoch > 2} == {"finetune"}


def test_progress_holds_the_whole_runs_eta_across_phases(binary_dataset, tmp_path, monkeypatch):
    store = Store(tmp_path / "home")
    seen = []
    update = store.update

    def spy(run_id, **fields):
        if isinstance(fields.get("progress"), Progress) and fields["progress"].run_eta_seconds:
            seen.append(fields["progress"])
        update(run_id, **fields)

    monkeypatch.setattr(store, "update", spy)
    run = _run(store, binary_dataset, strategy="finetune", epochs=2, finetune_epochs=2)
    assert run.status == store_mod.DONE, run.error
    head = [p for p in seen if p.phase == "head"]
    finetune = [p for p in seen if p.phase == "finetune"]
    assert head and finetune
    assert all(p.run_eta_measured is False for p in head)  # fine-tuning not measured yet
    assert finetune[-1].run_eta_measured is True
    # while the head trains, the ETA includes the fine-tuning phase still to come
    assert head[0].run_eta_seconds > finetune[0].run_eta_seconds


def test_a_run_releases_its_models(binary_dataset, tmp_path):
    from core.train import features

    _run(Store(tmp_path / "home"), binary_dataset, strategy="head", epochs=1)
    assert features._FORWARDS == {}
