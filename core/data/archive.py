"""Safe extraction of an uploaded zip of images into a dataset folder.

`extract_zip(source, target)` either puts the archive's image files under `target` and returns
what it did, or raises an `ArchiveError` subclass whose message is a sentence for the user and
leaves nothing behind: no partial folder, no temporary folder, nothing outside `target`.

In order:

1. The archive is opened and its directory read; more than `max_entries` entries (checked on
   the declared count before the directory is parsed, and again after) -> TooManyEntries;
   garbage or a damaged directory -> NotAZip.
2. Every entry name is validated before anything is written. An absolute path, a drive letter
   (`C:`), any `..` part (with `/` or `\\` as separator), a `:` or control character, a symbolic
   link or other special file, an over-long name, a duplicate, or a file that is also a folder
   -> UnsafeEntry, for the whole archive. Backslashes are read as folder separators.
3. Entries that must never become data are skipped and listed with the reason: `__MACOSX/`,
   hidden files and folders (any part starting with '.', so `._*` and `.DS_Store` too),
   `Thumbs.db` / `desktop.ini`, nested archives (not expanded) and non-image files
   (`core.data.imaging.is_image_file`, by extension). Folder entries are not created: a folder
   appears only if an image is extracted into it, so junk never becomes an empty class.
4. If every kept file sits below one top-level folder that holds only folders (the common
   `dataset.zip -> dataset/cats/..., dataset/dogs/...` layout), that folder is stripped once,
   so the class folders land directly under `target`. A single top folder holding images
   itself (`cats/a.png`) is a class and is kept.
5. The declared sizes are checked (refusal only: headers are never trusted to accept), then the
   kept entries are streamed into a temporary folder created next to `target`, counting the
   bytes actually decompressed: over `max_entry_bytes` or `max_total_bytes` ->
   ArchiveTooLarge; decompressed/compressed over `max_ratio` for an entry or for the whole
   archive once past `ratio_min_bytes` -> SuspiciousCompression; a bad CRC, truncated or
   encrypted data -> NotAZip / ArchiveError. Only on full success is the temporary folder
   renamed to `target` (one `os.replace`).

`target` may not exist yet (missing parents are created, and removed again on failure) or may
be an empty folder; a non-empty `target` is refused rather than overwritten.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import struct
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from core.data.imaging import is_image_file
from core.platform.refusal import Refusal

MiB = 1024 * 1024
GiB = 1024 * MiB

MAX_TOTAL_BYTES = 2 * GiB  # all extracted files together, counted while decompressing
MAX_ENTRIES = 50_000  # entries in the archive, folders and skipped files included
MAX_RATIO = 200.0  # decompressed / compressed, per entry and for the whole archive ...
RATIO_MIN_BYTES = 1 * MiB  # ... once past this many decompressed bytes (tiny PNGs compress well)
MAX_ENTRY_BYTES = 100 * MiB  # one extracted file
MAX_NAME_BYTES = 255  # one path part, in UTF-8 (the usual filesystem limit)

NESTED_ARCHIVE_SUFFIXES = frozenset(
    {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".jar"}
)
SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db"})
_CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


class ArchiveError(Refusal, ValueError):
    """The upload cannot be extracted; the message says why, for the user."""


class NotAZip(ArchiveError):
    """Not a zip file, or a damaged one (bad directory, bad CRC, truncated data)."""


class UnsafeEntry(ArchiveError):
    """An entry would be written outside the destination, or is a link or special file."""


class ArchiveTooLarge(ArchiveError):
    """More decompressed bytes than allowed, for one entry or in total."""


class TooManyEntries(ArchiveError):
    """More entries than allowed."""


class SuspiciousCompression(ArchiveError):
    """Compressed far better than real images do: a likely zip bomb."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_total_bytes: int = MAX_TOTAL_BYTES
    max_entries: int = MAX_ENTRIES
    max_ratio: float = MAX_RATIO
    ratio_min_bytes: int = RATIO_MIN_BYTES
    max_entry_bytes: int = MAX_ENTRY_BYTES


@dataclass(frozen=True)
class Skipped:
    name: str  # the entry name as stored in the archive
    reason: str


@dataclass(frozen=True)
class ExtractResult:
    target: Path
    files: tuple[str, ...]  # extracted files, '/'-separated and relative to target, sorted
    skipped: tuple[Skipped, ...]
    stripped: str | None  # the top-level folder removed from every path, if any
    total_bytes: int  # decompressed bytes written


