"""Per-session folders of the app: uploads and classes built in the browser.

Each browser session gets an id (32 hex digits) and a folder `home/sessions/<id>/` with
`uploads/` (extracted zips) and `classes/` (classes built in the browser, one subfolder per
class). Names typed or uploaded by a user become folder and file names only through
`safe_name`, so nothing can point outside these folders. Pure functions: no Streamlit here.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import unicodedata
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from core.data import archive
from core.data.imaging import IMAGE_EXTENSIONS, UnreadableImage, image_info
from core.platform import settings
from core.platform.fileio import tree_bytes_and_newest
from core.platform.refusal import Refusal

SESSIONS_DIR = "sessions"
UPLOADS_DIR = "uploads"
CLASSES_DIR = "classes"
MAX_NAME_LENGTH = 64
UNUSED_SECONDS = 24 * 3600  # a session folder untouched this long, used by no run, is removed
_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
_UNSAFE = re.compile(r"[^\w\- ]+")  # \w is Unicode-aware: letters and digits of any script
_SPACES = re.compile(r"[\s_]+")


class SessionError(Refusal, ValueError):
    """A name or file that cannot be used; the message says why, for the user."""


class UploadsFull(SessionError, archive.ArchiveTooLarge):
    """The home's upload quota is used up (an ArchiveError too: a zip upload is refused)."""


def new_session_id() -> str:
    return uuid.uuid4().hex


def is_session_id(text: object) -> bool:
    """Whether `text` has the form new_session_id makes (say, read back from a cookie)."""
    return isinstance(text, str) and bool(_SESSION_ID.match(text))


def session_dir(home: str | os.PathLike[str], session_id: str) -> Path:
    """home/sessions/<id> (not created). The id must be one new_session_id made."""
    if not is_session_id(session_id):
        raise SessionError("invalid session id")
    return Path(home) / SESSIONS_DIR / session_id


def uploads_dir(home: str | os.PathLike[str], session_id: str) -> Path:
    return session_dir(home, session_id) / UPLOADS_DIR


def classes_dir(home: str | os.PathLike[str], session_id: str) -> Path:
    return session_dir(home, session_id) / CLASSES_DIR


def safe_name(name: str, fallback: str = "") -> str:
    """A folder/file name made from user text: letters, digits, '-', '_' and single spaces,
    no leading dot, at most MAX_NAME_LENGTH characters. Raises SessionError when nothing usable
    is left and no fallback is given."""
    text = unicodedata.normalize("NFKC", str(name or ""))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")  # control chars
    text = _UNSAFE.sub("_", text)
    text = _SPACES.sub(lambda m: "_" if "_" in m.group() else " ", text)
    text = text.strip(" _-.")[:MAX_NAME_LENGTH].strip(" _-.")
    if not text:
        if fallback:
            return fallback
        raise SessionError("the name needs at least one letter or digit")
    return text


def unique_child(parent: Path, name: str) -> Path:
    """parent/name, or parent/name-2, name-3 ... when taken. Nothing is created."""
    base = safe_name(name, fallback="dataset")
    candidate, n = parent / base, 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = parent / f"{base}-{n}"
    return candidate


def extract_upload(
    home: str | os.PathLike[str], session_id: str, upload: BinaryIO, stem: str
) -> tuple[Path, archive.ExtractResult]:
    """An uploaded zip extracted safely (core.data.archive) into a new folder of this session's
    uploads, named after stem; raises archive.ArchiveError and then leaves nothing behind."""
    check_upload_room(home, _stream_size(upload))
    target = unique_child(uploads_dir(home, session_id), stem)
    return target, archive.extract_zip(upload, target)


def _stream_size(upload: BinaryIO) -> int:
    try:
        here = upload.tell()
        size = upload.seek(0, os.SEEK_END)
        upload.seek(here)
        return max(size - here, 0)
    except (AttributeError, OSError, ValueError):
        return 0  # not seekable: the quota is checked again by the next upload


