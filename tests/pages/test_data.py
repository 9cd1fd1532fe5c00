"""The Data page (app_pages/1_data.py): sources, uploads, sounds, and session isolation."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from pathlib import Path

from apptesting import (
    CLASSES,
    HOSTILE_NAMES,
    assert_shown_escaped,
    chart_titled,
    finished_run,
    no_exceptions,
    page,
    plotly_specs,
    queued_run,
    texts,
)
from PIL import Image
from streamlit.testing.v1 import AppTest
from synthetic import write_colour_dataset

from core.data import datafix, datasets, samples
from core.runs import store as store_mod
from ui import messages, scanning, session_keys


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
    split = chart_titled(at, "Training / validation / test split per class")
    assert [trace["name"] for trace in split["data"]] == ["train", "validation", "test"]
    assert [sum(trace["y"]) for trace in split["data"]] == [350, 75, 75]  # 70 / 15 / 15
    assert chart_titled(at, "Image sizes (width x height, pixels)")["data"][0]["x"] == [32]
    assert at.session_state[session_keys.DATASET].endswith("digits-50")
    assert at.session_state[session_keys.IMAGE_SIZE] == samples.SAMPLES["digits"].image_size
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
    assert "cannot be used" in texts(at.error) and messages.md("..") in texts(at.error)
    sessions = store.home / "sessions"
    assert not sessions.exists() or not [p for p in sessions.rglob("*") if p.is_file()]
    assert not (store.home / "evil.png").exists() and not (tmp_path / "evil.png").exists()
    assert session_keys.DATASET not in at.session_state


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
    folder = Path(at.session_state[session_keys.DATASET])
    session_id = at.session_state[session_keys.SESSION_ID]
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
    project = store.home / "sessions" / at.session_state[session_keys.SESSION_ID] / "classes"
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
    assert messages.md("bad.png") in texts(at.warning)
    at.run()  # a rerun does not save the same uploads twice
    assert len(list((project / "dogs").iterdir())) == 1
    at.button(key="data_use_classes").click().run()
    no_exceptions(at)
    assert at.session_state[session_keys.DATASET] == str(project.resolve())
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
    class_dir = (
        store.home / "sessions" / at.session_state[session_keys.SESSION_ID] / "classes" / "me"
    )
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
    from core.jobs import fetch

    def offline_child(
        name, home, per_class=None
    ):  # `python -m core sample` offline: one line, after a while
        # (5 s: the page must have returned while the child still works, even on a busy machine)
        return fetch._start(
            "sample",
            [
                "-c",
                "import sys, time; time.sleep(5); print('error: "
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


def test_data_keras_sample_offers_all_or_a_cap_with_time_estimates(store, monkeypatch):
    """Full-size CIFAR-10 is the default, with its time from this machine's measured speed;
    a per-class cap is a visible choice that reaches the download."""
    from core.jobs import fetch
    from core.runs import speed

    speed.record(store.home, 640, 10.0, 48, "float32", "run")  # 64 images/s at 48 px
    asked = []

    def child(name, home, per_class=None):
        asked.append((name, per_class))
        return fetch._start("sample", ["-c", "import sys; sys.exit(2)"], home, 60)

    monkeypatch.setattr(fetch, "start_sample", child)
    at = page("1_data.py", data_source="Online sample").run()
    at.selectbox(key="data_online_sample").set_value("cifar10").run()
    no_exceptions(at)
    assert at.radio(key="data_sample_all_cifar10").value is True  # default: all of them
    assert "VGG16 features for 60,000 images at 48 px: about 16 min" in texts(at.caption)
    assert "64 images/s measured at 48 px" in texts(at.caption)
    at.radio(key="data_sample_all_cifar10").set_value(False).run()
    at.number_input(key="data_sample_cap_cifar10").set_value(200).run()
    captions = texts(at.caption)
    assert "VGG16 features for 2,400 images at 48 px: about 38 s" in captions  # 2,000 + 400
    assert "All of them instead: VGG16 features for 60,000 images" in captions
    at.button(key="data_download_sample").click().run()
    no_exceptions(at)
    assert asked == [("cifar10", 200)]


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
        lambda a: (
            session_keys.AUDIO_SOURCE in a.session_state
            and a.session_state[session_keys.AUDIO_SOURCE]
        ),
    )
    no_exceptions(at)
    assert not at.error, texts(at.error)
    assert at.session_state[session_keys.AUDIO_SOURCE] == str(root.resolve())
    images = Path(at.session_state[session_keys.DATASET])
    assert images.is_relative_to(store.home / "cache") and (images / "low" / "0.png").is_file()
    titles = [s["layout"]["title"]["text"] for s in plotly_specs(at)]
    assert {"low: waveform", "low: spectrogram", "high: waveform", "high: spectrogram"} <= set(
        titles
    )
    assert len(at.get("audio")) == 2
    assert chart_titled(at, "Images per class")["data"][0]["y"] == [3, 3]


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
    ids = (
        first.session_state[session_keys.SESSION_ID],
        second.session_state[session_keys.SESSION_ID],
    )
    assert ids[0] != ids[1]
    mine = Path(first.session_state[session_keys.DATASET])
    assert mine.is_relative_to(store.home / "sessions" / ids[0])
    assert session_keys.DATASET not in second.session_state  # no dataset leaked across sessions
    assert not (store.home / "sessions" / ids[0] / "classes" / "theirs").exists()
    assert (store.home / "sessions" / ids[1] / "classes" / "theirs").is_dir()
    assert "theirs" not in " ".join(e.label for e in first.expander)


def test_a_replaced_run_database_is_announced_once_with_where_the_old_file_went(studio):
    studio.mkdir(parents=True, exist_ok=True)
    (studio / "runs.sqlite3").write_bytes(b"not a database at all" * 100)
    at = page("1_data.py").run()
    no_exceptions(at)
    (aside,) = studio.glob("runs.sqlite3.corrupt-*[0-9]")
    shown = texts(at.warning)
    assert "could not be read" in shown and messages.md(str(aside)) in shown
    at.run()
    assert "could not be read" not in texts(at.warning)  # once


def _hostile_dataset(root: Path) -> Path:
    for k, name in enumerate(HOSTILE_NAMES):
        (root / name).mkdir(parents=True)
        for i in range(4):
            (root / name / f"{i}.png").write_bytes(_png((60 * k, 10 * i, 0)))
    return root


def test_class_names_that_look_like_markup_are_shown_escaped(store, tmp_path):
    folder = _hostile_dataset(tmp_path / "hostile")
    at = page("1_data.py", data_source="Folder on the server").run()
    at.text_input(key="data_folder_path").input(str(folder)).run()
    at.button(key="data_use_folder").click().run()
    no_exceptions(at)
    assert at.session_state[session_keys.DATASET] == str(folder.resolve())
    assert_shown_escaped(at, *HOSTILE_NAMES)


def test_a_zip_member_name_that_looks_like_markup_is_shown_escaped(store):
    at = page("1_data.py", data_source="Upload a zip").run()
    evil = _zip({f"{name}/a.png": _png() for name in HOSTILE_NAMES})
    at.file_uploader(key="data_zip").upload("evil.zip", evil, "application/zip").run()
    no_exceptions(at)
    assert "cannot be used" in texts(at.error)
    assert_shown_escaped(at, HOSTILE_NAMES[1])  # refused for its ':', and named


def _use_folder(folder: Path) -> AppTest:
    at = page("1_data.py", data_source="Folder on the server").run()
    at.text_input(key="data_folder_path").input(str(folder)).run()
    at.button(key="data_use_folder").click().run()
    no_exceptions(at)
    return at


def test_case_duplicate_classes_are_merged_after_a_second_click(store, tmp_path):
    root = tmp_path / "pets"
    for name, count in (("Cat", 3), ("cat", 2), ("dog", 4)):
        (root / name).mkdir(parents=True)
        for i in range(count):
            (root / name / f"{i}.png").write_bytes(_png((40 * i, 90, 0)))
    at = _use_folder(root)
    assert "differ only by" in texts(at.warning)
    merge = at.button(key="data_merge_case")
    assert merge.label == "Merge Cat and cat"
    merge.click().run()
    no_exceptions(at)
    assert (root / "cat").is_dir()  # one click moves nothing
    assert "no file is overwritten" in texts(at.warning)
    at.button(key="data_merge_case_yes").click().run()
    no_exceptions(at)
    assert not (root / "cat").exists() and len(list((root / "Cat").iterdir())) == 5
    assert "Merged cat into Cat" in texts(at.success)
    assert not [b for b in at.button if b.key == "data_merge_case"]


def test_skipped_files_are_one_folded_table_not_one_alert_each(store, tmp_path):
    root = tmp_path / "shapes"
    for name in ("round", "square"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            (root / name / f"{i}.png").write_bytes(_png((80 * i, 0, 0)))
        for i in range(30):
            (root / name / f"v{i}.svg").write_text("<svg/>")
    at = _use_folder(root)
    assert len(at.warning) <= 3, texts(at.warning)
    (table,) = [e.dataframe[0] for e in at.expander if "left out" in e.label]
    assert len(table.value) == 60 and set(table.value["file"]).issuperset({"round/v0.svg"})


# -- fixing the data: edits kept in the studio, never in the person's files -----------------------
def _colour_dataset(root: Path) -> Path:
    from synthetic import write_colour_dataset

    return write_colour_dataset(root, ("red", "blue"), per_class=6, size=32)


def _wrong(data: Path, rel: str, true: str, predicted: str) -> dict:
    return {
        "file": str(data / rel),
        "true": true,
        "predicted": predicted,
        "confidence": 0.93,
        "true_probability": 0.07,
    }


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.png")}


def _data_page(data: Path) -> AppTest:
    at = page("1_data.py", **{session_keys.DATASET: str(data)}).run()
    no_exceptions(at)
    return at


def test_data_a_most_wrong_picture_is_moved_then_undone_and_the_files_never_change(store, tmp_path):
    data = _colour_dataset(tmp_path / "data")
    before = _files(data)
    finished_run(store, data, most_wrong=[_wrong(data, "red/red_00.png", "red", "blue")])
    at = _data_page(data)
    assert "red taken for blue" in texts(at.caption)
    assert at.selectbox(key="data_fix_class_wrong_0").value == "blue"  # the model's guess
    at.button(key="data_fix_move_wrong_0").click().run()
    no_exceptions(at)
    assert messages.md("red/red_00.png: red -> blue") in texts(at.success)
    assert messages.md("red/red_00.png: red -> blue") in texts(at.markdown)  # the list
    edits = datafix.edits(store.home, data)
    assert [(e.kind, e.rel, e.to_label) for e in edits] == [("relabel", "red/red_00.png", "blue")]
    assert chart_titled(at, "Images per class")["data"][0]["y"] == [7, 5]  # blue, red
    assert "1 edit(s)" in texts(at.markdown)
    at.button(key=f"data_undo_{edits[0].id}").click().run()
    no_exceptions(at)
    assert datafix.edits(store.home, data) == ()
    assert chart_titled(at, "Images per class")["data"][0]["y"] == [6, 6]
    assert _files(data) == before


def test_data_exclude_then_undo_all(store, tmp_path):
    data = _colour_dataset(tmp_path / "data")
    finished_run(
        store,
        data,
        most_wrong=[
            _wrong(data, "red/red_01.png", "red", "blue"),
            _wrong(data, "blue/blue_02.png", "blue", "red"),
        ],
    )
    at = _data_page(data)
    at.button(key="data_fix_exclude_wrong_0").click().run()
    at.button(key="data_fix_exclude_wrong_1").click().run()
    no_exceptions(at)
    assert {m.label: m.value for m in at.metric}["Pictures"] == "10"
    assert len(datafix.edits(store.home, data)) == 2
    at.button(key="data_undo_all").click().run()
    no_exceptions(at)
    assert {m.label: m.value for m in at.metric}["Pictures"] == "12"
    assert datafix.edits(store.home, data) == ()


def _map_run(store, data: Path, pairs: list) -> None:
    found = datasets.scan(data)
    points = [[i.rel, i.label, float(k), float(k % 3)] for k, i in enumerate(found.items)]
    run = queued_run(store, data, task="map")
    store.finish(
        run.id,
        store_mod.DONE,
        result={
            "map_method": "PCA",
            "method_note": "PCA (a test)",
            "points": points,
            "pairs": pairs,
            "pair_floor": 0.9,
            "images": found.fingerprint(),
        },
    )


def test_data_the_map_and_a_leaking_near_duplicate_pair_can_be_fixed(store, tmp_path):
    data = _colour_dataset(tmp_path / "data")
    run = finished_run(store, data, most_wrong=[_wrong(data, "red/red_00.png", "red", "blue")])
    manifest = {"classes": ["blue", "red"], "seed": 0, "val_fraction": 0.2, "files": {}}
    manifest["files"] = {"red/red_03.png": "train", "red/red_04.png": "validation"}
    (store.run_dir(run.id) / "manifest.json").write_text(json.dumps(manifest))
    _map_run(store, data, [["red/red_03.png", "red/red_04.png", 0.995]])
    at = _data_page(data)
    spec = chart_titled(at, "Map of the data (PCA)")
    assert [t["name"] for t in spec["data"]] == ["blue", "red", "misclassified"]
    assert spec["data"][2]["customdata"] == ["red/red_00.png"]
    assert "1 straddle training" in texts(at.warning)
    assert "leakage" in texts(at.markdown)
    at.button(key="data_fix_exclude_dup_0b").click().run()
    no_exceptions(at)
    assert [e.rel for e in datafix.edits(store.home, data)] == ["red/red_04.png"]
    assert "No pair of pictures is that alike." in texts(at.success)  # the pair is gone


def test_data_a_map_can_be_asked_for_and_the_threshold_filters_pairs(store, tmp_path):
    data = _colour_dataset(tmp_path / "data")
    at = _data_page(data)
    at.button(key="data_draw_map").click().run()
    no_exceptions(at)
    queued = store.list()
    assert [r.config.task for r in queued] == ["map"]
    store.finish(queued[0].id, store_mod.STOPPED)
    _map_run(store, data, [["red/red_01.png", "red/red_02.png", 0.95]])
    at = _data_page(data)
    assert "No pair of pictures is that alike." in texts(at.success)  # below the default, 0.99
    at.slider(key="data_dup_threshold").set_value(0.94).run()
    assert "1 pair(s) at or above 0.940" in texts(at.info)


def test_data_the_map_draws_the_next_split_with_both_runconfig_fractions(
    store, tmp_path, monkeypatch
):
    from core.runs.config import RunConfig
    from core.train import datamap

    data = _colour_dataset(tmp_path / "data")
    _map_run(store, data, [["red/red_01.png", "red/red_02.png", 0.995]])
    asked = []

    def split_sides(store, run, found, val_fraction, test_fraction, seed):
        asked.append((run, val_fraction, test_fraction))
        return {}

    monkeypatch.setattr(datamap, "split_sides", split_sides)
    _data_page(data)
    shares = RunConfig.default("val_fraction"), RunConfig.default("test_fraction")
    assert asked and all(got == (None, *shares) for got in asked)


def test_a_long_first_scan_runs_in_the_background_with_its_progress(store, tmp_path, monkeypatch):
    """The page is not held by reading a big folder: it shows files done / total while a
    background thread reads them, then the dataset once they are read."""
    folder = write_colour_dataset(tmp_path / "slow", per_class=3)
    gate = threading.Event()
    real = datasets._read_file

    def held(media, path):
        gate.wait(30)  # the files are "slow" until the test lets them go
        return real(media, path)

    monkeypatch.setattr(datasets, "_read_file", held)
    monkeypatch.setattr(scanning, "QUICK_SECONDS", 0.1)
    at = page("1_data.py", **{session_keys.DATASET: str(folder.resolve())}).run()
    no_exceptions(at)
    assert "Reading the dataset" in texts(at.info) and not at.metric
    gate.set()
    for _ in range(50):
        at.run()
        if at.metric:
            break
        time.sleep(0.1)
    no_exceptions(at)
    assert {m.label: m.value for m in at.metric}["Pictures"] == "6"


def test_showing_a_dataset_walks_its_folder_once_per_rerun(store, tmp_path, monkeypatch):
    """The folder's signature (a walk of every subfolder) keys both the background first scan
    and the cached scan: a rerun of a large dataset computed it twice."""
    from core.data import session

    data = write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=4, size=32)
    walked = []
    real = session.folder_signature
    monkeypatch.setattr(session, "folder_signature", lambda root: walked.append(root) or real(root))
    at = page("1_data.py", **{session_keys.DATASET: str(data)}).run()
    no_exceptions(at)
    assert {m.label: m.value for m in at.metric}["Pictures"] == "8"
    assert len(walked) == 1
