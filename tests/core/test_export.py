"""Exports: every format of a tiny run, loaded back in a Python that cannot import this project,
predicts what the studio predicts; a disagreeing export is refused and not kept."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from tiny_run import TINY, train

from core import cli
from core.export import export, predict
from core.model.metrics import class_probabilities
from core.runs import runfiles

pytestmark = pytest.mark.slow

# Loads each export with its own runtime only: the README's snippets, in a clean interpreter.
LOADER = textwrap.dedent(
    """
    import json, sys
    try:
        import core
    except ImportError:
        pass
    else:
        sys.exit("the studio's code is importable in the clean interpreter")
    import numpy as np

    batch = np.load(sys.argv[1])
    out = {}
    for fmt, path in json.loads(sys.argv[2]).items():
        if fmt == "keras":
            import keras

            model = keras.saving.load_model(path)
            raw = model.predict(batch.astype("uint8"), verbose=0)  # uint8 RGB 0..255 works too
        elif fmt == "savedmodel":
            import tensorflow as tf

            loaded = tf.saved_model.load(path)
            raw = loaded.serve(tf.constant(batch)).numpy()
        elif fmt.startswith("tflite"):
            import tensorflow as tf

            interpreter = tf.lite.Interpreter(model_path=path)
            interpreter.allocate_tensors()
            rows = []
            for image in batch:
                interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None])
                interpreter.invoke()
                rows.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
            raw = np.concatenate(rows)
        elif fmt == "onnx":
            import onnxruntime as ort

            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            raw = session.run(None, {session.get_inputs()[0].name: batch})[0]
        out[fmt] = np.asarray(raw, dtype="float64").tolist()
    with open("predictions.json", "w") as handle:
        json.dump(out, handle)
    """
)


@pytest.fixture(scope="module")
def run(finished_run):
    return finished_run


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
    """Every format whose packages are installed, exported once."""
    store, finished = run
    available = [fmt for fmt in export.FORMATS if export.missing_runtime(fmt) is None]
    out = tmp_path_factory.mktemp("exports")
    return {e.format: e for e in export.export_many(store, finished.id, available, out)}


@pytest.fixture(scope="module")
def clean_predictions(run, exported, tmp_path_factory):
    """The exports' predictions from `python -I` in an empty folder: no project on sys.path."""
    store, finished = run
    folder = tmp_path_factory.mktemp("clean")
    loaded = predict.load(store, finished.id)
    items = runfiles.run_split(store, finished).validation
    batch = np.stack([predict.prepare(i.path, loaded.image_size) for i in items])
    np.save(folder / "batch.npy", batch)
    (folder / "loader.py").write_text(LOADER)
    paths = {fmt: str(e.path) for fmt, e in exported.items()}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-I", "loader.py", "batch.npy", json.dumps(paths)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads((folder / "predictions.json").read_text())
    return predict.probabilities(loaded, batch), got


@pytest.mark.parametrize("fmt", list(export.FORMATS))
def test_each_format_loads_without_the_studio_and_predicts_the_same(fmt, clean_predictions):
    if reason := export.missing_runtime(fmt):
        pytest.skip(reason)
    expected, got = clean_predictions
    probabilities = class_probabilities(np.array(got[fmt]))
    difference = np.abs(probabilities - expected)
    if fmt == "tflite-int8":
        assert difference.mean() <= export.FORMATS[fmt].tolerance
    else:
        assert difference.max() <= export.FORMATS[fmt].tolerance


def _assert_checked(made, validation_images: int) -> None:
    """The export's recorded check: on the run's validation images, within its format's
    tolerance, and (float formats) the same predicted class for every image."""
    fmt = made.format
    assert made.path.exists() and made.size_bytes > 0
    assert made.check.images == min(export.CHECK_IMAGES, validation_images)
    assert made.check.tolerance == export.FORMATS[fmt].tolerance
    if fmt == "tflite-int8":
        assert made.check.mean_difference <= made.check.tolerance
    else:
        assert made.check.max_difference <= made.check.tolerance
        assert made.check.top1_agreement == 1.0