@dataclass(frozen=True)
class _Entry:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]  # normalised path parts inside the archive


def extract_zip(
    source: str | Path | BinaryIO, target: Path, limits: ArchiveLimits = ArchiveLimits()
) -> ExtractResult:
    """Extract the image files of a zip into `target` safely (see the module docstring)."""
    target = Path(target)
    _check_target(target)
    with _open_source(source) as (handle, archive_bytes):
        declared = _declared_entry_count(handle)
        if declared is not None and declared > limits.max_entries:
            raise _too_many(declared, limits)
        with _open_zip(handle) as archive:
            infos = archive.infolist()
            if len(infos) > limits.max_entries:
                raise _too_many(len(infos), limits)
            entries = [_validated(info) for info in infos]
            _check_collisions(entries)
            kept, skipped = _select(entries)
            if not kept:
                raise ArchiveError(_nothing_to_extract(skipped))
            kept, stripped = _strip_single_top_folder(kept)
            _check_readable(kept)
            _check_declared_sizes(kept, limits, archive_bytes)
            return _extract(archive, kept, skipped, stripped, target, limits, archive_bytes)


# --- source and target ------------------------------------------------------------------------


@contextmanager
def _open_source(source: str | Path | BinaryIO) -> Iterator[tuple[BinaryIO, int]]:
    """A seekable binary handle on the archive, and its size in bytes."""
    owned: BinaryIO | None = None
    if isinstance(source, (str, os.PathLike)):
        try:
            owned = open(source, "rb")  # closed in the finally below
        except OSError as exc:
            raise ArchiveError(
                f"The archive {Path(source).name} cannot be opened ({exc.strerror or exc})."
            ) from exc
        handle: BinaryIO = owned
    elif _seekable(source):
        handle = source
    else:  # a one-way stream: spool it so that zipfile can seek
        spooled = tempfile.SpooledTemporaryFile(max_size=64 * MiB)
        shutil.copyfileobj(source, spooled)
        owned = handle = spooled  # type: ignore[assignment]
    try:
        handle.seek(0, io.SEEK_END)
        size = handle.tell()
        handle.seek(0)
        yield handle, size
    finally:
        if owned is not None:
            owned.close()


def _open_zip(handle: BinaryIO) -> zipfile.ZipFile:
    """zipfile raises many types on a damaged directory (BadZipFile, ValueError, struct.error,
    UnicodeDecodeError, ...): all of them mean the same thing to the user."""
    try:
        handle.seek(0)
        return zipfile.ZipFile(handle)
    except Exception as exc:  # noqa: BLE001
        raise NotAZip(f"The upload is not a readable zip archive ({exc}).") from exc


