"""The Predict page (app_pages/4_predict.py): pick a model, one picture, many pictures."""

from __future__ import annotations

import pytest
from apptesting import (
    HOSTILE_NAMES,
    assert_shown_escaped,
    chart_titled,
    finished_run,
    no_exceptions,
    page,
    texts,
)

from core.jobs import worker
from core.runs import store as store_mod
from core.runs.config import RunConfig
from ui import model_loader, session_keys


def test_predict_without_a_trained_model_guides_to_train(store):
    at = page("4_predict.py").run()
    no_exceptions(at)
    assert "no trained model yet" in texts(at.info)
    assert "Go to the Train page" in texts(at.caption)  # a page link inside the app


def test_predict_run_whose_model_file_is_gone(store, digits):
    run = finished_run(store, digits)
    store.update(
        run.id, model_path=str(store.run_dir(run.id) / "model.keras"), model_sha256="0" * 64
    )
    at = page("4_predict.py").run()
    no_exceptions(at)
    assert "model file of this run is missing" in texts(at.error)


def best_learned_class(run) -> str:
    """The class this run's own evaluation (its test images) recalled best. A 2-epoch, 32 px,
    random-weights run learns some digits and not others, and which ones depends on every
    seeded draw; the page must agree with the run's evaluation, which is what these
    assertions hold it to."""
    result = run.training_result
    best = max(result.per_class, key=lambda row: row.recall)
    assert best.recall >= 0.8, f"the tiny run learned no class well: {result.per_class}"
    return best.name


@pytest.mark.slow
def test_predict_with_a_really_trained_model(store, digits):
    """The one page test that trains (a few seconds: 32 px, random weights, in this process)
    and imports TensorFlow: upload -> top-k chart and Grad-CAM; a folder -> CSV."""
    run = worker.submit(
        store,
        RunConfig(dataset=str(digits), strategy="head", image_size=32, epochs=2, weights="none"),
        start=False,
    )
    assert worker.serve(store.home, once=True) == 1
    assert store.get(run.id).status == store_mod.DONE
    learned = best_learned_class(store.get(run.id))
    picture = sorted((digits / learned).iterdir())[0].read_bytes()
    at = page("4_predict.py", **{session_keys.TRAIN_RUN: run.id})
    at.run(timeout=180)
    no_exceptions(at)
    at.file_uploader(key="predict_files").upload("picture.png", picture, "image/png")
    at.file_uploader(key="predict_files").upload("broken.png", b"nope", "image/png")
    at.run(timeout=180)
    no_exceptions(at)
    assert "broken\\.png cannot be used" in texts(at.error)
    top = chart_titled(at, "Most likely classes")["data"][0]
    assert len(top["y"]) == 5 and top["y"][0] == learned
    captions = [c for image in at.image for c in image.captions]
    assert any(c.startswith("where it looked for") for c in captions)
    at.radio(key="predict_batch_how").set_value("A folder on the server").run(timeout=180)
    at.text_input(key="predict_batch_folder").input(str(digits / learned)).run(timeout=180)
    at.button(key="predict_batch_go").click().run(timeout=180)
    no_exceptions(at)
    table = at.dataframe[0].value
    assert len(table) == 50 and set(table.columns) == {
        "file",
        "predicted",
        "probability",
        "top_k",
        "error",
    }
    assert (table["predicted"] == learned).mean() > 0.5
    assert at.get("download_button")[0].proto.label == "Download the answers (CSV)"


# -- Download this model (children stand in for `python -m core export`: no TensorFlow here) --
def run_with_model(store, digits):
    """A finished run whose model file is not there: the Download tab needs no model loaded
    (and the page test never imports TensorFlow)."""
    run = finished_run(store, digits)
    model = store.run_dir(run.id) / "model.keras"
    store.update(run.id, model_path=str(model), model_sha256="0" * 64)
    return store.get(run.id)


def run_until(at, done, seconds: float = 60.0):
    """Rerun (as the section's polling fragment would) until done(at) or the time is up."""
    import time

    deadline = time.monotonic() + seconds
    while not done(at) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    return at


def fake_export(monkeypatch, script: str) -> list[tuple]:
    """fetch.start_export replaced by a child running `script` (after 3 s: the page must have
    returned while the child still works); returns the calls it got."""
    from core.jobs import fetch

    calls = []

    def start(home, run_id, what):
        calls.append((run_id, what))
        return fetch._start(
            fetch.EXPORT_KIND, ["-c", "import time; time.sleep(3)\n" + script], home, 60
        )

    monkeypatch.setattr(fetch, "start_export", start)
    return calls