def test_each_export_records_its_check_and_int8_its_comparison(run, exported):
    store, finished = run
    items = runfiles.run_split(store, finished).validation
    for made in exported.values():
        _assert_checked(made, len(items))
    if "tflite-int8" not in exported:
        pytest.skip(export.missing_runtime("tflite-int8"))
    report = exported["tflite-int8"].quantisation
    assert report is not None and report.validation_images == len(items)
    assert report.int8_bytes < report.float_bytes / 2  # int8 weights: about a quarter of the size
    assert report.float_ms_per_image > 0 and report.int8_ms_per_image > 0
    # float TFLite scores exactly as the studio's model does on the same images...
    loaded = predict.load(store, finished.id)
    batch = np.stack([predict.prepare(i.path, loaded.image_size) for i in items])
    index = {name: k for k, name in enumerate(loaded.classes)}
    labels = np.array([index[i.label] for i in items])
    studio = float(np.mean(predict.probabilities(loaded, batch).argmax(axis=1) == labels))
    assert report.float_accuracy == pytest.approx(studio)
    # ...and int8 loses at most one image in four (its check allows a 0.1 mean difference)
    assert abs(report.int8_accuracy - report.float_accuracy) <= 0.25


def test_an_export_that_disagrees_is_refused_and_not_kept(run, tmp_path, monkeypatch):
    store, finished = run
    honest = export.predictions
    monkeypatch.setattr(export, "predictions", lambda *a: 1.0 - honest(*a))
    target = tmp_path / "model.keras"
    with pytest.raises(export.ExportRefused, match="disagrees"):
        export.export(store, finished.id, "keras", target)
    assert not target.exists() and not list(tmp_path.iterdir())


def test_a_failing_converter_is_a_refusal_that_names_the_step(run, tmp_path, monkeypatch):
    store, finished = run

    def broken(self, fmt, path):
        path.write_bytes(b"half a file")
        raise RuntimeError("unsupported op")

    monkeypatch.setattr(export.Exporter, "_write", broken)
    with pytest.raises(export.ExportRefused, match="keras conversion failed.*unsupported op"):
        export.export(store, finished.id, "keras", tmp_path / "model.keras")
    assert not list(tmp_path.iterdir())


def test_cli_exports_and_prints_one_json_line(run, tmp_path, capsys):
    store, finished = run
    target = tmp_path / "out.keras"
    home = ["--home", str(store.home)]
    code = cli.main(["export", finished.id, "--format", "keras", "--out", str(target), *home])
    assert code == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["path"] == str(target) and target.exists()
    assert line["check"]["max_difference"] <= export.FORMATS["keras"].tolerance


def test_cli_refuses_an_unknown_run_in_one_line(run, capsys):
    store, _ = run
    code = cli.main(["export", "no-such-run", "--format", "onnx", "--home", str(store.home)])
    assert code == cli.EXIT_BAD_INPUT
    assert "no run matches" in capsys.readouterr().err


def _tones(root):
    """Two classes of short clips by pitch band (low 300-500 Hz, high 2-3 kHz), with noise."""
    import soundfile

    rng = np.random.default_rng(0)
    t = np.arange(4000) / 8000
    for name, band in (("low", (300, 500)), ("high", (2000, 3000))):
        folder = root / name
        folder.mkdir(parents=True)
        for k in range(8):
            wave = np.sin(2 * np.pi * rng.uniform(*band) * t) + rng.normal(0, 0.2, t.size)
            soundfile.write(folder / f"{name}_{k}.wav", (0.3 * wave).astype("float32"), 8000)
    return root


AUDIO = {"sample_rate": 8000, "clip_seconds": 0.5, "n_mels": 32, "hop_length": 64, "n_fft": 256}
# the models a run can make besides the head on features: each exports and passes its check
KINDS = {
    "linear": dict(strategy="linear", layer="block4_pool"),
    "fine-tuned": dict(strategy="finetune", epochs=1, finetune_epochs=1),
    "audio": dict(strategy="head", audio=AUDIO),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_linear_fine_tuned_and_audio_models_export_and_pass_their_check(kind, tmp_path):
    from synthetic import write_colour_dataset

    from core.runs.config import RunConfig
    from core.runs.store import Store

    if kind == "audio":
        data = _tones(tmp_path / "tones")
    else:
        data = write_colour_dataset(tmp_path / "data", ("red", "blue"), per_class=10, size=32)
    store = Store(tmp_path / "home")
    finished = train(store, RunConfig(dataset=str(data), **{**TINY, **KINDS[kind]}))
    assert finished.status == "done", finished.error
    # .keras, and the two converters that rewrite the graph (TFLite through a SavedModel, ONNX);
    # int8 (calibration, a second TFLite) is the head run's test above
    available = [f for f in ("keras", "tflite", "onnx") if export.missing_runtime(f) is None]
    made = export.export_many(store, finished.id, available, tmp_path / "out")
    assert [m.format for m in made] == available
    validation = runfiles.run_split(store, finished).validation
    for each in made:
        _assert_checked(each, len(validation))