def _seekable(handle: BinaryIO) -> bool:
    try:
        return bool(handle.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _check_target(target: Path) -> None:
    if target.is_symlink():
        raise ArchiveError(f"The destination {target} is a link; choose a plain folder.")
    if target.exists():
        if not target.is_dir():
            raise ArchiveError(f"The destination {target} exists and is not a folder.")
        if any(target.iterdir()):
            raise ArchiveError(
                f"The destination folder {target} is not empty; choose a new folder name "
                "so that nothing already there is overwritten."
            )


def _declared_entry_count(handle: BinaryIO) -> int | None:
    """The entry count in the end-of-central-directory record, read before zipfile parses the
    whole directory into memory (a 200 MB directory could otherwise cost gigabytes).
    None when the record cannot be found: zipfile then decides."""
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    tail_start = max(0, size - (22 + 0xFFFF))
    handle.seek(tail_start)
    tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    count: int = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    if count != 0xFFFF:
        return count
    locator = at - 20  # zip64: the locator sits just before the end record
    if locator < 0 or tail[locator : locator + 4] != b"PK\x06\x07":
        return None
    record_offset = struct.unpack("<Q", tail[locator + 8 : locator + 16])[0]
    if record_offset > size - 56:
        return None
    handle.seek(record_offset)
    record = handle.read(56)
    if record[:4] != b"PK\x06\x06":
        return None
    entries: int = struct.unpack("<Q", record[32:40])[0]
    return entries


def _too_many(count: int, limits: ArchiveLimits) -> TooManyEntries:
    return TooManyEntries(
        f"The archive has {count:,} entries; at most {limits.max_entries:,} are accepted."
    )


# --- names --------------------------------------------------------------------------------------


def _validated(info: zipfile.ZipInfo) -> _Entry:
    """The entry's normalised path parts, or UnsafeEntry."""
    raw = info.filename
    shown = raw if len(raw) <= 120 else raw[:117] + "..."

    def unsafe(why: str) -> UnsafeEntry:
        return UnsafeEntry(f"The archive is refused: the entry '{shown}' {why}.")

    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        raise unsafe("is a symbolic link")
    if mode and kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise unsafe("is a special file, not a regular file")
    if not raw:
        raise unsafe("has an empty name")
    if any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise unsafe("has a control character in its name")
    name = raw.replace("\\", "/")
    if name.startswith("/"):
        raise unsafe("has an absolute path")
    if _DRIVE.match(name):
        raise unsafe("starts with a drive letter")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if not parts:
        raise unsafe("has no usable name")
    for part in parts:
        if part == "..":
            raise unsafe("points outside the destination folder ('..')")
        if ":" in part:
            raise unsafe("has ':' in its name (a Windows drive or stream)")
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise unsafe(f"has a name part longer than {MAX_NAME_BYTES} bytes")
        if part.strip(" .") == "":  # '...', ' ': Windows strips these to nothing
            raise unsafe("has a name made only of dots or spaces")
    return _Entry(info, parts)


def _is_folder(entry: _Entry) -> bool:
    return entry.info.filename.replace("\\", "/").endswith("/")


def _check_collisions(entries: list[_Entry]) -> None:
    files: dict[tuple[str, ...], str] = {}
    folders: set[tuple[str, ...]] = set()
    for entry in entries:
        if _is_folder(entry):
            folders.add(entry.parts)
            continue
        if entry.parts in files:
            raise UnsafeEntry(
                f"The archive is refused: '{'/'.join(entry.parts)}' appears more than once."
            )
        files[entry.parts] = entry.info.filename
        folders.update(entry.parts[:k] for k in range(1, len(entry.parts)))
    for parts in files.keys() & folders:
        raise UnsafeEntry(
            f"The archive is refused: '{'/'.join(parts)}' is both a file and a folder."
        )


def _skip_reason(entry: _Entry) -> str | None:
    parts = entry.parts
    if "__MACOSX" in parts:
        return "macOS metadata (__MACOSX)"
    if any(part.startswith(".") for part in parts):
        return "hidden file or folder"
    if parts[-1].lower() in SYSTEM_FILES:
        return "system file"
    suffixes = [s.lower() for s in PurePosixPath(parts[-1]).suffixes]
    if NESTED_ARCHIVE_SUFFIXES.intersection(suffixes):
        return "nested archive (not expanded)"
    if not is_image_file(Path(parts[-1])):
        return "not an image file"
    return None


def _select(entries: list[_Entry]) -> tuple[list[_Entry], list[Skipped]]:
    kept, skipped = [], []
    for entry in entries:
        if _is_folder(entry):
            continue
        reason = _skip_reason(entry)
        if reason is None:
            kept.append(entry)
        else:
            skipped.append(Skipped(entry.info.filename, reason))
    return kept, skipped


def _nothing_to_extract(skipped: list[Skipped]) -> str:
    if not skipped:
        return "The archive holds no files."
    reasons: dict[str, int] = {}
    for item in skipped:
        reasons[item.reason] = reasons.get(item.reason, 0) + 1
    detail = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
    return f"The archive holds no image files ({len(skipped)} skipped: {detail})."


def _strip_single_top_folder(kept: list[_Entry]) -> tuple[list[_Entry], str | None]:
    tops = {entry.parts[0] for entry in kept}
    if len(tops) != 1 or any(len(entry.parts) < 3 for entry in kept):
        return kept, None
    return [_Entry(e.info, e.parts[1:]) for e in kept], tops.pop()


# --- sizes and extraction ------------------------------------------------------------------------


def _ratio_denominator(info: zipfile.ZipInfo, archive_bytes: int) -> int:
    # zipfile never reads more than compress_size bytes of an entry, and never more than the
    # archive holds, so this bounds the compressed bytes really consumed.
    return max(1, min(info.compress_size, archive_bytes))


_READABLE_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)


def _check_readable(kept: list[_Entry]) -> None:
    for entry in kept:
        name = entry.info.filename
        if entry.info.flag_bits & 0x1:
            raise ArchiveError(
                f"The archive is refused: '{name}' is password-protected; upload an archive "
                "without a password."
            )
        if entry.info.compress_type not in _READABLE_METHODS:
            raise ArchiveError(
                f"The archive is refused: '{name}' uses a compression method that cannot be "
                "read; re-create the zip with standard (deflate) compression."
            )