def add_class(project: Path, name: str) -> Path:
    """Create project/<safe name> (existing classes are kept as they are)."""
    folder = project / safe_name(name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def class_counts(project: Path) -> dict[str, int]:
    """Images in each class folder of a project (empty dict when there is none yet)."""
    if not project.is_dir():
        return {}
    return {
        d.name: sum(1 for f in d.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
        for d in sorted(project.iterdir(), key=lambda p: p.name)
        if d.is_dir() and not d.name.startswith(".")
    }


def save_image(class_dir: Path, filename: str, data: bytes) -> Path:
    """Write uploaded image bytes into a class folder under a safe, unused name, after
    checking they decode as an image. Raises SessionError (nothing left behind) otherwise."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        raise SessionError(
            f"'{filename}' is not an image file (accepted: {', '.join(sorted(IMAGE_EXTENSIONS))})"
        )
    class_dir.mkdir(parents=True, exist_ok=True)
    stem = safe_name(Path(filename).stem, fallback="image")
    fd, tmp = tempfile.mkstemp(dir=class_dir, prefix=".upload-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        image_info(tmp)
        target = class_dir / f"{stem}{suffix}"
        n = 1
        while target.exists():
            n += 1
            target = class_dir / f"{stem}-{n}{suffix}"
        os.replace(tmp, target)
        return target
    except UnreadableImage as exc:
        raise SessionError(f"'{filename}' cannot be read as an image: {exc}") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)


def folder_signature(root: str | os.PathLike[str]) -> tuple[str, int, int]:
    """(resolved path, newest mtime in ns of the folder and its subfolders, folder count): a
    cache key that changes when files are added, removed or renamed anywhere below root."""
    root = Path(root).expanduser().resolve()
    newest, count = 0, 0
    for dirpath, dirnames, _ in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        try:
            newest = max(newest, os.stat(dirpath).st_mtime_ns)
        except OSError:
            continue
        count += 1
    return str(root), newest, count


def uploads_bytes(home: str | os.PathLike[str]) -> int:
    """What all browser sessions of this home hold on disk (uploads and built classes)."""
    folder = Path(home) / SESSIONS_DIR
    return tree_bytes_and_newest(folder)[0] if folder.is_dir() else 0


def check_upload_room(home: str | os.PathLike[str], incoming_bytes: int) -> None:
    """Raise SessionError when an upload of `incoming_bytes` would go over the home's upload
    quota (settings.upload_quota_bytes); the message says how full it is and what to do."""
    quota = settings.upload_quota_bytes()
    used = uploads_bytes(home)
    if used + max(incoming_bytes, 0) > quota:
        raise UploadsFull(
            f"uploads are full: this studio holds {used / 1e9:.2f} GB of uploads and this file "
            f"needs {incoming_bytes / 1e9:.2f} GB more, over the {quota / 1e9:.2f} GB limit. "
            f"Uploads unused for a day are removed automatically; to allow more, set "
            f"{settings.UPLOAD_QUOTA_ENV} (in GB) and restart the studio."
        )


def remove_unused_sessions(
    home: str | os.PathLike[str],
    used_datasets: Iterable[str | None],
    now: float | None = None,
    max_age: float = UNUSED_SECONDS,
) -> list[Path]:
    """Delete session folders nothing changed for `max_age` seconds whose files no run uses
    (no run's dataset or validation folder lies inside); returns the removed folders."""
    root = Path(home) / SESSIONS_DIR
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    used = [Path(p).expanduser().resolve() for p in used_datasets if p]
    removed = []
    for folder in sorted(root.iterdir()):
        if not is_session_id(folder.name) or folder.is_symlink() or not folder.is_dir():
            continue
        real = folder.resolve()
        if any(path == real or real in path.parents for path in used):
            continue
        if now - tree_bytes_and_newest(folder)[1] < max_age:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def remove_unused_uploads(store: Any) -> list[Path]:  # a core.runs Store (a higher layer)
    """remove_unused_sessions for a run store's home, keeping every folder any run uses."""
    runs = store.list(limit=1_000_000_000)
    return remove_unused_sessions(
        store.home, [p for run in runs for p in (run.dataset, run.config.val_dir)]
    )
