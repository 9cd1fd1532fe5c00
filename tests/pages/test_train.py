"""The Train page (app_pages/3_train.py): start, stop, resume, live progress, results."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from apptesting import (
    CLASSES,
    HOSTILE_NAMES,
    WITHOUT_WEIGHTS,
    assert_shown_escaped,
    chart_titled,
    finished_run,
    no_exceptions,
    page,
    plotly_specs,
    queued_run,
    result_dict,
    texts,
)
from PIL import Image
from synthetic import write_vgg16_shaped_h5

from core.data import samples
from core.jobs import worker
from core.runs import advisor
from core.runs import store as store_mod
from core.runs.config import RunConfig
from ui import messages, session_keys


def test_train_with_an_active_run_disables_start_and_the_callback_refuses(store, digits):
    at = page(
        "3_train.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: 48,
            session_keys.WEIGHTS: "none",
        },
        **WITHOUT_WEIGHTS,
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
    assert at.get("progress")[0].proto.text.startswith("Starting")  # nothing queued before
    at.run()
    assert at.button(key="train_start").disabled
    assert len(store.list()) == 1


def test_train_start_queues_one_run_with_the_settings(store, digits):
    at = page(
        "3_train.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: 48,
            session_keys.WEIGHTS: "none",
            session_keys.STRATEGY: "finetune",
        },
        **WITHOUT_WEIGHTS,
    ).run()
    no_exceptions(at)
    at.button(key="train_start").click().run()
    no_exceptions(at)
    runs = store.list()
    assert len(runs) == 1
    config = runs[0].config
    assert (config.strategy, config.image_size, config.weights) == ("finetune", 48, "none")
    assert config.dataset == str(digits)
    assert at.session_state[session_keys.TRAIN_RUN] == runs[0].id
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
    at = page(
        "3_train.py", **{session_keys.DATASET: str(digits), session_keys.TRAIN_RUN: run.id}
    ).run()
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
    assert "Download this model" not in texts(at.subheader)  # no model recorded: none to take


def test_train_result_reports_test_accuracy_its_interval_and_the_caution(store, digits):
    test = {"test_accuracy": 0.8, "test_interval": [0.63, 0.9], "caution": "Only 30 test images"}
    run = finished_run(store, digits, accuracy=0.9, test=test)
    at = page(
        "3_train.py", **{session_keys.DATASET: str(digits), session_keys.TRAIN_RUN: run.id}
    ).run()
    no_exceptions(at)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Test accuracy"], metrics["Validation accuracy"]) == ("80.0%", "90.0%")
    assert "Validation loss" not in metrics
    assert "63%–90%" in texts(at.caption) and "Only 30 test images" in texts(at.warning)
    assert chart_titled(at, "Confusion matrix (test images)")
    assert "test images" in at.dataframe[0].value.columns


def test_train_finished_run_with_a_model_offers_the_download_section(store, digits):
    run = finished_run(store, digits)
    store.update(run.id, model_path=str(store.run_dir(run.id) / "model.keras"))
    at = page(
        "3_train.py", **{session_keys.DATASET: str(digits), session_keys.TRAIN_RUN: run.id}
    ).run()
    no_exceptions(at)
    assert "Download this model" in texts(at.subheader)
    assert at.selectbox(key="take_away_train_format").value == "keras"
    assert not at.button(key="take_away_train_prepare").disabled
    # issue 20 item 15: the TensorBoard hint is folded away, for developers
    [folded] = [e for e in at.expander if e.label == "For developers"]
    assert "tensorboard --logdir" in texts(folded.code)


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
    at = page("3_train.py", **{session_keys.TRAIN_RUN: run.id}).run()
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
    at = page("3_train.py", **{session_keys.TRAIN_RUN: run.id}).run()
    no_exceptions(at)
    assert expected in texts(at.error)


def test_train_interrupted_run_offers_resume(store, digits):
    run = finished_run(
        store,
        digits,
        status=store_mod.INTERRUPTED,
        error="the worker process stopped during this run; it can be resumed",
    )
    at = page("3_train.py", **{session_keys.TRAIN_RUN: run.id}).run()
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
    at.button(key=f"train_stop_{run.id}").click().run()  # a run of another session: confirm
    assert store.get(run.id).status == store_mod.RUNNING
    at.button(key=f"train_stop_{run.id}_confirm").click().run()
    assert store.get(run.id).status == store_mod.STOPPING
    assert "Stopping at the end of the current batch" in texts(at.caption)


def test_train_live_chart_shows_batch_losses_and_the_whole_runs_eta(store, digits, monkeypatch):
    from core.runs.results import BatchRecord

    monkeypatch.setattr(worker, "worker_running", lambda home: True)
    monkeypatch.setattr(worker, "pid_alive", lambda pid: True)
    run = queued_run(store, digits)
    store.claim_next(worker_pid=12345)
    store.add_metric(run.id, "epoch", "head", 1, 4, {"loss": 0.9, "val_loss": 1.0})
    losses = (1.4, 1.0, 0.8, 0.9, 0.7, 0.6)
    store.add_batches(
        run.id, [BatchRecord("head", 1 + n // 4, 1 + n % 4, 4, v) for n, v in enumerate(losses)]
    )
    store.update(
        run.id,
        progress={
            "stage": "training",
            "phase": "head",
            "phase_index": 0,
            "phases": 2,
            "epoch": 2,
            "epochs": 8,
            "step": 2,
            "steps": 4,
            "eta_seconds": 2.0,
            "run_eta_seconds": 250.0,
            "run_eta_measured": False,
        },
    )
    at = page("3_train.py").run()
    no_exceptions(at)
    assert at.get("progress")[0].proto.text == (
        "Epoch 2 of 8 (phase: head), batch 2 of 4, about 2 s left in this epoch; all phases: "
        "at most about 4 min 10 s left (partly estimated)."
    )
    curves = chart_titled(at, "Training curves")
    raw, smooth = (t for t in curves["data"] if t.get("legendgroup") == "batch")
    assert raw["x"] == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5] and raw["y"] == list(losses)
    assert smooth["name"] == "training, per batch (smoothed)" and len(smooth["y"]) == 6


def test_stopping_another_sessions_run_names_it_and_asks_again(store, digits, monkeypatch):
    monkeypatch.setattr(worker, "worker_running", lambda home: True)
    monkeypatch.setattr(worker, "pid_alive", lambda pid: True)
    run = queued_run(store, digits)
    store.update(run.id, owner="another-tab")
    store.claim_next(worker_pid=12345)
    at = page("3_train.py", **{session_keys.TRAIN_RUN: run.id}).run()
    no_exceptions(at)
    assert "started in another browser at" in texts(at.caption)
    stop = at.button(key=f"train_stop_{run.id}")
    assert stop.label == "Stop someone else's run"
    stop.click().run()
    no_exceptions(at)
    assert store.get(run.id).status == store_mod.RUNNING  # one click stops nothing
    assert "Stop it anyway?" in texts(at.warning)
    at.button(key=f"train_stop_{run.id}_cancel").click().run()
    assert store.get(run.id).status == store_mod.RUNNING
    assert at.button(key=f"train_stop_{run.id}").label == "Stop someone else's run"
    at.button(key=f"train_stop_{run.id}").click().run()
    at.button(key=f"train_stop_{run.id}_confirm").click().run()
    assert store.get(run.id).status == store_mod.STOPPING


def test_a_second_start_from_another_tab_is_refused(store, digits):
    tabs = [
        page(
            "3_train.py",
            **{
                session_keys.DATASET: str(digits),
                session_keys.IMAGE_SIZE: 48,
                session_keys.WEIGHTS: "none",
            },
            **WITHOUT_WEIGHTS,
        ).run()
        for _ in range(2)
    ]
    for at in tabs:
        at.button(key="train_start").click()
    for at in tabs:
        at.run()
        no_exceptions(at)
    assert len(store.list()) == 1
    assert store.list()[0].owner == tabs[0].session_state[session_keys.SESSION_ID]
    assert "already under way" in texts(tabs[1].warning)


# -- a first run, offline ---------------------------------------------------------------------
def _first_visit(digits):
    """A new session on the Train page with the sample chosen and nothing else."""
    at = page(
        "3_train.py", **{session_keys.DATASET: str(digits), session_keys.IMAGE_SIZE: 48}
    ).run()
    no_exceptions(at)
    return at


def _outside_expanders(at, kind: str, key: str) -> bool:
    inside = [e for exp in at.expander for e in exp.get(kind) if getattr(e, "key", None) == key]
    return not inside and any(getattr(e, "key", None) == key for e in at.get(kind))


def test_train_without_pretrained_weights_says_so_with_both_ways_on(store, digits):
    at = _first_visit(digits)
    assert "There are no pretrained VGG16 weights on this machine" in texts(at.warning)
    assert _outside_expanders(at, "file_uploader", "train_weights_upload")
    assert _outside_expanders(at, "button", "train_without_pretrained")
    assert at.session_state[session_keys.WEIGHTS] == "none"  # the default is what works here
    # issue 20 item 10: Start waits until one of the two ways is chosen, and says so
    assert at.button(key="train_start").disabled
    assert "Start is available once you upload the weights file" in texts(at.caption)
    at.button(key="train_without_pretrained").click().run()
    no_exceptions(at)
    assert not at.button(key="train_start").disabled
    assert "from scratch" in texts(at.info) and "much lower accuracy" in texts(at.info)
    # chosen: the button gives way, the upload stays possible
    assert not [b for b in at.button if b.key == "train_without_pretrained"]
    assert at.file_uploader(key="train_weights_upload")
    at.button(key="train_start").click().run()
    (run,) = store.list()
    assert run.config.weights == "none"


def test_train_upload_of_a_bad_weights_file_says_why_and_saves_nothing(store, digits, studio):
    at = _first_visit(digits)
    at.file_uploader(key="train_weights_upload").upload(
        "vgg16.h5", b"PK\x03\x04 this is a zip", "application/octet-stream"
    ).run()
    no_exceptions(at)
    message = texts(at.error)
    assert "not a Keras weights file" in message and "Nothing was saved" in message
    assert "Technical detail" in [e.label for e in at.expander]
    assert not list((studio / "weights").glob("*.h5"))
    assert at.session_state[session_keys.WEIGHTS] == "none"


def test_train_upload_of_a_fitting_file_is_kept_and_used(store, digits, studio, tmp_path):
    data = write_vgg16_shaped_h5(tmp_path / "mine.h5").read_bytes()
    at = _first_visit(digits)
    at.file_uploader(key="train_weights_upload").upload("my vgg.h5", data, "application/x-hdf5")
    at.run()
    no_exceptions(at)
    saved = studio / "weights" / "my_vgg.h5"
    assert saved.is_file()
    assert "not the official ImageNet file" in texts(at.success)
    assert at.session_state[session_keys.WEIGHTS] == str(saved)
    assert "no pretrained VGG16 weights" not in texts(at.warning)  # the notice is gone
    assert at.radio(key="_w_weights_kind").value == "A local weights file"
    at.button(key="train_start").click().run()
    assert store.list()[0].config.weights == str(saved)


def test_train_imagenet_without_file_or_internet_is_refused_before_start(store, digits):
    at = page(
        "3_train.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: 48,
            session_keys.WEIGHTS: "imagenet",
        },
    ).run()
    no_exceptions(at)
    assert "cannot be downloaded without internet" in texts(at.error)
    assert at.button(key="train_start").disabled


def test_train_defaults_to_the_measured_advice_and_says_so(store, digits):
    probe = {"block3_pool": 0.91, "block4_pool": 0.84, "block5_pool": 0.62}
    measured = queued_run(store, digits, task="probe")
    store.finish(
        measured.id,
        store_mod.DONE,
        result={"probe": probe, "advice": advisor.advise(50.0, probe).to_dict()},
    )
    at = _first_visit(digits)
    assert at.selectbox(key="_w_strategy").value == "linear"
    assert at.selectbox(key="_w_layer").value == "block3_pool"
    assert "Recommended by the measurement: **Linear probe**" in texts(at.success)
    at.selectbox(key="_w_strategy").set_value("finetune").run()
    no_exceptions(at)
    assert "The measurement recommended **Linear probe**" in texts(at.info)
    at.run()  # the person's choice stands on later reruns
    assert at.selectbox(key="_w_strategy").value == "finetune"


def test_train_run_label_names_strategy_weights_size_and_dataset(store, digits):
    run = finished_run(store, digits)
    at = page("3_train.py", **{session_keys.TRAIN_RUN: run.id}).run()
    no_exceptions(at)
    label = f"Feature extractor + small head · no pretrained weights · 48 px · {digits.name}"
    assert any(m.value.startswith(f"**{messages.md(label)}") for m in at.markdown)


def test_train_image_size_is_visible_and_the_same_setting_as_strategy(store, digits):
    strategy = page("2_strategy.py", **{session_keys.DATASET: str(digits)}).run()
    assert strategy.number_input(key="_w_image_size@strategy").value == 48  # the sample's own size
    strategy.number_input(key="_w_image_size@strategy").set_value(64).run()
    assert strategy.session_state[session_keys.IMAGE_SIZE] == 64
    at = page(
        "3_train.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: strategy.session_state["image_size"],
        },
        **WITHOUT_WEIGHTS,
    ).run()
    assert _outside_expanders(at, "number_input", "_w_image_size@train")
    assert at.number_input(key="_w_image_size@train").value == 64
    assert at.number_input(key="_w_image_size@train").label == (
        strategy.number_input(key="_w_image_size@strategy").label
    )
    at.button(key="train_start").click().run()
    assert store.list()[0].config.image_size == 64


def test_a_failed_run_says_what_to_do_and_folds_the_technical_detail(store, digits):
    error = "ValueError: Input 0 of layer block4_pool is incompatible with the layer"
    run = finished_run(store, digits, status=store_mod.FAILED, error=error)
    at = page("3_train.py", **{session_keys.TRAIN_RUN: run.id}).run()
    no_exceptions(at)
    shown = texts(at.error)
    assert "Something unexpected stopped the run" in shown and "block4_pool" not in shown
    (detail,) = [e for e in at.expander if e.label == "Technical detail"]
    assert error in texts(detail.get("code"))


@pytest.mark.parametrize(
    "status", [store_mod.STOPPED, store_mod.DIVERGED, store_mod.INTERRUPTED, store_mod.FAILED]
)
def test_a_run_error_naming_user_files_is_shown_escaped(store, digits, status):
    hostile = HOSTILE_NAMES[1]
    run = finished_run(store, digits, status=status, error=f"cannot open /data/{hostile}/a.png")
    at = page("3_train.py", **{session_keys.TRAIN_RUN: run.id}).run()
    no_exceptions(at)
    assert_shown_escaped(at, hostile)


def _block_with_id(node, suffix: str):
    for child in getattr(node, "children", {}).values():
        if child.type == "flex_container" and child.proto.id.endswith(suffix):
            return child
        found = _block_with_id(child, suffix)
        if found is not None:
            return found
    return None


def test_train_results_and_weights_button_fit_a_narrow_window(store, digits):
    """At 800 px four fixed metric columns cut labels and values ('Validation a...', '2 mi...')
    and the half-width 'Continue without pretrained weights' button lost its label's end."""
    run = finished_run(store, digits)
    at = page(
        "3_train.py", **{session_keys.DATASET: str(digits), session_keys.TRAIN_RUN: run.id}
    ).run()
    no_exceptions(at)
    row = _block_with_id(at.main, "train_metrics")
    assert row is not None, "the metrics are not in their wrapping row"
    assert row.proto.flex_container.wrap and "HORIZONTAL" in str(row.proto.flex_container)
    inside = [c for c in row.children.values() if c.type == "metric"]
    assert [m.label for m in inside] == [
        "Validation accuracy",
        "Validation loss",
        "Epochs",
        "Training time",
    ]
    assert at.button(key="train_without_pretrained").proto.wrap


