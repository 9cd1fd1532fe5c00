"""core.session: per-browser-session folders, safe names, and uploaded zips extracted into
the session (a refused one leaves nothing)."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from PIL import Image

from core import archive, session


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
