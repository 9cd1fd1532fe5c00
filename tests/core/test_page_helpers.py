"""The pure helpers behind the pages: figures (core.charts), per-session folders
(core.session), tables and progress text (core.report), the augmentation preview
(core.augment_preview), the quick device check (core.hostinfo), child-process fetches
(core.fetch) and the sidebar's weights sentence."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import (
    advisor,
    augment_preview,
    charts,
    fetch,
    hostinfo,
    references,
    report,
    session,
    strategies,
    vgg16,
)
from core import store as store_mod
from core.runconfig import RunConfig
from core.store import Store


def spec(fig) -> dict:
    return json.loads(fig.to_json())


# -- charts -----------------------------------------------------------------------------------
def test_class_counts_marks_small_classes_red_and_escapes_names():
    fig = spec(charts.class_counts({"cats": 90, "<b>dogs</b>": 10, "owls": 40}))
    bar = fig["data"][0]
    assert bar["x"] == ["cats", "&lt;b&gt;dogs&lt;/b&gt;", "owls"] and bar["y"] == [90, 10, 40]
    assert bar["marker"]["color"] == [
        charts.TRAIN_COLOUR,
        charts.MARKER_COLOUR,
        charts.TRAIN_COLOUR,
    ]


def test_image_sizes_one_bubble_per_size():
    fig = spec(charts.image_sizes([(32, 32)] * 3 + [(64, 48)]))
    points = fig["data"][0]
    assert points["x"] == [32, 64] and points["y"] == [32, 48] and points["customdata"] == [3, 1]


def test_split_counts_groups_train_and_validation():
    fig = spec(charts.split_counts({"train": {"a": 8, "b": 4}, "validation": {"a": 2, "b": 1}}))
    assert [(t["name"], t["y"]) for t in fig["data"]] == [("train", [8, 4]), ("validation", [2, 1])]
    assert fig["layout"]["barmode"] == "group"


@pytest.mark.parametrize(
    "per_class,similarity,x,y,symbol",
    [
        (50, "similar", np.log10(50), 1.5, "star"),
        (50, "different", np.log10(50), 0.5, "star"),
        (5000, "similar", np.log10(5000), 1.5, "star"),
        (50, None, np.log10(50), 1.0, "circle-open"),
    ],
)
def test_strategy_matrix_marks_the_dataset(per_class, similarity, x, y, symbol):
    fig = spec(charts.strategy_matrix(per_class, similarity))
    marker = fig["data"][0]
    assert marker["x"] == [pytest.approx(x)] and marker["y"] == [y]
    assert marker["marker"]["symbol"] == symbol
    shapes = fig["layout"]["shapes"]
    line = [s for s in shapes if s["type"] == "line"][0]
    assert line["x0"] == pytest.approx(np.log10(advisor.LARGE_PER_CLASS))
    highlighted = [s for s in shapes if s["type"] == "rect" and s["line"]["width"] == 3]
    assert len(highlighted) == (2 if similarity is None else 1)
    for rect in highlighted:  # the highlighted cells contain the marker's x
        assert rect["x0"] <= marker["x"][0] <= rect["x1"]
    texts = " ".join(a["text"] for a in fig["layout"]["annotations"])
    for cell in advisor.MATRIX:
        assert strategies.get(cell.strategy).title in texts


def test_vgg16_layers_follow_the_strategy_table():
    fig = spec(charts.vgg16_layers(strategies.get("finetune"), 2))
    by_name = {t["name"]: t for t in fig["data"]}
    trains = by_name["trains"]
    assert set(trains["y"]) == {"phase 2: finetune"}  # phase 1 trains the head only
    names = [text.split(":")[0] for text in trains["text"]]
    assert names == list(vgg16.trainable_layers(2))  # blocks 4 and 5
    frozen = by_name["frozen (pretrained, kept as is)"]
    assert len(frozen["x"]) == 13 + 13 - len(names)
    linear = {
        t["name"]: t
        for t in spec(charts.vgg16_layers(strategies.get("linear"), 1, "block3_pool"))["data"]
    }
    assert len(linear["not used"]["x"]) == 6  # blocks 4 and 5 are not read at all
    scratch = {t["name"] for t in spec(charts.vgg16_layers(strategies.get("scratch")))["data"]}
    assert "trains (from random weights)" in scratch


def test_training_curves_points_phases_and_reference_lines():
    history = [
        {
            "phase": "head",
            "epoch": 1,
            "accuracy": 0.5,
            "val_accuracy": 0.6,
            "loss": 1.0,
            "val_loss": 0.9,
        },
        {
            "phase": "finetune",
            "epoch": 2,
            "accuracy": 0.7,
            "val_accuracy": 0.8,
            "loss": 0.6,
            "val_loss": 0.5,
        },
    ]
    refs = references.references_for("cats_vs_dogs_small", 150, "imagenet")
    refs += references.references_for("cats_vs_dogs_small", 64, "imagenet")[:1]
    fig = spec(charts.training_curves(history, refs))
    val = [t for t in fig["data"] if t["name"] == "validation"]
    assert [t["y"] for t in val] == [[0.6, 0.8], [0.9, 0.5]]
    dashed = [s for s in fig["layout"]["shapes"] if s.get("line", {}).get("dash") == "dash"]
    assert sorted(s["y0"] for s in dashed) == [0.9, 0.9, 0.94]
    labels = [a["text"] for a in fig["layout"]["annotations"]]
    assert any("(different setting)" in t for t in labels)
    assert "finetune" in labels  # the phase change is marked
    empty = spec(charts.training_curves([]))
    assert any("first epoch" in a["text"] for a in empty["layout"]["annotations"])


def test_confusion_matrix_and_top_k():
    fig = spec(charts.confusion_matrix([[3, 1], [0, 4]], ["a", "<i>b</i>"]))
    heat = fig["data"][0]
    assert heat["z"] == [[3, 1], [0, 4]] and heat["y"] == ["a", "&lt;i&gt;b&lt;/i&gt;"]
    bars = spec(
        charts.top_k([{"class": "cat", "probability": 0.7}, {"class": "dog", "probability": 0.3}])
    )["data"][0]
    assert bars["y"] == ["cat", "dog"] and bars["x"] == [0.7, 0.3]
    assert bars["text"] == ["70.0%", "30.0%"]


def test_compare_curves_one_trace_per_run():
    fig = spec(
        charts.compare_curves(
            {
                "A": [{"epoch": 1, "val_accuracy": 0.5}],
                "B": [{"epoch": 1, "val_accuracy": 0.7}, {"epoch": 2, "val_accuracy": 0.8}],
            }
        )
    )
    assert [(t["name"], t["y"]) for t in fig["data"]] == [("A", [0.5]), ("B", [0.7, 0.8])]


def test_waveform_and_spectrogram_figures():
    assert spec(charts.waveform([0.0, 0.1], [0.2, -0.3], "x"))["data"][0]["y"] == [0.2, -0.3]
    pixels = np.zeros((4, 3, 3), dtype=np.uint8)
    pixels[0] = 255  # the top row of the saved image is the highest band
    heat = charts.spectrogram(pixels, "clip").data[0]
    assert np.asarray(heat.z)[-1].tolist() == [255, 255, 255]  # drawn at the top (last row)


# -- session ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw,safe",
    [
        ("cats", "cats"),
        ("  Golden  Retriever ", "Golden Retriever"),
        ("../../etc/passwd", "etc_passwd"),
        (".hidden", "hidden"),
        ("a/b\\c", "a_b_c"),
        ("chat\x00noir", "chatnoir"),
        ("Ünïcødé 猫", "Ünïcødé 猫"),
        ("x" * 200, "x" * session.MAX_NAME_LENGTH),
    ],
)
def test_safe_name(raw, safe):
    assert session.safe_name(raw) == safe


@pytest.mark.parametrize("raw", ["", "...", "../", "<>", "   "])
def test_safe_name_refuses_names_without_letters(raw):
    with pytest.raises(session.SessionError):
        session.safe_name(raw)
    assert session.safe_name(raw, fallback="class") == "class"


def test_session_folders_and_ids(tmp_path):
    sid = session.new_session_id()
    assert session.session_dir(tmp_path, sid) == tmp_path / "sessions" / sid
    assert session.uploads_dir(tmp_path, sid).name == "uploads"
    for bad in ("../x", "", "A" * 32, sid + "0"):
        with pytest.raises(session.SessionError):
            session.session_dir(tmp_path, bad)


def test_unique_child_never_reuses_a_name(tmp_path):
    first = session.unique_child(tmp_path, "../my zip")
    assert first == tmp_path / "my zip" and not first.exists()
    first.mkdir()
    assert session.unique_child(tmp_path, "my zip").name == "my zip-2"


def _png_bytes(colour=(10, 20, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, format="PNG")
    return out.getvalue()


def test_save_image_checks_content_and_never_overwrites(tmp_path):
    project = tmp_path / "classes"
    cats = session.add_class(project, "cats")
    first = session.save_image(cats, "../../evil.png", _png_bytes())
    second = session.save_image(cats, "evil.png", _png_bytes((1, 2, 3)))
    assert first.parent == cats and first.name == "evil.png" and second.name == "evil-2.png"
    with pytest.raises(session.SessionError, match="cannot be read"):
        session.save_image(cats, "fake.png", b"not a png")
    with pytest.raises(session.SessionError, match="not an image"):
        session.save_image(cats, "notes.txt", b"hello")
    assert sorted(p.name for p in cats.iterdir()) == ["evil-2.png", "evil.png"]  # no leftovers
    session.add_class(project, "dogs")
    assert session.class_counts(project) == {"cats": 2, "dogs": 0}
    assert session.class_counts(tmp_path / "missing") == {}


def test_folder_signature_changes_when_files_change(tmp_path):
    (tmp_path / "a").mkdir()
    before = session.folder_signature(tmp_path)
    time.sleep(0.01)
    (tmp_path / "a" / "new.png").write_bytes(b"x")
    after = session.folder_signature(tmp_path)
    assert before[0] == after[0] == str(tmp_path.resolve()) and after != before


# -- report -----------------------------------------------------------------------------------
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
    assert csv[0] == "strategy,run,status,val_accuracy,val_loss,epochs,train_seconds,best"
    assert csv[2].startswith("Linear probe,") and csv[2].endswith(report.BEST_MARK)
    assert report.to_csv([]) == ""


def test_run_label_latest_probe_and_per_class(tmp_path):
    store, run = _run(tmp_path, task="probe")
    assert report.is_probe(run) and "similarity measurement" in report.run_label(run)
    assert report.run_name(run) == f"similarity measurement on {tmp_path.name} ({run.id})"
    assert report.latest_probe([run], str(tmp_path)) == run
    assert report.latest_probe([run], str(tmp_path), image_size=999) is None
    assert report.latest_probe([run], str(tmp_path), weights=run.config["weights"]) == run
    assert report.latest_probe([run], str(tmp_path), weights="/other/file.h5") is None
    assert report.latest_probe([run], str(tmp_path / "other")) is None
    assert report.latest([run]) is None and report.latest([run], train_only=False) == run
    rows = report.per_class_rows(
        {"per_class": [{"class": "a", "precision": 1.0, "recall": 0.5, "f1": 0.66, "support": 4}]}
    )
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


# -- augmentation preview ---------------------------------------------------------------------
def _picture() -> Image.Image:
    pixels = np.zeros((60, 80, 3), dtype=np.uint8)
    pixels[:, :40] = (250, 10, 10)  # left half red
    pixels[:, 40:] = (10, 10, 250)
    return Image.fromarray(pixels)


def test_augmented_images_are_varied_and_reproducible():
    first = augment_preview.augmented(_picture(), count=4, size=48, seed=1)
    again = augment_preview.augmented(_picture(), count=4, size=48, seed=1)
    assert [im.size for im in first] == [(48, 48)] * 4
    assert all(im.mode == "RGB" for im in first)
    arrays = [np.asarray(im) for im in first]
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(arrays, again, strict=True))
    assert len({a.tobytes() for a in arrays}) == 4
    for a in arrays:  # reflected borders: no black corners appear
        assert a.reshape(-1, 3).max(axis=1).min() > 5


def test_spectrogram_augmentation_masks_bands_with_the_mean():
    versions = augment_preview.augmented(_picture(), count=6, size=40, kind="spectrogram", seed=3)
    base = np.asarray(_picture().resize((40, 40), Image.Resampling.BILINEAR)).astype(int)
    fill = np.rint(base.reshape(-1, 3).mean(axis=0))
    changed = [np.asarray(v).astype(int) for v in versions]
    assert any((c != base).any() for c in changed)
    for c in changed:
        differs = (c != base).any(axis=2)
        assert np.allclose(c[differs], fill, atol=1)
    with pytest.raises(ValueError):
        augment_preview.augmented(_picture(), kind="sepia")


# -- host, fetch, sidebar ---------------------------------------------------------------------
def test_quick_device_reads_the_nvidia_driver(tmp_path, monkeypatch):
    monkeypatch.setattr(hostinfo.shutil, "which", lambda name: None)
    assert hostinfo.quick_device(tmp_path / "none") == "CPU"
    for k, name in enumerate(("NVIDIA A100", "NVIDIA T4")):
        gpu = tmp_path / f"0000:0{k}:00.0"
        gpu.mkdir()
        (gpu / "information").write_text(f"Model: \t\t {name}\nIRQ: 1\n")
    assert hostinfo.quick_device(tmp_path) == "GPU: NVIDIA A100 (+1 more)"


def test_fetch_sample_failure_comes_back_as_one_line(tmp_path):
    state = fetch.wait(fetch.start_sample("no_such_sample", tmp_path))
    assert state.status == "failed" and "unknown sample" in state.reason


def test_fetch_spectrograms_bad_input_comes_back_as_one_line(tmp_path):
    state = fetch.wait(fetch.start_spectrograms(tmp_path, tmp_path / "cache", tmp_path))
    assert state.status == "failed" and "no audio files" in state.reason


def test_sidebar_weights_sentence(tmp_path, monkeypatch):
    from ui import sidebar

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    kind, text = sidebar.weights_status("none")
    assert kind == "warning" and "No pretrained weights" in text
    kind, text = sidebar.weights_status("imagenet")
    assert kind == "warning" and "not downloaded yet" in text
    cached = tmp_path / "keras" / "models" / vgg16.IMAGENET_NOTOP_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert sidebar.weights_status("imagenet") == ("info", "Weights: ImageNet (on this machine)")
    assert sidebar.weights_status(str(cached))[1] == f"Weights: local file {cached.name}"
    kind, text = sidebar.weights_status(str(tmp_path / "missing.h5"))
    assert kind == "error" and "not found" in text


def test_markdown_escaping_of_user_text():
    from ui import common

    assert common.md("**bold** [x](javascript:alert(1)) :red[hi]") == (
        "\\*\\*bold\\*\\* \\[x\\]\\(javascript\\:alert\\(1\\)\\) \\:red\\[hi\\]"
    )
    assert common.md(Path("a_b")) == "a\\_b"


def test_fetch_jobs_report_done_failed_and_timeout_without_blocking(tmp_path):
    import time

    from core import fetch

    done = fetch._start("sample", ["-c", f"print({str(tmp_path)!r})"], tmp_path, 60)
    failed = fetch._start(
        "sample",
        ["-c", "import sys; print('error: no internet', file=sys.stderr); sys.exit(2)"],
        tmp_path,
        60,
    )
    slow = fetch._start("sample", ["-c", "import time; time.sleep(60)"], tmp_path, 0.5)
    started = time.monotonic()
    assert fetch.poll(slow).status == "running"
    assert time.monotonic() - started < 1.0  # polling never waits for the child
    assert fetch.wait(done).folder == tmp_path
    state = fetch.wait(failed)
    assert (state.status, state.reason) == ("failed", "no internet")
    time.sleep(0.6)
    assert fetch.poll(slow.to_dict()).reason.startswith("gave up after")
    assert not list((tmp_path / "jobs").iterdir())  # output files are cleaned up


def test_fetch_job_of_a_restarted_app_is_reported_lost(tmp_path):
    from dataclasses import replace

    job = fetch._start("sample", ["-c", "print('x')"], tmp_path, 60)
    fetch.wait(job)
    ghost = replace(job, pid=job.pid + 1_000_000)  # not a child of this process
    state = fetch.poll(ghost.to_dict())
    assert state.status == "failed" and "restarted" in state.reason
