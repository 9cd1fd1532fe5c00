"""Growing a dataset from the browser: webcam frames and microphone clips saved into one class
folder, through the same checks as uploads (the bytes must decode, the home's upload quota
holds, a file is never overwritten). Pure functions: the Data page only calls them.

Where recordings may go (`record_target`): datasets inside the studio home (built-in and online
samples, zips and classes of browser sessions), and a person's own folder on the server only
when the studio may write there, with a note saying so.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.data import audio, datasets, session
from core.data.imaging import IMAGE_EXTENSIONS, UnreadableImage, image_info
from core.platform.refusal import Refusal

MAX_FRAME_BYTES = 8_000_000  # one webcam frame (a 4K JPEG is about 2 MB)
MAX_FRAMES = 300  # one burst
MAX_CLIP_BYTES = 60_000_000  # one microphone clip (10 minutes of 16-bit mono 48 kHz WAV)
FRAME_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
AUDIO_SUFFIX = ".wav"  # what st.audio_input records


class CaptureError(Refusal, ValueError):
    """A recording that cannot be saved; the message says why, for the person."""


@dataclass(frozen=True)
class RecordTarget:
    """Where a dataset's class folders are that recordings go into, and a note to show (None
    for the studio's own folders)."""

    folder: Path  # holds one subfolder per class (a split dataset: its train/ folder)
    note: str | None = None

    def class_dir(self, class_name: str) -> Path:
        """The class's folder: an existing class folder of that exact name (whatever its
        characters: a scan found it), else a new one under a safe name (made by the first
        saved recording)."""
        existing = self.folder / class_name
        plain = class_name not in ("", ".", "..") and Path(class_name).name == class_name
        if plain and existing.is_dir() and not existing.is_symlink():
            return existing
        return self.folder / session.safe_name(class_name)


@dataclass(frozen=True)
class Saved:
    """What a burst left: the files written, and the frames refused with the reason."""

    saved: tuple[Path, ...]
    rejected: tuple[tuple[int, str], ...] = ()  # (frame number from 1, reason)

    def describe(self) -> str:
        text = f"Saved {len(self.saved)} picture(s)"
        if self.saved:
            text += f" into {self.saved[0].parent.name}"
        if self.rejected:
            shown = "; ".join(f"frame {n}: {why}" for n, why in self.rejected[:3])
            more = f" (and {len(self.rejected) - 3} more)" if len(self.rejected) > 3 else ""
            text += f"; {len(self.rejected)} frame(s) left out: {shown}{more}"
        return text + "."


def record_target(dataset: str | os.PathLike[str], home: str | os.PathLike[str]) -> RecordTarget:
    """Where recordings for this dataset go; raises CaptureError when they cannot go there (a
    folder the studio may not write to)."""
    root = Path(dataset).expanduser().resolve()
    if not root.is_dir():
        raise CaptureError(f"the dataset folder {root} is not there any more")
    folder = _training_folder(root)
    cache = (Path(home).resolve() / "cache").resolve()
    if folder == cache or cache in folder.parents:
        raise CaptureError("this is the studio's own converted copy: record into the sound folder")
    if Path(home).resolve() in folder.parents:
        return RecordTarget(folder)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CaptureError(
            f"the studio may not write into {folder}: copy the dataset somewhere writable, "
            "or record into classes built here (Data page, 'Build classes here')"
        )
    return RecordTarget(
        folder, f"Recordings are written into your own folder {folder}, next to your files."
    )


def _training_folder(root: Path) -> Path:
    """The folder of class folders new examples join: train/ of a train + validation and/or
    test layout (new pictures are training pictures; the scan reads no class folders beside
    train/ there), else the dataset folder itself."""
    held_out = (*datasets.VALIDATION_DIR_NAMES, *datasets.TEST_DIR_NAMES)
    if (root / "train").is_dir() and any((root / n).is_dir() for n in held_out):
        return root / "train"
    return root


def frame_from_data_url(url: str) -> tuple[bytes, str]:
    """(bytes, file suffix) of a `data:image/...;base64,...` URL a browser canvas made; raises
    CaptureError for anything else."""
    head, sep, payload = str(url or "").partition(",")
    kind = head.removeprefix("data:").removesuffix(";base64")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise CaptureError("not a picture from the webcam (no base64 data URL)")
    if kind not in FRAME_TYPES:
        raise CaptureError(f"unsupported picture type {kind or 'none'!r}")
    if len(payload) > MAX_FRAME_BYTES * 4 // 3 + 4:
        raise CaptureError(f"larger than {MAX_FRAME_BYTES // 1_000_000} MB")
    try:
        return base64.b64decode(payload, validate=True), FRAME_TYPES[kind]
    except (binascii.Error, ValueError) as exc:
        raise CaptureError(f"the picture data is damaged ({exc})") from exc


