"""Hard inputs for the engine: foreign models, out-of-memory, awkward class names."""

import errno
import json
import re
from pathlib import Path

import pytest
from synthetic import write_colour_dataset

from core.export import predict
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.store import Store
from core.train import training

ROOT = Path(__file__).resolve().parents[2]


def _run(store, dataset, **settings):
    settings.setdefault("image_size", 32)
    config = RunConfig(dataset=str(dataset), weights="none", **settings)
    run = store.create(config)
    store.claim_next(0)
    training.execute(store, run.id)
    return store.get(run.id)


@pytest.fixture
def finished(binary_dataset, tmp_path):
    store = Store(tmp_path / "home")
    return store, _run(store, binary_dataset, strategy="linear")


@pytest.mark.slow
def test_only_models_the_studio_wrote_are_loaded(finished, tmp_path):
    store, run = finished
    assert predict.load(store, run.id).classes == ["blue", "red"]
    for name in ("model.h5", "model.pkl", "other.keras"):
        foreign = tmp_path / name
        foreign.write_bytes(Path(run.model_path).read_bytes())
        with pytest.raises(predict.ModelRefused, match="not a model this studio saved"):
            predict.load(store, str(foreign))
    with open(run.model_path, "ab") as handle:  # tampered after saving
        handle.write(b"\0")
    with pytest.raises(predict.ModelRefused, match="changed since"):
        predict.load(store, run.id)
    with pytest.raises(predict.ModelRefused, match="no run matches"):
        predict.load(store, "no-such-run")


def test_nothing_ever_loads_with_safe_mode_off():
    sources = [p for p in ROOT.rglob("*.py") if ".venv" not in p.parts and "tests" not in p.parts]
    offenders = [p for p in sources if re.search(r"safe_mode\s*=\s*False", p.read_text())]
    assert offenders == []


@pytest.mark.parametrize(
    "error",
    [MemoryError(), type("ResourceExhaustedError", (Exception,), {})("OOM when allocating")],
)
def test_out_of_memory_fails_the_run_with_advice(binary_dataset, tmp_path, monkeypatch, error):
    def exhausted(*args, **kwargs):
        raise error

    monkeypatch.setattr(training, "training_task", exhausted)
    run = _run(Store(tmp_path / "home"), binary_dataset, strategy="head", image_size=64)
    assert run.status == store_mod.FAILED
    assert run.error == "out of memory: lower the batch size to 16 or the image size to 40"


@pytest.mark.slow
def test_unicode_and_html_class_names_survive_training(tmp_path):
    root = tmp_path / "awkward"
    write_colour_dataset(root, ("red", "blue"), per_class=6)
    (root / "red").rename(root / "<img src=x onerror=alert(1)> 日本語 & ünïcödé")
    (root / "blue").rename(root / ("x" * 200))
    store = Store(tmp_path / "home")
    run = _run(store, root, strategy="linear")
    assert run.status == store_mod.DONE, run.error
    labels = json.loads((store.run_dir(run.id) / "labels.json").read_text())
    assert labels == sorted(["<img src=x onerror=alert(1)> 日本語 & ünïcödé", "x" * 200])
    assert predict.load(store, run.id).classes == labels


def _disk_full_on_call(n, real):
    """A write_atomically whose n-th call writes half a file, then finds the disk full."""
    calls = {"n": 0}

    def write(path, writer, suffix=".tmp"):
        calls["n"] += 1
        if calls["n"] != n:
            return real(path, writer, suffix)

        def half_then_full(tmp):
            tmp.write_bytes(b"half a file")
            raise OSError(errno.ENOSPC, "No space left on device")

        return real(path, half_then_full, suffix)

    return write


def test_best_checkpoint_survives_a_full_disk(tmp_path, monkeypatch):
    import keras

    from core.platform import fileio
    from core.train import callbacks

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    best = tmp_path / "best.weights.h5"
    saver = callbacks.SaveBestWeights(best)
    saver.set_model(model)
    saver.on_epoch_end(0, {"val_loss": 1.0})
    before = best.read_bytes()
    monkeypatch.setattr(
        callbacks, "write_atomically", _disk_full_on_call(1, fileio.write_atomically)
    )
    with pytest.raises(OSError):
        saver.on_epoch_end(1, {"val_loss": 0.5})
    assert best.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["best.weights.h5"]


@pytest.mark.slow
def test_disk_full_during_training_fails_the_run_and_keeps_the_last_checkpoint(
    binary_dataset, tmp_path, monkeypatch
):
    from core.platform import fileio
    from core.train import resume

    store = Store(tmp_path / "home")
    # calls: epoch 1's resume weights, then epoch 2's: the disk fills up during the second
    monkeypatch.setattr(resume, "write_atomically", _disk_full_on_call(2, fileio.write_atomically))
    run = _run(store, binary_dataset, strategy="head", epochs=3, batch_size=8)
    assert run.status == store_mod.FAILED
    assert run.error.startswith("disk full (needs about ")
    assert run.error.endswith(f" MB in {store.home})")
    folder = store.run_dir(run.id)
    assert not [p for p in store.home.rglob(".tmp-*")]  # no partial file left anywhere
    state = json.loads((folder / "resume" / "state.json").read_text())
    assert state["epochs_done"] == 1 and (folder / "resume" / state["weights"]).is_file()
