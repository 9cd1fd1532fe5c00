"""core.data.archive: hostile and messy zips are refused or cleaned, and nothing ever lands outside
the destination folder. Every archive is built here with zipfile (names written raw)."""

from __future__ import annotations

import io
import os
import stat
import struct
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.data import archive, datasets
from core.data.archive import (
    ArchiveError,
    ArchiveLimits,
    ArchiveTooLarge,
    NotAZip,
    SuspiciousCompression,
    TooManyEntries,
    UnsafeEntry,
    extract_zip,
)

MiB = 1024 * 1024


def png(colour=(255, 0, 0), size=(8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def make_zip(entries, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """entries: (name, data) or (ZipInfo, data); names are stored exactly as given."""
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name"
        with zipfile.ZipFile(out, "w", compression) as zf:
            for name, data in entries:
                info = name if isinstance(name, zipfile.ZipInfo) else zipfile.ZipInfo(name)
                info.compress_type = compression
                if not isinstance(name, zipfile.ZipInfo):
                    info.external_attr = (0o40755 if name.endswith("/") else 0o100644) << 16
                zf.writestr(info, data)
    return out.getvalue()


def write_zip(path: Path, entries, **kw) -> Path:
    path.write_bytes(make_zip(entries, **kw))
    return path


def everything_under(folder: Path) -> set[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            found.add((Path(dirpath) / name).relative_to(folder).as_posix())
    return found


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def place(tmp_path):
    """(zip path, parent, target): the zip lives apart from `parent`, which starts empty and
    must only ever contain `target`."""
    parent = tmp_path / "parent"
    parent.mkdir()
    return tmp_path / "upload.zip", parent, parent / "dataset"


GOOD = [("cats/a.png", png((255, 0, 0))), ("dogs/b.png", png((0, 0, 255)))]


# --- happy path ---------------------------------------------------------------------------------


def test_extracts_images_byte_for_byte(place):
    zpath, parent, target = place
    write_zip(zpath, GOOD)
    result = extract_zip(zpath, target)
    assert result.files == ("cats/a.png", "dogs/b.png")
    assert result.skipped == ()
    assert result.stripped is None
    assert everything_under(parent) == {
        "dataset",
        "dataset/cats",
        "dataset/cats/a.png",
        "dataset/dogs",
        "dataset/dogs/b.png",
    }
    assert (target / "cats/a.png").read_bytes() == GOOD[0][1]
    assert result.total_bytes == sum(len(data) for _, data in GOOD)


def test_accepts_a_stream_and_a_one_way_stream(place, tmp_path):
    _, parent, target = place
    data = make_zip(GOOD)
    assert extract_zip(io.BytesIO(data), target).files == ("cats/a.png", "dogs/b.png")

    class OneWay(io.RawIOBase):
        def __init__(self):
            self._inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = self._inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    other = tmp_path / "other"
    assert extract_zip(OneWay(), other).files == ("cats/a.png", "dogs/b.png")


def test_empty_existing_target_is_used(place):
    zpath, parent, target = place
    target.mkdir()
    write_zip(zpath, GOOD)
    extract_zip(zpath, target)
    assert files_under(target) == {"cats/a.png", "dogs/b.png"}
    assert os.listdir(parent) == ["dataset"]


def test_backslashes_are_folder_separators(place):
    zpath, _, target = place
    write_zip(zpath, [("cats\\a.png", png()), ("dogs\\b.png", png())])
    assert extract_zip(zpath, target).files == ("cats/a.png", "dogs/b.png")
    assert files_under(target) == {"cats/a.png", "dogs/b.png"}


# --- unsafe names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../evil.png",
        "/abs.png",
        "C:\\x.png",
        "C:x.png",
        "c:/x.png",
        "a/../../x.png",
        "cats/../../../x.png",
        "..\\evil.png",
        "cats\\..\\..\\evil.png",
        "\\\\server\\share\\x.png",
        "cats/a.png:hidden",
        "cats/a\nb.png",
    ],
)
def test_unsafe_names_refuse_the_whole_archive_before_writing(place, name, tmp_path):
    zpath, parent, target = place
    write_zip(zpath, [*GOOD, (name, png())])  # good entries first: still nothing is written
    assert name in zipfile.ZipFile(zpath).namelist()  # stored raw, not sanitised by zipfile
    with pytest.raises(UnsafeEntry) as caught:
        extract_zip(zpath, target)
    message = str(caught.value)
    assert message[0].isupper() and message.endswith(".")
    assert os.listdir(parent) == []
    assert everything_under(tmp_path) == {"parent", "upload.zip"}


def test_symlink_entry_is_refused(place, tmp_path):
    zpath, parent, target = place
    link = zipfile.ZipInfo("cats/link.png")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    write_zip(zpath, [*GOOD, (link, b"/etc/passwd")])
    with pytest.raises(UnsafeEntry, match="symbolic link"):
        extract_zip(zpath, target)
    assert os.listdir(parent) == []


def test_symlink_folder_entry_is_refused(place):
    zpath, parent, target = place
    link = zipfile.ZipInfo("cats/")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    write_zip(zpath, [(link, b""), *GOOD])
    with pytest.raises(UnsafeEntry):
        extract_zip(zpath, target)
    assert os.listdir(parent) == []


@pytest.mark.parametrize(
    "entries, why",
    [
        ([("cats/a.png", png()), ("cats/a.png", png((0, 255, 0)))], "more than once"),
        ([("cats/a.png", png()), ("cats/./a.png", png())], "more than once"),
        ([("cats/x.png", png()), ("cats/x.png/y.png", png())], "both a file and a folder"),
    ],
)
def test_ambiguous_names_are_refused(place, entries, why):
    zpath, parent, target = place
    write_zip(zpath, entries)
    with pytest.raises(UnsafeEntry, match=why):
        extract_zip(zpath, target)
    assert os.listdir(parent) == []


# --- bombs and caps -----------------------------------------------------------------------------


def patch_uncompressed_size(data: bytes, new_size: int) -> bytes:
    """Rewrite the uncompressed-size field of every local and central header (a liar's zip)."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = out.find(signature)
        while at >= 0:
            out[at + offset : at + offset + 4] = struct.pack("<I", new_size)
            at = out.find(signature, at + 4)
    return bytes(out)


def test_bomb_with_lying_size_headers_is_refused(place):
    zpath, parent, target = place
    honest = make_zip([("cats/bomb.png", b"\0" * (8 * MiB))])
    liar = patch_uncompressed_size(honest, 1000)  # claims 1000 bytes, inflates to 8 MiB
    info = zipfile.ZipFile(io.BytesIO(liar)).infolist()[0]
    assert info.file_size == 1000 and info.compress_size < 20_000  # passes every header check
    zpath.write_bytes(liar)
    with pytest.raises(ArchiveError):
        extract_zip(zpath, target)
    assert os.listdir(parent) == []


def test_header_claiming_too_much_is_refused_before_decompressing(place, monkeypatch):
    zpath, parent, target = place
    liar = patch_uncompressed_size(make_zip([("cats/a.png", png())]), 150 * MiB)
    zpath.write_bytes(liar)
    monkeypatch.setattr(archive, "_stream", lambda *a: pytest.fail("decompressed anyway"))
    with pytest.raises(ArchiveTooLarge, match="larger than 100 MiB"):
        extract_zip(zpath, target)
    assert os.listdir(parent) == []


@pytest.mark.parametrize(
    "limits, entries, error",
    [
        (
            ArchiveLimits(max_entry_bytes=100_000),
            [("cats/big.png", os.urandom(150_000))],
            ArchiveTooLarge,
        ),
        (
            ArchiveLimits(max_total_bytes=250_000),
            [
                ("cats/a.png", os.urandom(100_000)),
                ("cats/b.png", os.urandom(100_000)),
                ("dogs/c.png", os.urandom(100_000)),
            ],
            ArchiveTooLarge,
        ),
        (ArchiveLimits(), [("cats/zeros.png", b"\0" * (3 * MiB))], SuspiciousCompression),
    ],
)
def test_real_bytes_are_counted_while_streaming(place, monkeypatch, limits, entries, error):
    """With the header pre-check switched off (as if every header lied), the bytes counted
    during decompression still stop the extraction, and nothing is left behind."""
    zpath, parent, target = place
    write_zip(zpath, entries)
    monkeypatch.setattr(archive, "_check_declared_sizes", lambda *a: None)
    with pytest.raises(error):
        extract_zip(zpath, target, limits)
    assert os.listdir(parent) == []


def test_total_size_cap(place):
    zpath, parent, target = place
    write_zip(zpath, [(f"c{k}/x.png", os.urandom(40_000)) for k in range(5)])
    with pytest.raises(ArchiveTooLarge, match="more than"):
        extract_zip(zpath, target, ArchiveLimits(max_total_bytes=150_000))
    assert os.listdir(parent) == []
    assert len(extract_zip(zpath, target, ArchiveLimits(max_total_bytes=200_000)).files) == 5


def test_ratio_cap_per_entry(place):
    zpath, parent, target = place
    write_zip(zpath, [*GOOD, ("cats/zeros.png", b"\0" * (2 * MiB))])  # ~1000:1
    with pytest.raises(SuspiciousCompression, match="zip bomb"):
        extract_zip(zpath, target)
    assert os.listdir(parent) == []


def test_small_highly_compressible_files_are_fine(place):
    zpath, _, target = place
    write_zip(zpath, [("cats/flat.png", b"\0" * (512 * 1024)), ("dogs/flat.bmp", b"\0" * 1000)])
    assert extract_zip(zpath, target).files == ("cats/flat.png", "dogs/flat.bmp")


def test_ratio_cap_overall(place):
    """Each entry stays under the 1 MiB per-entry threshold, together they are a bomb."""
    zpath, parent, target = place
    write_zip(zpath, [(f"c{k}/zeros.png", b"\0" * (900 * 1024)) for k in range(4)])
    with pytest.raises(SuspiciousCompression, match="archive expands"):
        extract_zip(zpath, target)
    assert os.listdir(parent) == []


def test_entry_count_cap(place):
    zpath, parent, target = place
    write_zip(zpath, [(f"c{k % 2}/{k}.png", png()) for k in range(11)])
    with pytest.raises(TooManyEntries, match="11 entries"):
        extract_zip(zpath, target, ArchiveLimits(max_entries=10))
    assert os.listdir(parent) == []
    assert len(extract_zip(zpath, target, ArchiveLimits(max_entries=11)).files) == 11


def test_entry_count_is_refused_before_zipfile_reads_the_directory(place, monkeypatch):
    """66,000 entries (a zip64 end record): refused with the default cap from the declared
    count, without letting zipfile build 66,000 ZipInfo objects."""
    zpath, parent, target = place
    write_zip(zpath, [(f"c/{k}.png", b"") for k in range(66_000)], compression=zipfile.ZIP_STORED)
    monkeypatch.setattr(archive.zipfile, "ZipFile", lambda *a, **k: pytest.fail("parsed"))
    with pytest.raises(TooManyEntries, match="66,000 entries; at most 50,000"):
        extract_zip(zpath, target)
    assert os.listdir(parent) == []


# --- junk, nesting, layout ----------------------------------------------------------------------


def test_junk_and_nested_archives_are_skipped_and_never_become_classes(place):
    zpath, _, target = place
    inner = make_zip(GOOD)
    write_zip(
        zpath,
        [
            *GOOD,
            ("cats/c.jpg", png()),
            ("__MACOSX/", b""),
            ("__MACOSX/cats/._a.png", b"\0\5\26\7"),
            ("cats/._a.png", b"\0\5\26\7"),
            ("cats/.DS_Store", b"junk"),
            (".DS_Store", b"junk"),
            ("Thumbs.db", b"junk"),
            ("dogs/Thumbs.db", b"junk"),
            (".git/config", b"[core]"),
            (".hidden/x.png", png()),
            ("dogs/inner.zip", inner),
            ("dogs/more.tar.gz", b"\x1f\x8b"),
            ("birds.7z", b"7z"),
            ("notes/readme.txt", b"hello"),
            ("emptyclass/", b""),
            ("cats/notes.txt", b"hello"),
        ],
    )
    result = extract_zip(zpath, target)
    assert result.files == ("cats/a.png", "cats/c.jpg", "dogs/b.png")
    reasons = {s.name: s.reason for s in result.skipped}
    assert reasons["__MACOSX/cats/._a.png"].startswith("macOS")
    assert reasons["cats/._a.png"] == reasons["cats/.DS_Store"] == "hidden file or folder"
    assert reasons[".hidden/x.png"] == reasons[".git/config"] == "hidden file or folder"
    assert reasons["dogs/Thumbs.db"] == "system file"
    assert reasons["dogs/inner.zip"] == reasons["birds.7z"] == "nested archive (not expanded)"
    assert reasons["dogs/more.tar.gz"] == "nested archive (not expanded)"
    assert reasons["notes/readme.txt"] == reasons["cats/notes.txt"] == "not an image file"
    assert "__MACOSX/" not in reasons and "emptyclass/" not in reasons  # folders: not listed
    assert everything_under(target) == {"cats", "cats/a.png", "cats/c.jpg", "dogs", "dogs/b.png"}
    assert datasets.scan(target).classes == ["cats", "dogs"]  # the nested zip was not expanded


def test_archive_without_images_is_refused_with_a_summary(place):
    zpath, parent, target = place
    write_zip(zpath, [("a.txt", b"x"), ("__MACOSX/._a.txt", b"x")])
    with pytest.raises(ArchiveError, match=r"no image files \(2 skipped"):
        extract_zip(zpath, target)
    assert os.listdir(parent) == []


def test_single_top_folder_is_stripped(place):
    zpath, _, target = place
    write_zip(
        zpath,
        [
            ("dataset/", b""),
            ("dataset/cats/a.png", png()),
            ("dataset/dogs/b.png", png()),
            ("dataset/dogs/puppies/c.png", png()),
            ("__MACOSX/dataset/cats/._a.png", b"x"),  # junk elsewhere does not prevent stripping
            ("dataset/.DS_Store", b"x"),
        ],
    )
    result = extract_zip(zpath, target)
    assert result.stripped == "dataset"
    assert result.files == ("cats/a.png", "dogs/b.png", "dogs/puppies/c.png")
    assert files_under(target) == set(result.files)


@pytest.mark.parametrize(
    "names",
    [
        ["cats/a.png", "cats/b.png"],  # one folder holding images: that folder is the class
        ["dataset/cover.png", "dataset/cats/a.png", "dataset/dogs/b.png"],  # loose file on top
        ["cats/a.png", "dogs/b.png"],  # two top folders
    ],
)
def test_top_folder_is_kept_when_it_is_not_a_wrapper(place, names):
    zpath, _, target = place
    write_zip(zpath, [(n, png()) for n in names])
    result = extract_zip(zpath, target)
    assert result.stripped is None
    assert files_under(target) == set(names)


# --- failures leave nothing behind ---------------------------------------------------------------


def corrupt_last_entry(data: bytes) -> bytes:
    """Flip a byte inside the last entry's stored data: zipfile reports a bad CRC."""
    info = zipfile.ZipFile(io.BytesIO(data)).infolist()[-1]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    out = bytearray(data)
    out[start + info.compress_size // 2] ^= 0xFF
    return bytes(out)


def test_failure_midway_leaves_no_partial_output_and_no_temp_dir(place, tmp_path):
    zpath, parent, _ = place
    target = parent / "not" / "yet" / "dataset"  # missing parents are removed again too
    entries = [(f"c{k % 3}/{k}.png", png((k, k, k))) for k in range(20)]
    entries.append(("c0/last.png", os.urandom(5000)))
    zpath.write_bytes(corrupt_last_entry(make_zip(entries, compression=zipfile.ZIP_STORED)))
    with pytest.raises(NotAZip, match="damaged"):
        extract_zip(zpath, target)
    assert os.listdir(parent) == []
    assert everything_under(tmp_path) == {"parent", "upload.zip"}


def test_failure_keeps_existing_parent_folders(place):
    zpath, parent, target = place
    zpath.write_bytes(
        corrupt_last_entry(
            make_zip([*GOOD, ("c/x.png", os.urandom(500))], compression=zipfile.ZIP_STORED)
        )
    )
    with pytest.raises(NotAZip):
        extract_zip(zpath, target)
    assert parent.is_dir() and os.listdir(parent) == []


def test_write_failure_at_the_last_step_leaves_nothing(place, monkeypatch):
    zpath, parent, _ = place
    target = parent / "new" / "dataset"
    write_zip(zpath, GOOD)

    def disk_full(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(archive.os, "replace", disk_full)
    with pytest.raises(ArchiveError, match="could not be written.*No space left"):
        extract_zip(zpath, target)
    assert os.listdir(parent) == []


def test_non_empty_target_is_refused_and_untouched(place):
    zpath, parent, target = place
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    write_zip(zpath, GOOD)
    with pytest.raises(ArchiveError, match="is not empty; choose a new folder name"):
        extract_zip(zpath, target)
    assert everything_under(parent) == {"dataset", "dataset/keep.txt"}
    assert (target / "keep.txt").read_text() == "mine"


def test_target_that_is_a_file_is_refused(place):
    zpath, parent, target = place
    target.write_text("a file")
    write_zip(zpath, GOOD)
    with pytest.raises(ArchiveError, match="not a folder"):
        extract_zip(zpath, target)
    assert target.read_text() == "a file"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"this is not a zip at all" * 10,
        np.random.default_rng(0).integers(0, 256, 10_000, dtype=np.uint8).tobytes(),
        make_zip(GOOD)[:-30],  # truncated end record
        make_zip(GOOD)[: len(make_zip(GOOD)) // 2],
    ],
    ids=["empty", "text", "random", "cut-end", "cut-half"],
)
def test_garbage_is_not_a_zip(place, data):
    zpath, parent, target = place
    zpath.write_bytes(data)
    with pytest.raises(NotAZip):
        extract_zip(zpath, target)
    assert os.listdir(parent) == []


def test_password_protected_entry_is_refused(place):
    zpath, parent, target = place
    data = bytearray(make_zip(GOOD))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set "encrypted" flag
        at = data.find(signature)
        while at >= 0:
            data[at + offset] |= 0x01
            at = data.find(signature, at + 4)
    zpath.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="is password-protected"):
        extract_zip(zpath, target)
    assert os.listdir(parent) == []


def test_defaults_are_the_documented_constants():
    limits = ArchiveLimits()
    assert limits.max_total_bytes == archive.MAX_TOTAL_BYTES == 2 * 1024**3
    assert limits.max_entries == archive.MAX_ENTRIES == 50_000
    assert limits.max_ratio == archive.MAX_RATIO == 200
    assert limits.ratio_min_bytes == archive.RATIO_MIN_BYTES == MiB
    assert limits.max_entry_bytes == archive.MAX_ENTRY_BYTES == 100 * MiB
    with pytest.raises(AttributeError):
        limits.max_entries = 1  # type: ignore[misc]


# --- property: inside target, or an ArchiveError and nothing at all ------------------------------

SAFE_TOKENS = ["a", "b", "C", "x.png"]
RISKY_TOKENS = ["..", ".", ":", "__MACOSX", ".png", ".zip", "c:", "\\"]
RISKY_STARTS = ["", "/", "\\", "C:", "C:\\", "../", "..\\"]


@st.composite
def names(draw, risky: bool) -> str:
    tokens = SAFE_TOKENS + (RISKY_TOKENS if risky else [])
    segment = st.lists(st.sampled_from(tokens), min_size=1, max_size=2).map("".join)
    separator = st.sampled_from(["/", "/", "\\"] if risky else ["/"])
    name = draw(st.sampled_from(RISKY_STARTS)) if risky else ""
    for k, part in enumerate(draw(st.lists(segment, min_size=1, max_size=4))):
        name += (draw(separator) if k else "") + part
    return name + draw(st.sampled_from([".png", ".jpg", ".txt", ".zip", "", "/"]))


@st.composite
def archives(draw):
    """Up to 7 entries: (name, size, random bytes?, symlink?). Half the archives draw names from
    the risky alphabet too ('..', '\\', ':', drive letters, leading separators, hidden and
    junk names), so that refusals and extractions are both common."""
    risky = draw(st.booleans())
    symlink = st.integers(0, 15).map(lambda n: n == 7)  # hypothesis favours 0: avoid it
    entry = st.tuples(names(risky), st.integers(0, 3000), st.booleans(), symlink)
    return draw(st.lists(entry, min_size=1, max_size=7))


SMALL = ArchiveLimits(
    max_total_bytes=8000, max_entries=7, max_ratio=20, ratio_min_bytes=1500, max_entry_bytes=2500
)
SANDBOX_DEPTH = 8  # deeper than any run of '..' the names above can hold


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(archives())
def test_any_archive_extracts_inside_target_or_raises(entries):
    rng = np.random.default_rng(len(entries))
    built = []
    for name, size, random_bytes, symlink in entries:
        info = zipfile.ZipInfo(name)
        info.external_attr = ((stat.S_IFLNK | 0o777) if symlink else 0o100644) << 16
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes() if random_bytes else bytes(size)
        built.append((info, data))
    root_before = set(os.listdir("/"))  # absolute names would land here
    with tempfile.TemporaryDirectory() as sandbox_name:
        sandbox = Path(sandbox_name)
        parent = sandbox.joinpath(*[f"d{k}" for k in range(SANDBOX_DEPTH)])
        parent.mkdir(parents=True)
        zpath = sandbox / "upload.zip"
        write_zip(zpath, built)
        target = parent / "out"
        try:
            result = extract_zip(zpath, target, SMALL)
        except ArchiveError as exc:
            event(f"refused: {type(exc).__name__}")
            assert os.listdir(parent) == []
        else:
            event("extracted")
            assert result.files and files_under(target) == set(result.files)
            for rel in result.files:
                parts = rel.split("/")
                assert ".." not in parts and not any(p.startswith(".") for p in parts)
                assert "__MACOSX" not in parts and "\\" not in rel and ":" not in rel
                assert (target / rel).resolve().is_relative_to(target.resolve())
        out = target.relative_to(sandbox).as_posix()
        chain = {"/".join(f"d{k}" for k in range(n)) for n in range(1, SANDBOX_DEPTH + 1)}
        for path in everything_under(sandbox):
            assert (
                path == "upload.zip" or path in chain or path == out or path.startswith(out + "/")
            ), path
    assert set(os.listdir("/")) == root_before


def test_every_single_byte_corruption_gives_a_result_or_an_archive_error(tmp_path):
    """Flip one bit in every byte of a small archive: zipfile raises many exception types on
    damaged input, and all of them must reach the user as an ArchiveError, with nothing left."""
    data = make_zip([*GOOD, ("cats/ü.png", png((0, 255, 0)))])
    outcomes = set()
    for position in range(len(data)):
        damaged = bytearray(data)
        damaged[position] ^= 0x80 if position % 2 else 0x01
        parent = tmp_path / f"p{position}"
        parent.mkdir()
        try:
            extract_zip(io.BytesIO(bytes(damaged)), parent / "out")
            outcomes.add("extracted")
        except ArchiveError as exc:
            outcomes.add(type(exc).__name__)
            assert os.listdir(parent) == []
        assert set(os.listdir(parent)) <= {"out"}
    assert {"extracted", "NotAZip"} <= outcomes
