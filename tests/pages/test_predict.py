"""The Predict page (app_pages/4_predict.py): pick a model, one picture, many pictures."""

from __future__ import annotations

import pytest
from apptesting import (
    chart_titled,
    finished_run,
    no_exceptions,
    page,
    texts,
)

from core import store as store_mod
from core import worker
from core.runconfig import RunConfig
from ui import common


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
    seven = sorted((digits / "digit_7").iterdir())[0].read_bytes()
    at = page("4_predict.py", **{common.TRAIN_RUN: run.id})
    at.run(timeout=180)
    no_exceptions(at)
    at.file_uploader(key="predict_files").upload("seven.png", seven, "image/png")
    at.file_uploader(key="predict_files").upload("broken.png", b"nope", "image/png")
    at.run(timeout=180)
    no_exceptions(at)
    assert "broken\\.png cannot be used" in texts(at.error)
    top = chart_titled(at, "Most likely classes")["data"][0]
    assert len(top["y"]) == 5 and top["y"][0] == "digit_7"
    captions = [c for image in at.image for c in image.captions]
    assert any(c.startswith("where it looked for") for c in captions)
    at.radio(key="predict_batch_how").set_value("A folder on the server").run(timeout=180)
    at.text_input(key="predict_batch_folder").input(str(digits / "digit_3")).run(timeout=180)
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
    assert (table["predicted"] == "digit_3").mean() > 0.5
    assert at.get("download_button")[0].proto.label == "Download the answers (CSV)"
