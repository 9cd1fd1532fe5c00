"""The router (streamlit_app.py) with its sidebar, and what holds for every page."""

from __future__ import annotations

import sys
from pathlib import Path

from apptesting import (
    ROOT,
    TIMEOUT,
    finished_run,
    no_exceptions,
    page,
    texts,
)
from streamlit.testing.v1 import AppTest

from ui import messages, pages, session_keys


def test_router_renders_home_and_the_sidebar(store, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no ImageNet file cached
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT).run()
    no_exceptions(at)
    assert at.button(key="home_use_sample").label == "Use the sample dataset"
    sidebar = texts(at.sidebar.caption)
    assert "Device: not measured yet" in sidebar  # no worker has recorded TensorFlow's view
    assert "Dataset: none chosen yet" in sidebar
    # no weights file on this machine: the default is what works offline, and it says so
    assert "No pretrained weights" in texts(at.sidebar.warning)
    # a worker started: the sidebar shows what its TensorFlow found
    from core.model import device_facts
    from ui import sidebar as sidebar_module

    view = device_facts.TensorflowView(device="CPU", installed=device_facts.install_signature())
    device_facts.record_view(store.home, view)
    sidebar_module._measured_device.clear()
    at.run()
    assert "Device: CPU" in texts(at.sidebar.caption)


def test_router_sidebar_warns_loudly_without_pretrained_weights(store, digits, monkeypatch):
    monkeypatch.setenv("VGG16_WEIGHTS", "none")
    run = finished_run(store, digits)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.session_state[session_keys.DATASET] = str(digits)
    at.session_state[session_keys.DATASET_LABEL] = "built-in sample: handwritten digits"
    at.session_state[session_keys.TRAIN_RUN] = run.id
    at.run()
    no_exceptions(at)
    assert "No pretrained weights" in texts(at.sidebar.warning)
    sidebar = texts(at.sidebar.caption)
    assert "Dataset: built\\-in sample\\: handwritten digits" in sidebar
    assert "Run: Feature extractor" in sidebar and "finished" in sidebar


def test_router_sidebar_shows_the_active_run_and_how_far_it_is(store, digits):
    from apptesting import queued_run

    queued_run(store, digits)
    queued_run(store, digits)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT).run()
    no_exceptions(at)
    sidebar = texts(at.sidebar.caption)
    assert (
        "Run: Feature extractor \\+ small head · no pretrained weights · 48 px · digits\\-50 "
        "(see the Train page)"
    ) in sidebar
    assert "1 more run(s) waiting" in sidebar
    assert [p.proto.text for p in at.sidebar.get("progress")] == [
        "Waiting for 1 run\\(s\\) queued before this one to finish\\."
    ]


def test_router_sidebar_shows_the_whole_runs_eta(store, digits, monkeypatch):
    from apptesting import queued_run

    from core.jobs import worker

    monkeypatch.setattr(worker, "worker_running", lambda home: True)
    monkeypatch.setattr(worker, "pid_alive", lambda pid: True)
    run = queued_run(store, digits)
    store.claim_next(worker_pid=12345)
    store.update(
        run.id,
        progress={
            "stage": "training",
            "phase": "finetune",
            "epoch": 12,
            "epochs": 15,
            "step": 1,
            "steps": 4,
            "run_eta_seconds": 95.0,
            "run_eta_measured": True,
        },
    )
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT).run()
    no_exceptions(at)
    [bar] = at.sidebar.get("progress")
    assert bar.proto.text.endswith("all phases\\: at most about 1 min 35 s left\\.")


def test_a_new_session_comes_back_to_the_dataset_settings_and_run_of_the_last_one(store, digits):
    run = finished_run(store, digits)
    first = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    first.session_state[session_keys.DATASET] = str(digits)
    first.session_state[session_keys.DATASET_LABEL] = "built-in sample"
    first.session_state[session_keys.IMAGE_SIZE] = 32
    first.session_state[session_keys.WEIGHTS] = "none"
    first.session_state[session_keys.TRAIN_RUN] = run.id
    first.run()
    no_exceptions(first)
    # a reload is a new session: nothing in its session state
    again = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT).run()
    no_exceptions(again)
    assert "Dataset: built\\-in sample" in texts(again.sidebar.caption)
    assert "No pretrained weights" in texts(again.sidebar.warning)
    assert again.session_state[session_keys.IMAGE_SIZE] == 32
    assert again.session_state[session_keys.TRAIN_RUN] == run.id


def test_a_damaged_workspace_file_starts_an_empty_app(store):
    (store.home / "workspace.json").write_text("{half a file")
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT).run()
    no_exceptions(at)
    assert "Dataset: none chosen yet" in texts(at.sidebar.caption)


NO_TENSORFLOW_SCRIPT = """
import os, sys
from streamlit.testing.v1 import AppTest
from core.data import samples
from core.jobs import worker
worker.start_worker = lambda *a, **k: None
folder = samples.prepare("digits")
from ui.pages import PAGES
for name in ["streamlit_app.py", *(s.file for k, s in PAGES.items() if k != "predict")]:
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
    names = sorted(p.name for p in (ROOT / "app_pages").glob("*.py"))
    assert names == sorted(Path(spec.file).name for spec in pages.PAGES.values())  # routed
    for name in names:
        at = page(name).run()
        no_exceptions(at)
        assert not at.error, (name, texts(at.error))
        assert at.title, name


def test_image_size_typed_on_train_is_the_one_strategy_shows(store, tmp_path, monkeypatch):
    """One setting across pages: navigating must not bring back an older widget value (seen in
    the browser: 32 typed on Train came back as the sample's 48 on Strategy)."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT).run()
    at.button(key="home_use_sample").click().run()
    at.switch_page("app_pages/3_train.py").run()
    at.number_input(key="_w_image_size@train").set_value(32).run()
    at.switch_page("app_pages/2_strategy.py").run()
    no_exceptions(at)
    assert at.number_input(key="_w_image_size@strategy").value == 32
    at.switch_page("app_pages/3_train.py").run()
    assert at.number_input(key="_w_image_size@train").value == 32


def _router() -> AppTest:
    return AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)