def _check_declared_sizes(kept: list[_Entry], limits: ArchiveLimits, archive_bytes: int) -> None:
    """Refuse early on what the headers claim; acceptance still depends on the streamed bytes."""
    total = 0
    for entry in kept:
        _check_entry_bytes(entry, entry.info.file_size, limits, archive_bytes)
        total += entry.info.file_size
    _check_total_bytes(total, limits, archive_bytes)


def _check_entry_bytes(entry: _Entry, size: int, limits: ArchiveLimits, archive_bytes: int) -> None:
    name = entry.info.filename
    if size > limits.max_entry_bytes:
        raise ArchiveTooLarge(
            f"The file '{name}' is larger than {_human(limits.max_entry_bytes)} once extracted; "
            "no single image may be that large."
        )
    ratio = size / _ratio_denominator(entry.info, archive_bytes)
    if size > limits.ratio_min_bytes and ratio > limits.max_ratio:
        raise SuspiciousCompression(
            f"The file '{name}' expands more than {limits.max_ratio:g} times when extracted, "
            "which real images never do; the archive looks like a zip bomb and is refused."
        )


def _check_total_bytes(total: int, limits: ArchiveLimits, archive_bytes: int) -> None:
    if total > limits.max_total_bytes:
        raise ArchiveTooLarge(
            f"The archive holds more than {_human(limits.max_total_bytes)} once extracted; "
            "that is over the limit."
        )
    if total > limits.ratio_min_bytes and total / max(1, archive_bytes) > limits.max_ratio:
        raise SuspiciousCompression(
            f"The archive expands more than {limits.max_ratio:g} times when extracted, which "
            "real images never do; it looks like a zip bomb and is refused."
        )


def _human(n: int) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


def _extract(
    archive: zipfile.ZipFile,
    kept: list[_Entry],
    skipped: list[Skipped],
    stripped: str | None,
    target: Path,
    limits: ArchiveLimits,
    archive_bytes: int,
) -> ExtractResult:
    created_parents = _missing_folders(target.parent)  # deepest first
    staging: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        root = staging.resolve()
        total = 0
        for entry in kept:
            destination = staging.joinpath(*entry.parts)
            if not destination.resolve().is_relative_to(root):  # belt and braces after step 2
                raise UnsafeEntry(
                    f"The archive is refused: '{entry.info.filename}' resolves outside the "
                    "destination folder."
                )
            destination.parent.mkdir(parents=True, exist_ok=True)
            total = _stream(archive, entry, destination, total, limits, archive_bytes)
        _check_target(target)  # nothing appeared meanwhile
        if target.exists():
            target.rmdir()  # empty (just checked): rename over it portably
        os.replace(staging, target)
        staging = None
    except BaseException as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for folder in created_parents:  # only if still empty
            try:
                folder.rmdir()
            except OSError:
                break
        if isinstance(exc, OSError):
            raise ArchiveError(
                f"The archive could not be written to {target} ({exc.strerror or exc})."
            ) from exc
        raise
    files = tuple(sorted("/".join(entry.parts) for entry in kept))
    return ExtractResult(target, files, tuple(skipped), stripped, total)


def _missing_folders(folder: Path) -> list[Path]:
    """`folder` and those of its ancestors that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    return missing


def _stream(
    archive: zipfile.ZipFile,
    entry: _Entry,
    destination: Path,
    total: int,
    limits: ArchiveLimits,
    archive_bytes: int,
) -> int:
    """Decompress one entry into `destination`, counting real bytes; the new running total."""
    name = entry.info.filename
    written = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        with (
            archive.open(entry.info) as source,
            open(os.open(destination, flags, 0o644), "wb", closefd=True) as sink,
        ):
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                total += len(chunk)
                _check_entry_bytes(entry, written, limits, archive_bytes)
                _check_total_bytes(total, limits, archive_bytes)
                sink.write(chunk)
    except (ArchiveError, OSError):
        raise  # our own verdicts; OSError is a write failure, reported by _extract
    except Exception as exc:  # noqa: BLE001 - bad CRC, truncated data, corrupt stream, ...
        raise NotAZip(f"The archive is damaged: '{name}' cannot be read ({exc}).") from exc
    return total