def test_train_precision_setting_reaches_the_run_and_is_explained(store, digits, monkeypatch):
    from core.model import device
    from core.platform import hostinfo

    monkeypatch.setattr(hostinfo, "nvidia_smi_gpus", lambda: [])
    monkeypatch.setattr(
        hostinfo, "cpu_features", lambda: hostinfo.CpuFeatures("test CPU", False, False, True)
    )
    monkeypatch.setattr(device, "cpu_features", hostinfo.cpu_features)
    st.cache_resource.clear()  # the page reads the machine's plan once per server
    at = page(
        "3_train.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: 48,
            session_keys.WEIGHTS: "none",
        },
        **WITHOUT_WEIGHTS,
    ).run()
    no_exceptions(at)
    assert at.selectbox(key="_w_precision").value == RunConfig.default("precision")
    assert "auto: float32 on this CPU (no native bfloat16)." in texts(at.caption)
    at.selectbox(key="_w_precision").set_value("bfloat16").run()
    assert "emulated" in texts(at.caption)
    at.button(key="train_start").click().run()
    no_exceptions(at)
    assert store.list()[0].config.precision == "bfloat16"


def test_a_gpu_tensorflow_cannot_use_is_said_once_and_start_still_works(store, digits, monkeypatch):
    from core.model import device_facts
    from core.platform import hostinfo

    monkeypatch.setattr(hostinfo, "nvidia_gpus", lambda *a: ["NVIDIA A100"])
    monkeypatch.setattr(device_facts, "probe_view", lambda: device_facts.TensorflowView())
    st.cache_data.clear()
    at = page(
        "3_train.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: 48,
            session_keys.WEIGHTS: "none",
        },
        **WITHOUT_WEIGHTS,
    ).run()
    no_exceptions(at)
    assert "TensorFlow sees none" in texts(at.warning)
    assert device_facts.CUDA_FIX in texts(at.warning)
    assert not at.button(key="train_start").disabled
    at.button(key="train_gpu_mismatch_seen").click().run()
    assert "TensorFlow sees none" not in texts(at.warning)  # said once
    at.button(key="train_start").click().run()
    no_exceptions(at)
    assert len(store.list()) == 1  # the run starts (on the CPU)


