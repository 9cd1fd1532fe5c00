"""The pages, driven by Streamlit's AppTest: each page file runs on its own (AppTest.from_file)
against a temporary studio home; finished runs are written into the store directly, so no
page test trains, starts a worker or imports TensorFlow."""

from __future__ import annotations

import io
import json
import shutil
import sys
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core import advisor, samples, strategies, worker
from core import store as store_mod
from core.runconfig import RunConfig
from core.store import Store
from ui import common

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "pages"
TIMEOUT = 60
CLASSES = [f"digit_{k}" for k in range(10)]


@pytest.fixture(autouse=True)
def studio(tmp_path, monkeypatch) -> Path:
    """A fresh studio home; no worker process is ever started."""
    home = tmp_path / "home"
    monkeypatch.setenv("STUDIO_HOME", str(home))
    monkeypatch.delenv("VGG16_WEIGHTS", raising=False)
    monkeypatch.setattr(worker, "start_worker", lambda *args, **kwargs: None)
    return home


@pytest.fixture
def store(studio) -> Store:
    return Store(studio)


@pytest.fixture(scope="session")
def digits_source(tmp_path_factory) -> Path:
    """The built-in sample, written once for the whole session."""
    return samples.prepare("digits", tmp_path_factory.mktemp("samples-home"))


@pytest.fixture
def digits(studio, digits_source) -> Path:
    """The built-in sample inside this test's home (as 'Use the sample dataset' makes it)."""
    target = studio / "samples" / digits_source.name
    shutil.copytree(digits_source, target)
    return target