def test_predict_download_prepares_in_a_child_then_offers_the_file(store, digits, monkeypatch):
    run = run_with_model(store, digits)
    made = store.run_dir(run.id) / "export" / "model_int8.tflite"
    made.parent.mkdir(parents=True)
    made.write_bytes(b"int8 model")
    calls = fake_export(
        monkeypatch,
        "import json, sys\n"
        "print('tflite-int8: checked on 8 validation images', file=sys.stderr)\n"
        "print('int8 0.1 MB vs float 0.4 MB; 1.0 vs 2.0 ms per image; accuracy 90.0% vs "
        "91.0% on 30 validation images', file=sys.stderr)\n"
        f"print(json.dumps({{'path': {str(made)!r}}}))\n",
    )
    at = page("4_predict.py").run()
    at.selectbox(key="take_away_predict_format").set_value("tflite-int8").run()
    at.button(key="take_away_predict_prepare").click().run()
    no_exceptions(at)
    assert calls == [(run.id, "tflite-int8")]
    assert "Preparing TFLite, int8" in texts(at.info)  # the page returned, the child works
    assert at.button(key="take_away_predict_prepare").disabled  # no second job meanwhile
    run_until(at, lambda a: a.get("download_button"))
    no_exceptions(at)
    assert calls == [(run.id, "tflite-int8")]  # polling never starts another
    button = at.get("download_button")[0].proto
    assert button.label.replace("\\", "") == f"Download {run.id}-model_int8.tflite"
    assert "accuracy 90.0% vs 91.0%" in texts(at.caption).replace("\\", "")
    assert "tensorboard --logdir" in texts(at.code)


def test_predict_download_that_fails_says_why_with_the_detail_folded(store, digits, monkeypatch):
    run_with_model(store, digits)
    fake_export(
        monkeypatch,
        "import sys\n"
        "print('converter log: op XYZ unsupported', file=sys.stderr)\n"
        "print('error: the onnx export disagrees with the studio model: not kept', "
        "file=sys.stderr)\n"
        "sys.exit(2)\n",
    )
    at = page("4_predict.py").run()
    at.selectbox(key="take_away_predict_format").set_value("keras").run()
    at.button(key="take_away_predict_prepare").click().run()
    run_until(at, lambda a: "could not be prepared" in texts(a.error))
    no_exceptions(at)
    error = texts(at.error).replace("\\", "")
    assert "disagrees with the studio model" in error and "try another format" in error
    assert not at.get("download_button")
    assert "op XYZ unsupported" in texts(at.code)  # under "Technical detail"


def test_predict_download_format_without_its_runtime_is_disabled(store, digits, monkeypatch):
    from core.jobs import fetch

    run_with_model(store, digits)
    monkeypatch.setattr(
        fetch,
        "missing_runtime",
        lambda what: "onnx export needs tf2onnx: pip install tf2onnx" if what == "onnx" else None,
    )
    at = page("4_predict.py").run()
    assert not at.button(key="take_away_predict_prepare").disabled
    at.selectbox(key="take_away_predict_format").set_value("onnx").run()
    no_exceptions(at)
    assert at.button(key="take_away_predict_prepare").disabled
    assert "pip install tf2onnx" in texts(at.caption)


def test_batch_zip_and_class_names_that_look_like_markup_are_shown_escaped(
    store, digits, tmp_path, monkeypatch
):
    """A model (faked: no TensorFlow here) whose classes and an uploaded zip's member names
    look like Markdown: shown escaped, never as links or bold text."""
    import io
    import types
    import zipfile

    run = finished_run(store, digits)
    model = tmp_path / "model.keras"
    model.write_bytes(b"x")
    store.update(run.id, model_path=str(model))
    loaded = types.SimpleNamespace(classes=list(HOSTILE_NAMES), image_size=32)
    fake = types.SimpleNamespace(load=lambda store, run_id: loaded, audio_settings=lambda *a: None)
    monkeypatch.setattr(model_loader, "predict", lambda: fake)
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr(f"{HOSTILE_NAMES[1]}/a.png", b"not read")
    at = page("4_predict.py", **{session_keys.TRAIN_RUN: run.id}).run()
    no_exceptions(at)
    at.file_uploader(key="predict_batch_zip").upload("evil.zip", evil.getvalue(), "application/zip")
    at.run()
    no_exceptions(at)
    assert "cannot be used" in texts(at.error)
    assert_shown_escaped(at, *HOSTILE_NAMES)