def test_train_result_says_the_device_the_run_really_used(store, digits):
    device = {"placed_on": ["GPU:0"], "gpu_names": ["NVIDIA A100"], "policy": "mixed_bfloat16"}
    run = finished_run(store, digits, test={"device": {**device, "xla": True, "replicas": 1}})
    at = page(
        "3_train.py", **{session_keys.DATASET: str(digits), session_keys.TRAIN_RUN: run.id}
    ).run()
    no_exceptions(at)
    shown = (
        "Trained on GPU\\:0 \\(NVIDIA A100\\), mixed\\_bfloat16, XLA on, 1 replica."  # md-escaped
    )
    assert shown in texts(at.caption)


def test_a_reload_of_the_same_browser_owns_its_run(store, digits, monkeypatch):
    """Issue 20 item 2: a run started in this browser is still this person's after a reload
    (a new Streamlit session with the browser's cookie): a plain Stop, no "someone else's"."""
    browser = "ab" * 16
    monkeypatch.setattr(session_keys, "browser_cookie", lambda: browser)
    monkeypatch.setattr(worker, "worker_running", lambda home: True)
    monkeypatch.setattr(worker, "pid_alive", lambda pid: True)
    first = _first_visit(digits)
    first.button(key="train_without_pretrained").click().run()
    first.button(key="train_start").click().run()
    no_exceptions(first)
    run = store.get(first.session_state[session_keys.TRAIN_RUN])
    assert run.owner == browser
    store.claim_next(worker_pid=12345)
    reloaded = page("3_train.py", **{session_keys.TRAIN_RUN: run.id}).run()
    no_exceptions(reloaded)
    assert reloaded.button(key=f"train_stop_{run.id}").label == "Stop"
    assert "another browser" not in texts(reloaded.caption)


