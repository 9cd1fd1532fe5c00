"""Recording into a class (core.data.capture): webcam frames and microphone clips, checked like
uploads, never overwriting a file."""

import base64
import io
import os

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from core.data import capture
from core.platform import settings


def jpeg(colour=(200, 30, 30), size=32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="JPEG")
    return out.getvalue()


def wav(seconds=0.2, sr=16_000) -> bytes:
    out = io.BytesIO()
    t = np.arange(int(seconds * sr)) / sr
    sf.write(out, 0.3 * np.sin(2 * np.pi * 440 * t), sr, format="WAV", subtype="PCM_16")
    return out.getvalue()


def test_frames_become_files_and_a_bad_frame_is_left_out_with_its_reason(tmp_path):
    home, folder = tmp_path / "home", tmp_path / "home" / "samples" / "d" / "cat"
    frames = [(jpeg(), ".jpg"), (b"not a picture", ".jpg"), (jpeg((0, 0, 255)), ".jpg")]
    saved = capture.save_frames(folder, frames, home)
    assert len(saved.saved) == 2 and all(p.parent == folder for p in saved.saved)
    assert [n for n, _ in saved.rejected] == [2]
    assert "not a picture that can be read" in saved.rejected[0][1]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in saved.saved)
    for path in saved.saved:
        assert Image.open(path).size == (32, 32)
    assert "Saved 2 picture(s) into cat; 1 frame(s) left out: frame 2" in saved.describe()


def test_saving_never_overwrites_an_existing_file(tmp_path, monkeypatch):
    folder = tmp_path / "cls"
    monkeypatch.setattr(capture.time, "strftime", lambda fmt: "20260101-000000")
    first = capture.save_frames(folder, [(jpeg(), ".jpg")], tmp_path)
    original = first.saved[0].read_bytes()
    second = capture.save_frames(folder, [(jpeg((0, 255, 0)), ".jpg")], tmp_path)
    assert first.saved[0].name == "webcam-20260101-000000-001.jpg"
    assert second.saved[0].name == "webcam-20260101-000000-001-2.jpg"
    assert first.saved[0].read_bytes() == original
    assert not [p for p in folder.iterdir() if p.name.startswith(".capture-")]  # no temp left


def test_the_uploads_quota_refuses_a_burst_and_nothing_is_saved(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.UPLOAD_QUOTA_ENV, "0.000001")  # 1 kB
    folder = tmp_path / "cls"
    with pytest.raises(capture.CaptureError, match="uploads are full"):
        capture.save_frames(folder, [(jpeg(size=64), ".jpg")] * 3, tmp_path)
    assert not folder.exists() or not list(folder.iterdir())


def test_data_urls_from_the_browser_are_decoded_or_refused():
    data = jpeg()
    url = "data:image/jpeg;base64," + base64.b64encode(data).decode()
    assert capture.frame_from_data_url(url) == (data, ".jpg")
    for bad, why in (
        ("hello", "no base64 data URL"),
        ("data:text/html;base64,PGI+", "unsupported picture type"),
        ("data:image/png;base64,@@@", "damaged"),
    ):
        with pytest.raises(capture.CaptureError, match=why):
            capture.frame_from_data_url(bad)


def test_a_clip_is_saved_as_wav_and_a_broken_one_is_refused(tmp_path):
    folder = tmp_path / "yes"
    path = capture.save_clip(folder, wav(), tmp_path)
    assert path.suffix == ".wav" and sf.info(str(path)).frames == 3200
    with pytest.raises(capture.CaptureError, match="not a sound clip"):
        capture.save_clip(folder, os.urandom(300), tmp_path)
    assert [p.name for p in folder.iterdir()] == [path.name]


def test_where_recordings_go(tmp_path):
    home = tmp_path / "home"
    sample = home / "samples" / "digits"
    (sample / "zero").mkdir(parents=True)
    assert capture.record_target(sample, home) == capture.RecordTarget(sample.resolve())
    split = tmp_path / "mine"
    for part in ("train", "validation"):
        (split / part / "a").mkdir(parents=True)
    target = capture.record_target(split, home)
    assert target.folder == (split / "train").resolve() and "your own folder" in target.note
    assert target.class_dir("a") == (split / "train" / "a").resolve()
    converted = home / "cache" / "spectrograms" / "abc"
    converted.mkdir(parents=True)
    with pytest.raises(capture.CaptureError, match="sound folder"):
        capture.record_target(converted, home)


def test_recordings_in_a_train_and_test_layout_go_into_train_where_the_scan_reads(tmp_path):
    split = tmp_path / "mine"
    for part in ("train", "test"):
        for name in ("a", "b"):
            (split / part / name).mkdir(parents=True)
    target = capture.record_target(split, tmp_path / "home")
    assert target.class_dir("a") == (split / "train" / "a").resolve()


def test_a_folder_of_ones_own_the_studio_may_not_write_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    (folder / "a").mkdir(parents=True)
    monkeypatch.setattr(capture.os, "access", lambda path, mode: False)  # as for a non-root user
    with pytest.raises(capture.CaptureError, match="may not write"):
        capture.record_target(folder, tmp_path / "home")


def test_a_burst_of_data_urls_keeps_the_frame_numbers_of_what_was_left_out(tmp_path):
    good = "data:image/jpeg;base64," + base64.b64encode(jpeg()).decode()
    broken = "data:image/jpeg;base64," + base64.b64encode(b"nope").decode()
    saved = capture.save_data_urls(tmp_path / "cls", [good, "junk", good, broken], tmp_path)
    assert len(saved.saved) == 2
    assert [n for n, _ in saved.rejected] == [2, 4]
    assert "no base64 data URL" in saved.rejected[0][1]
    assert "not a picture that can be read" in saved.rejected[1][1]


def test_recordings_join_the_class_folder_of_that_exact_name(tmp_path):
    home = tmp_path / "home"
    root = home / "samples" / "odd"
    (root / "cats & dogs").mkdir(parents=True)
    target = capture.record_target(root, home)
    assert target.class_dir("cats & dogs") == root.resolve() / "cats & dogs"
    assert target.class_dir("../escape").parent == root.resolve()  # never outside
    assert target.class_dir("new one") == root.resolve() / "new one"
