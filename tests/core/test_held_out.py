"""The test split is held out: no test image is fed to fitting, to the validation data that
drives early stopping / learning-rate decay / checkpoint choice, or to the head's adaptation;
the test images are scored only after training, and the result names them as test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic import write_colour_dataset
from tiny_run import train

from core.runs.config import RunConfig
from core.runs.store import Store
from core.train import decoded_cache, features, linear_fits, training

pytestmark = pytest.mark.slow

FAST = dict(image_size=32, weights="none", batch_size=8, epochs=1, finetune_epochs=1, seed=0)


class Recorder:
    """Every image path handed to a data source, split by whether a training step (fitting,
    with its validation data, or the head's adaptation) was running at the time."""

    def __init__(self):
        self.training = 0
        self.during_training: set[str] = set()
        self.after_training: set[str] = set()
        self.extracted: set[str] = set()  # features computed or loaded (inputs, not signal)

    def saw(self, items) -> None:
        paths = {str(item.path) for item in items}
        (self.during_training if self.training else self.after_training).update(paths)

    def step(self, function):
        def wrapped(*args, **kwargs):
            self.training += 1
            try:
                return function(*args, **kwargs)
            finally:
                self.training -= 1

        return wrapped


@pytest.fixture
def recorder(monkeypatch) -> Recorder:
    seen = Recorder()

    def spy(function):
        def wrapped(first, second, items, *args, **kwargs):
            seen.saw(items)
            return function(first, second, items, *args, **kwargs)

        return wrapped

    def spy_images(items, *args, **kwargs):
        seen.saw(items)
        return original_images(items, *args, **kwargs)

    def spy_extract(base, items, *args, **kwargs):
        seen.extracted.update(str(item.path) for item in items)
        return original_extract(base, items, *args, **kwargs)

    original_images, original_extract = decoded_cache.image_batches, features.extract
    monkeypatch.setattr(features, "extract", spy_extract)
    monkeypatch.setattr(features.FeatureTable, "batches", spy(features.FeatureTable.batches))
    monkeypatch.setattr(features.FeatureTable, "rows", spy(features.FeatureTable.rows))
    monkeypatch.setattr(decoded_cache, "image_batches", spy_images)
    # the training steps: whatever data they read is seen by fitting or early stopping
    monkeypatch.setattr(training, "run_phases", seen.step(training.run_phases))
    monkeypatch.setattr(training, "_dense_network", seen.step(training._dense_network))
    monkeypatch.setattr(linear_fits, "_fit", seen.step(linear_fits._fit))
    return seen


def _sides(store: Store, run_id: str, dataset: Path) -> dict[str, set[str]]:
    manifest = json.loads((store.run_dir(run_id) / "manifest.json").read_text())
    sides: dict[str, set[str]] = {"train": set(), "validation": set(), "test": set()}
    for rel, side in manifest["files"].items():
        sides[side].add(str(dataset / rel))
    return sides


@pytest.mark.parametrize(
    "settings",
    [
        {"strategy": "head"},  # cached features, head adapted on train
        {"strategy": "finetune", "augment": True},  # images through the whole network
        {"strategy": "linear"},  # closed-form fit on pooled features
    ],
    ids=["head", "finetune-images", "linear"],
)
def test_no_test_image_is_seen_by_training_or_early_stopping(recorder, settings, tmp_path):
    dataset = write_colour_dataset(tmp_path / "d", ("red", "green", "blue"), per_class=10, size=32)
    store = Store(tmp_path / "home")
    run = train(store, RunConfig(dataset=str(dataset), **{**FAST, **settings}))
    assert run.status == "done", run.error
    sides = _sides(store, run.id, dataset)
    assert sides["test"] and len(sides["test"]) == run.result.test_images
    # the recorder works: training read the train and validation images...
    assert sides["train"] | sides["validation"] <= recorder.during_training
    # ...and never a test image; those were read once training had ended
    assert not sides["test"] & recorder.during_training
    assert sides["test"] <= recorder.after_training
    if settings.get("augment") is None:  # cached-feature runs: the cache covers test too
        assert sides["test"] <= recorder.extracted

    result = run.result
    assert result.evaluated_on == "test" and result.test_accuracy is not None
    assert result.val_accuracy is not None  # the chosen model's validation score, kept too
    assert np.array(result.confusion_matrix).sum() == result.test_images
    assert sum(row.support for row in result.per_class) == result.test_images
    assert {w.file for w in result.most_wrong} <= sides["test"]
    low, high = result.test_interval
    assert low <= result.test_accuracy <= high
    assert result.caution and "test images" in result.caution  # ~5 test images: too few
