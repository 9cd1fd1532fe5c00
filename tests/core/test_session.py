"""core.data.session: per-browser-session folders, safe names, and uploaded zips extracted into
the session (a refused one leaves nothing)."""

from __future__ import annotations

import io
import os
import time
import zipfile

import pytest
from PIL import Image

from core.data import archive, session
from core.jobs import worker
from core.platform import settings
from core.runs.config import RunConfig
from core.runs.store import Store


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


def zipped(entries: dict[str, bytes]) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as handle:
        for name, data in entries.items():
            handle.writestr(name, data)
    out.seek(0)
    return out


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(out, format="PNG")
    return out.getvalue()


def test_extract_upload_twice_gives_two_folders_in_the_session(tmp_path):
    upload, sid = {"cats/a.png": png(), "dogs/b.png": png()}, session.new_session_id()
    first, result = session.extract_upload(tmp_path, sid, zipped(upload), "pets")
    second, _ = session.extract_upload(tmp_path, sid, zipped(upload), "pets")
    uploads = session.uploads_dir(tmp_path, sid)
    assert first.parent == second.parent == uploads and first != second
    assert len(result.files) == 2 and (first / "cats" / "a.png").is_file()


def test_a_refused_upload_leaves_nothing(tmp_path):
    sid = session.new_session_id()
    with pytest.raises(archive.ArchiveError):
        session.extract_upload(tmp_path, sid, zipped({"../evil.png": png()}), "evil")
    uploads = session.uploads_dir(tmp_path, sid)
    assert not [p for p in uploads.rglob("*") if p.is_file()]


# -- housekeeping: unused uploads, quota --------------------------------------------------------
DAY = 24 * 3600


def _session_with_file(home, size=1000, age=0.0):
    folder = session.uploads_dir(home, session.new_session_id()) / "dataset" / "cat"
    folder.mkdir(parents=True)
    (folder / "a.png").write_bytes(b"x" * size)
    stamp = time.time() - age
    for dirpath, _, files in os.walk(session.session_dir(home, folder.parts[-4])):
        for path in [dirpath, *(os.path.join(dirpath, f) for f in files)]:
            os.utime(path, (stamp, stamp))
    return folder.parent


def test_unused_old_upload_folders_are_removed_used_and_recent_ones_kept(tmp_path):
    store = Store(tmp_path / "home")
    used = _session_with_file(store.home, age=3 * DAY)
    unused = _session_with_file(store.home, age=3 * DAY)
    recent = _session_with_file(store.home, age=60)
    (store.home / session.SESSIONS_DIR / "not-a-session").mkdir()
    worker.submit(store, RunConfig(dataset=str(used), weights="none"), start=False)
    removed = session.remove_unused_uploads(store)
    assert removed == [unused.parents[1]]
    assert used.exists() and recent.exists() and not unused.exists()
    assert (store.home / session.SESSIONS_DIR / "not-a-session").exists()


def test_worker_start_removes_unused_uploads(tmp_path):
    home = tmp_path / "home"
    unused = _session_with_file(home, age=3 * DAY)
    assert worker.serve(home, once=True) == 0
    assert not unused.exists()


def test_upload_quota_refuses_new_uploads_when_full(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv(settings.UPLOAD_QUOTA_ENV, "0.000003")  # 3,000 bytes
    session.check_upload_room(home, 2000)  # empty: fits
    _session_with_file(home, size=2500)
    assert session.uploads_bytes(home) == 2500
    with pytest.raises(session.SessionError, match="uploads are full.*STUDIO_UPLOAD_QUOTA_GB"):
        session.check_upload_room(home, 1000)
    sid = session.new_session_id()  # the Data page's zip upload is refused as an ArchiveError
    with pytest.raises(archive.ArchiveError, match="uploads are full"):
        session.extract_upload(home, sid, zipped({"cats/a.png": png() * 40}), "pets")
    assert not session.uploads_dir(home, sid).exists()
    monkeypatch.setenv(settings.UPLOAD_QUOTA_ENV, "lots")
    with pytest.raises(settings.SettingError, match="not a number of gigabytes"):  # a Refusal
        settings.upload_quota_bytes()
    monkeypatch.delenv(settings.UPLOAD_QUOTA_ENV)
    assert settings.upload_quota_bytes() == settings.DEFAULT_UPLOAD_QUOTA_GB * 1e9