def test_a_browser_without_the_cookie_gets_its_id_written_once(store, digits):
    from apptesting import ROOT
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    no_exceptions(at)
    me = at.session_state[session_keys.SESSION_ID]
    [script] = [h.proto.body for h in at.sidebar.get("html")]
    assert f"{session_keys.BROWSER_COOKIE}={me}; path=/" in script
    at.run()
    assert not at.sidebar.get("html")  # written once per session


def test_a_finished_run_says_and_marks_the_epoch_it_kept(store, digits):
    """Issue 20 item 7: the reported validation accuracy is the kept epoch's (lowest
    validation loss), not the last point's: the chart marks that epoch and the page says it."""
    config = RunConfig(dataset=str(digits), strategy="head", image_size=48, weights="none")
    run = store.create(config)
    store.update(run.id, status=store_mod.RUNNING, started=run.created)
    for epoch, (val_loss, val_accuracy) in enumerate(
        ((0.9, 0.5), (0.6, 0.578), (0.8, 0.69)), start=1
    ):
        metrics = {"accuracy": 0.6, "loss": 0.7, "val_loss": val_loss}
        metrics["val_accuracy"] = val_accuracy
        store.add_metric(run.id, "epoch", "head", epoch, 4, metrics)
    result = result_dict("head", 0.578, 0.6, 10.0)
    store.finish(run.id, store_mod.DONE, result=result, progress={"stage": "finished"})
    at = page("3_train.py", **{session_keys.TRAIN_RUN: run.id}).run()
    no_exceptions(at)
    assert "Kept: epoch 2" in texts(at.caption)
    curves = chart_titled(at, "Training curves")
    [star] = [t for t in curves["data"] if t.get("name") == "kept: epoch 2" and t["showlegend"]]
    assert star["x"] == [2] and star["y"] == [0.578]