def page(name: str, **state) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    return at


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def chart_titled(at: AppTest, title: str) -> dict:
    for spec in plotly_specs(at):
        if spec["layout"].get("title", {}).get("text") == title:
            return spec
    raise AssertionError(
        f"no chart titled {title!r}; have "
        f"{[s['layout'].get('title', {}).get('text') for s in plotly_specs(at)]}"
    )


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def result_dict(strategy: str, accuracy: float, loss: float, seconds: float) -> dict:
    """A result as core.training._finish writes it (keys of evaluation() and _finish)."""
    classes = CLASSES[:3]
    return {
        "val_accuracy": accuracy,
        "val_loss": loss,
        "per_class": [
            {"class": c, "precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 10}
            for c in classes
        ],
        "confusion_matrix": [[8, 1, 1], [0, 9, 1], [1, 0, 9]],
        "epochs_run": 3,
        "train_seconds": seconds,
        "strategy": strategy,
        "classes": classes,
        "train_images": 120,
        "validation_images": 30,
        "weights": "ImageNet",
        "pretrained": True,
        "class_weights": None,
        "most_wrong": [],
        "feature_cache": {"hits": 0, "misses": 1},
    }


def finished_run(
    store: Store,
    dataset: Path,
    strategy: str = "head",
    accuracy: float = 0.9,
    loss: float = 0.3,
    seconds: float = 42.0,
    group_id: str | None = None,
    status: str = store_mod.DONE,
    most_wrong: list | None = None,
    error: str | None = None,
):
    config = RunConfig(
        dataset=str(dataset), strategy=strategy, image_size=48, epochs=3, weights="none"
    )
    run = store.create(config, group_id=group_id)
    store.update(run.id, status=store_mod.RUNNING, started=run.created)
    for epoch in (1, 2, 3):
        store.add_metric(
            run.id,
            "epoch",
            "head",
            epoch,
            4,
            {
                "accuracy": 0.5 + 0.1 * epoch,
                "val_accuracy": accuracy - 0.1 * (3 - epoch),
                "loss": 1.0 / epoch,
                "val_loss": loss + 0.1 * (3 - epoch),
            },
        )
    result = result_dict(strategy, accuracy, loss, seconds)
    if most_wrong is not None:
        result["most_wrong"] = most_wrong
    store.finish(
        run.id,
        status,
        error=error,
        result=result,
        progress={"stage": "finished", "message": status},
    )
    return store.get(run.id)


def queued_run(store: Store, dataset: Path, task: str = "train"):
    config = RunConfig(
        dataset=str(dataset), strategy="head", image_size=48, weights="none", task=task
    )
    return store.create(config)


# -- the router -------------------------------------------------------------------------------
def test_router_renders_home_and_the_sidebar(store, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no ImageNet file cached
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT).run()
    no_exceptions(at)
    assert at.button(key="home_use_sample").label == "Use the sample dataset"
    sidebar = texts(at.sidebar.caption)
    assert "Device: CPU" in sidebar or "Device: GPU" in sidebar
    assert "Dataset: none chosen yet" in sidebar
    assert "ImageNet, not downloaded yet" in texts(at.sidebar.warning)


def test_router_sidebar_warns_loudly_without_pretrained_weights(store, digits, monkeypatch):
    monkeypatch.setenv("VGG16_WEIGHTS", "none")
    run = finished_run(store, digits)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.session_state[common.DATASET] = str(digits)
    at.session_state[common.DATASET_LABEL] = "built-in sample: handwritten digits"
    at.session_state[common.TRAIN_RUN] = run.id
    at.run()
    no_exceptions(at)
    assert "No pretrained weights" in texts(at.sidebar.warning)
    sidebar = texts(at.sidebar.caption)
    assert "Dataset: built\\-in sample\\: handwritten digits" in sidebar
    assert "Run: Feature extractor" in sidebar and "finished" in sidebar


def test_home_use_the_sample_dataset(store):
    at = page("0_home.py").run()
    at.button(key="home_use_sample").click().run()
    no_exceptions(at)
    assert Path(at.session_state[common.DATASET]).name == "digits-50"
    assert "sample is ready" in texts(at.success)


NO_TENSORFLOW_SCRIPT = """
import os, sys
from streamlit.testing.v1 import AppTest
from core import samples, worker
worker.start_worker = lambda *a, **k: None
folder = samples.prepare("digits")
for name in ("streamlit_app.py", "pages/0_home.py", "pages/1_data.py", "pages/2_strategy.py",
             "pages/3_train.py", "pages/5_compare.py"):
    at = AppTest.from_file(name, default_timeout=60)
    at.session_state["dataset"] = str(folder)
    at.run()
    assert not at.exception, (name, [e.value for e in at.exception])
print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
"""


def test_pages_other_than_predict_never_import_tensorflow(studio):
    """Rendered in a fresh process, with a dataset: TensorFlow and Keras stay unimported."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", NO_TENSORFLOW_SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_every_page_renders_alone_without_a_dataset(store):
    for name in (
        "0_home.py",
        "1_data.py",
        "2_strategy.py",
        "3_train.py",
        "4_predict.py",
        "5_compare.py",
    ):
        at = page(name).run()
        no_exceptions(at)
        assert not at.error, (name, texts(at.error))
        assert at.title, name


# -- Data -------------------------------------------------------------------------------------
def test_data_use_the_sample_shows_ten_classes_and_the_class_chart(store):
    at = page("1_data.py").run()
    at.button(key="data_use_sample").click().run()
    no_exceptions(at)
    assert not at.error, texts(at.error)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Classes"] == "10" and metrics["Pictures"] == "500"
    counts = chart_titled(at, "Images per class")
    assert counts["data"][0]["x"] == CLASSES
    assert counts["data"][0]["y"] == [50] * 10
    split = chart_titled(at, "Training / validation split per class")
    assert [trace["name"] for trace in split["data"]] == ["train", "validation"]
    assert sum(split["data"][1]["y"]) == 100  # 20 % of 500 validate
    assert chart_titled(at, "Image sizes (width x height, pixels)")["data"][0]["x"] == [32]
    assert at.session_state[common.DATASET].endswith("digits-50")
    assert at.session_state[common.IMAGE_SIZE] == samples.SAMPLES["digits"].image_size
    assert "no duplicates" in texts(at.success)


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def _png(colour=(200, 0, 0)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 40), colour).save(out, format="PNG")
    return out.getvalue()


def test_data_zip_with_parent_path_shows_an_error_and_writes_nothing(store, tmp_path):
    at = page("1_data.py", data_source="Upload a zip").run()
    assert at.radio[0].value == "Upload a zip"
    evil = _zip({"cats/a.png": _png(), "../evil.png": _png()})
    at.file_uploader(key="data_zip").upload("evil.zip", evil, "application/zip").run()
    no_exceptions(at)
    assert "cannot be used" in texts(at.error) and ".." in texts(at.error)
    sessions = store.home / "sessions"
    assert not sessions.exists() or not [p for p in sessions.rglob("*") if p.is_file()]
    assert not (store.home / "evil.png").exists() and not (tmp_path / "evil.png").exists()
    assert common.DATASET not in at.session_state


def test_data_zip_of_class_folders_becomes_the_dataset_in_the_session_folder(store):
    at = page("1_data.py", data_source="Upload a zip").run()
    good = _zip(
        {
            "pets/cats/a.png": _png((200, 0, 0)),
            "pets/cats/b.png": _png((190, 0, 0)),
            "pets/dogs/c.png": _png((0, 0, 200)),
            "pets/dogs/d.png": _png((0, 0, 190)),
            "pets/notes.txt": b"hello",
        }
    )
    at.file_uploader(key="data_zip").upload("my <b>pets</b>.zip", good, "application/zip").run()
    no_exceptions(at)
    folder = Path(at.session_state[common.DATASET])
    session_id = at.session_state[common.SESSION_ID]
    assert folder.parent == store.home / "sessions" / session_id / "uploads"
    assert "<" not in folder.name and sorted(p.name for p in folder.iterdir()) == ["cats", "dogs"]
    assert "Extracted 4 picture" in texts(at.success)
    assert chart_titled(at, "Images per class")["data"][0]["x"] == ["cats", "dogs"]


def test_data_classes_built_in_the_browser(store):
    at = page("1_data.py", data_source="Build classes here").run()
    at.text_input[0].input("../../Cats <script>")
    at.form_submit_button[0].click().run()
    at.text_input[0].input("dogs")
    at.form_submit_button[0].click().run()
    no_exceptions(at)
    project = store.home / "sessions" / at.session_state[common.SESSION_ID] / "classes"
    names = sorted(p.name for p in project.iterdir())
    assert names == ["Cats_script", "dogs"]
    assert all(project in (project / n).resolve().parents for n in names)
    assert at.button(key="data_use_classes").disabled  # no pictures yet
    at.file_uploader(key="data_tm_files_Cats_script").set_value(
        [("a.png", _png((200, 0, 0)), "image/png"), ("b.png", _png((190, 10, 0)), "image/png")]
    )
    at.file_uploader(key="data_tm_files_dogs").set_value(
        [("c.png", _png((0, 0, 200)), "image/png"), ("bad.png", b"not an image", "image/png")]
    )
    at.run()
    no_exceptions(at)
    assert sorted(p.name for p in (project / "Cats_script").iterdir()) == ["a.png", "b.png"]
    assert sorted(p.name for p in (project / "dogs").iterdir()) == ["c.png"]
    assert "bad.png" in texts(at.warning)
    at.run()  # a rerun does not save the same uploads twice
    assert len(list((project / "dogs").iterdir())) == 1
    at.button(key="data_use_classes").click().run()
    no_exceptions(at)
    assert at.session_state[common.DATASET] == str(project.resolve())
    assert chart_titled(at, "Images per class")["data"][0]["y"] == [2, 1]


def test_data_webcam_snapshot_goes_into_the_class(store):
    at = page("1_data.py", data_source="Build classes here").run()
    at.text_input[0].input("me")
    at.form_submit_button[0].click().run()
    at.toggle(key="data_tm_cam_on_me").set_value(True).run()
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 80, 40)).save(photo, format="JPEG")
    at.camera_input(key="data_tm_cam_me").upload("image.jpg", photo.getvalue()).run()
    no_exceptions(at)
    at.run()  # the same snapshot is saved once
    class_dir = store.home / "sessions" / at.session_state[common.SESSION_ID] / "classes" / "me"
    assert [p.name for p in class_dir.iterdir()] == ["snapshot.jpg"]
    assert "me: 1 picture" in [e.label for e in at.expander][0]


def test_data_server_folder_that_does_not_exist(store, tmp_path):
    at = page("1_data.py", data_source="Folder on the server").run()
    at.text_input(key="data_folder_path").input(str(tmp_path / "nowhere")).run()
    at.button(key="data_use_folder").click().run()
    no_exceptions(at)
    assert "There is no folder" in texts(at.error)


def run_until(at: AppTest, done, seconds: float = 300.0) -> AppTest:
    """Rerun (as the page's polling fragment would) until done(at) or the time is up."""
    deadline = time.monotonic() + seconds
    while not done(at) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    return at


def test_data_online_sample_offline_says_so_without_blocking_the_page(store, monkeypatch):
    from core import fetch

    def offline_child(name, home):  # what `python -m core sample` does offline: one line
        return fetch._start(
            "sample",
            [
                "-c",
                "import sys, time; time.sleep(1); print('error: "
                "no internet to download cifar10', file=sys.stderr); "
                "sys.exit(2)",
            ],
            home,
            60,
        )

    monkeypatch.setattr(fetch, "start_sample", offline_child)
    at = page("1_data.py", data_source="Online sample").run()
    at.selectbox(key="data_online_sample").set_value("cifar10").run()
    at.button(key="data_download_sample").click().run()
    no_exceptions(at)
    assert "Getting CIFAR-10" in texts(at.info)  # the page returned while the child works
    assert at.button(key="data_download_sample").disabled  # no second download meanwhile
    run_until(at, lambda a: a.error, seconds=60)
    assert "not available here" in texts(at.error) and "no internet" in texts(at.error)


def test_data_sound_folder_becomes_spectrograms_with_waveforms_and_players(store, tmp_path):
    """Audio is converted in a child process (TensorFlow stays out of the app process)."""
    import numpy as np
    import soundfile

    root = tmp_path / "sounds"
    for name, freq in (("low", 220.0), ("high", 1760.0)):
        (root / name).mkdir(parents=True)
        for k in range(3):
            t = np.arange(8000) / 16000.0
            soundfile.write(
                root / name / f"{k}.wav", 0.5 * np.sin(2 * np.pi * freq * (1 + 0.05 * k) * t), 16000
            )
    at = page("1_data.py", data_source="Folder on the server").run()
    at.text_input(key="data_folder_path").input(str(root)).run()
    at.button(key="data_use_folder").click().run()
    no_exceptions(at)
    assert "spectrogram pictures" in texts(at.info)  # converting in a child, page not blocked
    run_until(
        at,
        lambda a: common.AUDIO_SOURCE in a.session_state and a.session_state[common.AUDIO_SOURCE],
    )
    no_exceptions(at)
    assert not at.error, texts(at.error)
    assert at.session_state[common.AUDIO_SOURCE] == str(root.resolve())
    images = Path(at.session_state[common.DATASET])
    assert images.is_relative_to(store.home / "cache") and (images / "low" / "0.png").is_file()
    titles = [s["layout"]["title"]["text"] for s in plotly_specs(at)]
    assert {"low: waveform", "low: spectrogram", "high: waveform", "high: spectrogram"} <= set(
        titles
    )
    assert len(at.get("audio")) == 2
    assert chart_titled(at, "Images per class")["data"][0]["y"] == [3, 3]


# -- Strategy ---------------------------------------------------------------------------------
def _probe(store: Store, dataset: Path, probe: dict[str, float]):
    run = queued_run(store, dataset, task="probe")
    advice = advisor.advise(50.0, probe)
    store.finish(
        run.id,
        store_mod.DONE,
        result={
            "probe": probe,
            "advice": advice.to_dict(),
            "weights": "ImageNet",
            "images_per_class": 50.0,
        },
    )
    return store.get(run.id), advice


def test_strategy_with_a_measurement_shows_the_numbers_and_the_advice(store, digits):
    probe = {"block3_pool": 0.91, "block4_pool": 0.84, "block5_pool": 0.62}
    _, advice = _probe(store, digits, probe)
    at = page(
        "2_strategy.py",
        **{common.DATASET: str(digits), common.IMAGE_SIZE: 48, common.WEIGHTS: "none"},
    ).run()
    no_exceptions(at)
    assert not at.error, texts(at.error)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"block3_pool": "91.0%", "block4_pool": "84.0%", "block5_pool": "62.0%"}
    assert advice.strategy == "linear" and advice.layer == "block3_pool"
    assert "Recommended: **Linear probe** on block3_pool" in texts(at.success)
    assert advice.why in texts(at.markdown)
    bars = chart_titled(at, "Validation accuracy of a linear classifier at each depth")
    assert bars["data"][0]["y"] == [0.91, 0.84, 0.62]
    matrix = chart_titled(at, "Dataset size x similarity to ImageNet")
    marker = matrix["data"][0]
    assert marker["y"] == [0.5] and marker["marker"]["symbol"] == "star"  # small, different
    # the advice became the choice, which the override box shows and the Train page reads
    assert at.selectbox(key="_w_strategy").value == "linear"
    assert at.session_state[common.STRATEGY] == "linear"
    assert at.session_state[common.LAYER] == "block3_pool"
    layers = chart_titled(at, "Which VGG16 layers train: Linear probe")
    assert "not used" in [trace["name"] for trace in layers["data"]]


def test_strategy_override_and_measure_button(store, digits):
    at = page(
        "2_strategy.py",
        **{common.DATASET: str(digits), common.IMAGE_SIZE: 48, common.WEIGHTS: "none"},
    ).run()
    no_exceptions(at)
    assert "similarity not measured yet" in json.dumps(
        chart_titled(at, "Dataset size x similarity to ImageNet")
    )
    at.selectbox(key="_w_strategy").set_value("finetune").run()
    assert at.session_state[common.STRATEGY] == "finetune"
    layers = chart_titled(at, "Which VGG16 layers train: Fine-tune the top blocks")
    assert {t["name"] for t in layers["data"]} >= {"trains", "frozen (pretrained, kept as is)"}
    at.button(key="strategy_measure").click().run()
    no_exceptions(at)
    probes = [r for r in store.list() if r.config["task"] == "probe"]
    assert len(probes) == 1 and probes[0].config["image_size"] == 48
    assert probes[0].config["weights"] == "none"
    assert at.button(key="strategy_measure").disabled  # one measurement at a time
    assert "Measuring" in texts(at.info)


# -- Train ------------------------------------------------------------------------------------
def test_train_with_an_active_run_disables_start_and_the_callback_refuses(store, digits):
    at = page(
        "3_train.py", **{common.DATASET: str(digits), common.IMAGE_SIZE: 48, common.WEIGHTS: "none"}
    ).run()
    no_exceptions(at)
    start = at.button(key="train_start")
    assert not start.disabled
    # another tab (or a click a moment ago) queued a run after this page was drawn
    other = queued_run(store, digits)
    start.click().run()
    no_exceptions(at)
    assert [r.id for r in store.list()] == [other.id]  # no second run
    assert "already under way" in texts(at.warning)
    assert at.button(key="train_start").disabled  # and now the page knows
    assert at.get("progress")[0].proto.text.startswith("Waiting for the runs queued")
    at.run()
    assert at.button(key="train_start").disabled
    assert len(store.list()) == 1


def test_train_start_queues_one_run_with_the_settings(store, digits):
    at = page(
        "3_train.py",
        **{
            common.DATASET: str(digits),
            common.IMAGE_SIZE: 48,
            common.WEIGHTS: "none",
            common.STRATEGY: "finetune",
        },
    ).run()
    no_exceptions(at)
    at.button(key="train_start").click().run()
    no_exceptions(at)
    runs = store.list()
    assert len(runs) == 1
    config = runs[0].config
    assert (config["strategy"], config["image_size"], config["weights"]) == ("finetune", 48, "none")
    assert config["dataset"] == str(digits)
    assert at.session_state[common.TRAIN_RUN] == runs[0].id
    assert at.button(key="train_start").disabled
    assert at.button(key=f"train_stop_{runs[0].id}")
    at.button(key=f"train_stop_{runs[0].id}").click().run()
    assert store.get(runs[0].id).status == store_mod.STOPPED  # a queued run stops at once


def test_train_finished_run_shows_confusion_matrix_table_and_gallery(store, digits):
    wrong = [
        {
            "file": str(next((digits / "digit_3").iterdir())),
            "true": "digit_3",
            "predicted": "digit_8",
            "confidence": 0.93,
            "true_probability": 0.02,
        }
    ]
    run = finished_run(store, digits, most_wrong=wrong)
    at = page("3_train.py", **{common.DATASET: str(digits), common.TRAIN_RUN: run.id}).run()
    no_exceptions(at)
    assert not at.error, texts(at.error)
    assert "Training finished." in texts(at.success)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Validation accuracy"] == "90.0%"
    confusion = chart_titled(at, "Confusion matrix (validation images)")
    assert confusion["data"][0]["z"] == [[8, 1, 1], [0, 9, 1], [1, 0, 9]]
    table = at.dataframe[0].value
    assert list(table["class"]) == CLASSES[:3] and list(table["recall"]) == [0.8] * 3
    curves = chart_titled(at, "Training curves")
    val = [t for t in curves["data"] if t["name"] == "validation"][0]
    assert val["x"] == [1, 2, 3]
    captions = [caption for image in at.image for caption in image.captions]
    assert "digit\\_3 taken for digit\\_8 (93%)" in captions


def test_train_reference_lines_for_a_published_setting(store, tmp_path):
    folder = tmp_path / "cats_vs_dogs_small"
    for name in ("cats", "dogs"):
        (folder / name).mkdir(parents=True)
        for k in range(2):
            Image.new("RGB", (40, 40), (k * 50, 0, 0)).save(folder / name / f"{k}.png")
    (folder / samples.MARKER).write_text(json.dumps({"id": "cats_vs_dogs_small"}))
    config = RunConfig(dataset=str(folder), strategy="head", image_size=150, weights="imagenet")
    run = store.create(config)
    store.add_metric(
        run.id,
        "epoch",
        "head",
        1,
        1,
        {"accuracy": 0.7, "val_accuracy": 0.8, "loss": 0.5, "val_loss": 0.4},
    )
    store.finish(run.id, store_mod.DONE, result=result_dict("head", 0.8, 0.4, 10.0))
    at = page("3_train.py", **{common.TRAIN_RUN: run.id}).run()
    no_exceptions(at)
    annotations = [a["text"] for a in chart_titled(at, "Training curves")["layout"]["annotations"]]
    assert any("Keras blog" in text and "0.90" in text for text in annotations)


@pytest.mark.parametrize(
    "status,expected",
    [
        (store_mod.FAILED, "This run failed: dataset folder not found"),
        (store_mod.DIVERGED, "Training diverged: the loss became NaN"),
    ],
)
def test_train_failed_and_diverged_runs_show_their_error(store, digits, status, expected):
    message = expected.split(": ", 1)[1]
    run = finished_run(store, digits, status=status, error=message)
    at = page("3_train.py", **{common.TRAIN_RUN: run.id}).run()
    no_exceptions(at)
    assert expected in texts(at.error)


def test_train_interrupted_run_offers_resume(store, digits):
    run = finished_run(
        store,
        digits,
        status=store_mod.INTERRUPTED,
        error="the worker process stopped during this run; it can be resumed",
    )
    at = page("3_train.py", **{common.TRAIN_RUN: run.id}).run()
    no_exceptions(at)
    at.button(key=f"train_resume_{run.id}").click().run()
    no_exceptions(at)
    again = store.get(run.id)
    assert (again.status, again.resume) == (store_mod.QUEUED, True)


def test_train_running_run_survives_a_new_session(store, digits, monkeypatch):
    """A reload or a closed tab is a new session: the page finds the running run in the
    store and shows its progress, ETA and curve so far."""
    monkeypatch.setattr(worker, "worker_running", lambda home: True)
    monkeypatch.setattr(worker, "pid_alive", lambda pid: True)
    run = queued_run(store, digits)
    store.claim_next(worker_pid=12345)
    store.add_metric(
        run.id,
        "epoch",
        "head",
        1,
        10,
        {"accuracy": 0.4, "val_accuracy": 0.5, "loss": 1.2, "val_loss": 1.0},
    )
    store.update(
        run.id,
        progress={
            "stage": "training",
            "phase": "head",
            "epoch": 2,
            "epochs": 5,
            "step": 3,
            "steps": 10,
            "eta_seconds": 12.0,
        },
    )
    at = page("3_train.py").run()  # a new session: nothing in session state
    no_exceptions(at)
    bar = at.get("progress")[0].proto
    assert bar.value == 30
    assert bar.text == ("Epoch 2 of 5 (phase: head), batch 3 of 10, about 12 s left in this epoch.")
    assert at.button(key=f"train_stop_{run.id}")
    curves = chart_titled(at, "Training curves")
    assert [t["x"] for t in curves["data"] if t["name"] == "validation"][0] == [1]
    at.button(key=f"train_stop_{run.id}").click().run()
    assert store.get(run.id).status == store_mod.STOPPING
    assert "Stopping at the end of the current batch" in texts(at.caption)


# -- Compare ----------------------------------------------------------------------------------
def test_compare_two_runs_table_marks_the_best(store, digits):
    first = finished_run(store, digits, "head", accuracy=0.82, loss=0.5, group_id="g1")
    second = finished_run(store, digits, "linear", accuracy=0.91, loss=0.3, group_id="g1")
    at = page("5_compare.py", **{common.DATASET: str(digits)}).run()
    no_exceptions(at)
    assert not at.error, texts(at.error)
    assert sorted(at.multiselect[0].value) == sorted([first.id, second.id])
    table = at.dataframe[0].value
    best = table[table["best"] != ""]
    assert list(best["run"]) == [second.id] and list(best["strategy"]) == ["Linear probe"]
    assert "Best so far: Linear probe with 91.0%" in texts(at.success)
    curves = chart_titled(at, "Validation accuracy per epoch")
    assert len(curves["data"]) == 2
    download = at.get("download_button")[0]
    assert download.proto.label == "Download the table (CSV)"


def test_compare_run_every_strategy_queues_one_run_each_on_one_split(store, digits):
    at = page(
        "5_compare.py",
        **{common.DATASET: str(digits), common.IMAGE_SIZE: 48, common.WEIGHTS: "none"},
    ).run()
    at.button(key="compare_run_all").click().run()
    no_exceptions(at)
    runs = store.list()
    assert sorted(r.strategy for r in runs) == sorted(strategies.STRATEGIES)
    assert len({r.group_id for r in runs}) == 1 and runs[0].group_id
    manifests = {json.dumps(r.config["manifest"], sort_keys=True) for r in runs}
    assert len(manifests) == 1 and len(json.loads(manifests.pop())["files"]) == 500
    assert {(r.config["seed"], r.config["image_size"], r.config["weights"]) for r in runs} == {
        (0, 48, "none")
    }
    assert at.button(key="compare_run_all").disabled
    at.run()
    assert len(store.list()) == len(strategies.STRATEGIES)  # no second group


# -- Predict ----------------------------------------------------------------------------------
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


def test_two_browser_sessions_do_not_see_each_others_uploads_or_classes(store):
    """Two sessions at once (two AppTests = two browser tabs of different people)."""
    first = page("1_data.py", data_source="Upload a zip").run()
    upload = _zip({"a/x.png": _png((200, 0, 0)), "b/y.png": _png((0, 0, 200))})
    first.file_uploader(key="data_zip").upload("mine.zip", upload, "application/zip").run()
    second = page("1_data.py", data_source="Build classes here").run()
    second.text_input[0].input("theirs")
    second.form_submit_button[0].click().run()
    no_exceptions(first)
    no_exceptions(second)
    ids = first.session_state[common.SESSION_ID], second.session_state[common.SESSION_ID]
    assert ids[0] != ids[1]
    mine = Path(first.session_state[common.DATASET])
    assert mine.is_relative_to(store.home / "sessions" / ids[0])
    assert common.DATASET not in second.session_state  # no dataset leaked across sessions
    assert not (store.home / "sessions" / ids[0] / "classes" / "theirs").exists()
    assert (store.home / "sessions" / ids[1] / "classes" / "theirs").is_dir()
    assert "theirs" not in " ".join(e.label for e in first.expander)