def save_data_urls(
    class_dir: Path, urls: Sequence[str], home: str | os.PathLike[str], stem: str = "webcam"
) -> Saved:
    """save_frames for a burst as the browser sends it (data URLs); a URL that is not a picture
    is left out with its reason, numbered like the others."""
    if len(urls) > MAX_FRAMES:
        raise CaptureError(f"a burst holds at most {MAX_FRAMES} frames, this one {len(urls)}")
    frames: list[tuple[bytes, str]] = []
    numbers: list[int] = []
    refused: list[tuple[int, str]] = []
    for n, url in enumerate(urls, start=1):
        try:
            frames.append(frame_from_data_url(url))
            numbers.append(n)
        except CaptureError as exc:
            refused.append((n, str(exc)))
    done = save_frames(class_dir, frames, home, stem)
    rejected = refused + [(numbers[k - 1], why) for k, why in done.rejected]
    return Saved(done.saved, tuple(sorted(rejected)))


def save_frames(
    class_dir: Path,
    frames: Sequence[tuple[bytes, str]],
    home: str | os.PathLike[str],
    stem: str = "webcam",
) -> Saved:
    """Save a burst of (bytes, suffix) frames into class_dir as stem-<time>-<n><suffix>. A frame
    that does not decode as a picture, has another suffix or is too large is left out with the
    reason; the others are saved. Raises CaptureError (nothing saved) when the burst is too long
    or the uploads quota would be exceeded."""
    if len(frames) > MAX_FRAMES:
        raise CaptureError(f"a burst holds at most {MAX_FRAMES} frames, this one {len(frames)}")
    _check_room(home, sum(len(data) for data, _ in frames))
    prefix = f"{session.safe_name(stem, 'webcam')}-{time.strftime('%Y%m%d-%H%M%S')}"
    saved, rejected = [], []
    for n, (data, suffix) in enumerate(frames, start=1):
        try:
            name = f"{prefix}-{n:03d}"
            saved.append(_save_checked(class_dir, name, suffix, data, _is_picture, MAX_FRAME_BYTES))
        except CaptureError as exc:
            rejected.append((n, str(exc)))
    return Saved(tuple(saved), tuple(rejected))


def save_clip(
    class_dir: Path, data: bytes, home: str | os.PathLike[str], stem: str = "microphone"
) -> Path:
    """Save one recorded clip (WAV bytes) into class_dir as stem-<time>.wav after checking it
    decodes as sound with samples in it; raises CaptureError (nothing saved) otherwise."""
    _check_room(home, len(data))
    name = f"{session.safe_name(stem, 'microphone')}-{time.strftime('%Y%m%d-%H%M%S')}"
    return _save_checked(class_dir, name, AUDIO_SUFFIX, data, _is_sound, MAX_CLIP_BYTES)


def _check_room(home: str | os.PathLike[str], incoming: int) -> None:
    try:
        session.check_upload_room(home, incoming)
    except session.SessionError as exc:
        raise CaptureError(str(exc)) from exc


def _is_picture(path: Path) -> None:
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise CaptureError(f"'{path.suffix}' is not a picture type the studio reads")
    try:
        image_info(path)
    except UnreadableImage as exc:
        raise CaptureError(f"not a picture that can be read ({exc})") from exc


def _is_sound(path: Path) -> None:
    try:
        audio.clip_shape(path)
    except audio.UnreadableAudio as exc:
        raise CaptureError(f"not a sound clip that can be read ({exc})") from exc


def _save_checked(
    class_dir: Path,
    stem: str,
    suffix: str,
    data: bytes,
    check: Callable[[Path], None],
    max_bytes: int,
) -> Path:
    """Write data to a hidden temporary file in class_dir, check it, then give it the first
    free name stem<suffix>, stem-2<suffix>, ...: a hard link fails instead of replacing an
    existing file, so nothing is ever overwritten, even by two sessions at once."""
    if len(data) == 0:
        raise CaptureError("empty (0 bytes)")
    if len(data) > max_bytes:
        raise CaptureError(f"larger than {max_bytes / 1e6:.0f} MB")
    class_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=class_dir, prefix=".capture-", suffix=suffix.lower())
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        check(tmp)
        return _free_name(tmp, data, class_dir, stem, suffix.lower())
    finally:
        tmp.unlink(missing_ok=True)


def _free_name(tmp: Path, data: bytes, class_dir: Path, stem: str, suffix: str) -> Path:
    for n in range(1, 10_000):
        target = class_dir / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        try:
            _place(tmp, data, target)
            return target
        except FileExistsError:
            continue
    raise CaptureError(f"no free file name for {stem}{suffix} in {class_dir.name}")


def _place(tmp: Path, data: bytes, target: Path) -> None:
    """tmp's content at target, raising FileExistsError when target exists: a hard link, or
    where links are not supported an exclusive create (then written)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError:  # e.g. a file system without hard links
        with open(target, "xb") as handle:
            handle.write(data)