def test_a_linear_probe_shows_its_fit_not_settings_it_ignores(store, digits):
    """Issue 20 item 11: no epochs or patience for a closed-form fit, and in place of a
    one-dot chart its features, regularisation and fit time, with why there is no curve."""
    at = page(
        "3_train.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: 48,
            session_keys.STRATEGY: "linear",
        },
        **WITHOUT_WEIGHTS,
    ).run()
    no_exceptions(at)
    keys = {w.key for w in at.number_input}
    assert "_w_epochs" not in keys and "_w_early_stopping_patience" not in keys
    assert "solves its classifier in one go" in texts(at.caption)
    config = RunConfig(dataset=str(digits), strategy="linear", image_size=48, weights="none")
    run = store.create(config)
    store.add_metric(run.id, "epoch", "fit", 1, 1, {"val_accuracy": 0.9, "seconds": 2.5})
    result = result_dict("linear", 0.9, 0.3, 2.5)
    store.finish(run.id, store_mod.DONE, result=result, progress={"stage": "finished"})
    at = page("3_train.py", **{session_keys.TRAIN_RUN: run.id}).run()
    no_exceptions(at)
    shown = texts(at.caption)
    assert "no training curve" in shown and "L2 regularisation C = 1" in shown
    assert "fitted in 2" in shown
    assert not [s for s in plotly_specs(at) if "Training curves" in str(s["layout"])]