def test_a_reload_keeps_the_strategy_chosen_over_the_advice_and_its_settings(store, digits):
    """Issue 20 item 1: measured advice "linear", fine-tune chosen with 3 + 10 epochs and a
    phase's learning rate; a reload (a new session) shows all of it, and the workspace file
    says fine-tune."""
    import json

    from apptesting import queued_run

    from core.runs import advisor
    from core.runs import store as store_mod

    probe = {"block3_pool": 0.91, "block4_pool": 0.84, "block5_pool": 0.62}
    measured = queued_run(store, digits, task="probe")
    store.finish(
        measured.id,
        store_mod.DONE,
        result={"probe": probe, "advice": advisor.advise(50.0, probe).to_dict()},
    )
    first = _router()
    first.session_state[session_keys.DATASET] = str(digits)
    first.session_state[session_keys.IMAGE_SIZE] = 48
    first.session_state[session_keys.WEIGHTS] = "none"
    first.run()
    first.switch_page("app_pages/3_train.py").run()
    assert first.selectbox(key="_w_strategy").value == "linear"  # the advice, applied once
    first.selectbox(key="_w_strategy").set_value("finetune").run()
    first.number_input(key="_w_epochs").set_value(3).run()
    first.number_input(key="_w_finetune_epochs").set_value(10).run()
    first.select_slider(key="_w_lr_finetune_finetune").set_value(3e-5).run()
    no_exceptions(first)
    saved = json.loads((store.home / "workspace.json").read_text())
    assert saved["settings"]["strategy"] == "finetune"

    again = _router().run()
    again.switch_page("app_pages/3_train.py").run()
    no_exceptions(again)
    assert again.selectbox(key="_w_strategy").value == "finetune"
    assert again.number_input(key="_w_epochs").value == 3
    assert again.number_input(key="_w_finetune_epochs").value == 10
    assert again.select_slider(key="_w_lr_finetune_finetune").value == 3e-5
    saved = json.loads((store.home / "workspace.json").read_text())
    assert saved["settings"]["strategy"] == "finetune"


def test_the_sidebar_names_the_dataset_a_page_just_chose(store, digits, tmp_path, monkeypatch):
    """Issue 20 item 3: a dataset chosen in the page's own run (a folder typed, a zip
    extracted) is the sidebar's dataset on that same rerun, not "none chosen yet"."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    at = _router().run()
    at.switch_page("app_pages/1_data.py").run()
    at.radio(key="_w_data_source").set_value(at.radio(key="_w_data_source").options[2]).run()
    at.text_input(key="data_folder_path").set_value(str(digits)).run()
    at.button(key="data_use_folder").click().run()
    no_exceptions(at)
    assert f"Dataset: folder {messages.md(digits.name)}" in texts(at.sidebar.caption)


def test_the_sidebar_names_the_run_the_page_shows(store, digits):
    """Issue 20 item 3: the sidebar's "Run:" is the run the page shows (Runs page: the one
    picked), not an older one the Train page showed."""
    older = finished_run(store, digits, strategy="head")
    newer = finished_run(store, digits, strategy="linear")
    at = _router()
    at.session_state[session_keys.TRAIN_RUN] = older.id
    at.run()
    at.switch_page("app_pages/6_runs.py").run()
    at.selectbox(key="_w_runs_picked").set_value(newer.id).run()
    no_exceptions(at)
    sidebar = texts(at.sidebar.caption)
    assert messages.md(newer.id) in sidebar and messages.md(older.id) not in sidebar


def test_the_weights_file_can_be_uploaded_from_the_sidebar_before_any_dataset(store, tmp_path):
    """Issue 20 item 10: the sidebar said "upload the weights file on the Train page", which
    has no uploader until a dataset is chosen; the sidebar takes the file itself."""
    from synthetic import write_vgg16_shaped_h5

    at = _router().run()
    no_exceptions(at)
    assert "Upload the weights file below" in texts(at.sidebar.warning)
    data = write_vgg16_shaped_h5(tmp_path / "mine.h5").read_bytes()
    at.sidebar.get("file_uploader")[0].upload("mine.h5", data, "application/x-hdf5")
    at.run()
    no_exceptions(at)
    assert at.session_state[session_keys.WEIGHTS].endswith("mine.h5")
    assert "Weights: local file mine.h5" in texts(at.sidebar.info)


def test_a_reload_keeps_the_choice_to_go_on_without_pretrained_weights(store, digits):
    """Start waits for that choice; a reload must not ask it again."""
    first = _router()
    first.session_state[session_keys.DATASET] = str(digits)
    first.run()
    first.switch_page("app_pages/3_train.py").run()
    assert first.button(key="train_start").disabled
    first.button(key="train_without_pretrained").click().run()
    assert not first.button(key="train_start").disabled
    again = _router().run()
    again.switch_page("app_pages/3_train.py").run()
    no_exceptions(again)
    assert not again.button(key="train_start").disabled
