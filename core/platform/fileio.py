"""Small file helpers shared by the engine: content hashes and atomic writes.

Every model, manifest, checkpoint and cached array is written to a temporary file in the same
folder and moved into place with os.replace, so a killed process never leaves half a file.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt


def hash_file(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's content, read in chunks (files may be larger than memory)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: str | Path) -> str:
    return hash_file(path, "sha256")


def write_atomically(path: Path, write: Callable[[Path], object], suffix: str = ".tmp") -> None:
    """Call write(temporary path), then move the result to `path` (removed on failure). The
    temporary name is hidden (".tmp-..."), so a dataset scan never mistakes it for data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    def save(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, array)

    write_atomically(path, save)


def tree_bytes_and_newest(folder: str | os.PathLike[str]) -> tuple[int, float]:
    """(bytes of all files, newest modification time of any file or folder); links are not
    followed and count as nothing."""
    total, newest = 0, 0.0
    for dirpath, _, filenames in os.walk(folder, followlinks=False):
        try:
            newest = max(newest, os.lstat(dirpath).st_mtime)
        except OSError:
            continue
        for name in filenames:
            try:
                info = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            total += info.st_size if stat.S_ISREG(info.st_mode) else 0
            newest = max(newest, info.st_mtime)
    return total, newest


def folder_bytes(folder: Path) -> int:
    """Bytes of the files below `folder` (0 when absent); files vanishing meanwhile count 0."""
    return tree_bytes_and_newest(folder)[0] if Path(folder).is_dir() else 0


def mark_used(path: Path) -> None:
    """Set a cache file's modification time to now on a hit, so `core cache prune
    --older-than` counts days since last use, not since it was written (atime is unreliable:
    most filesystems are mounted relatime or noatime)."""
    try:
        os.utime(path)
    except OSError:  # read-only cache: the entry just looks older
        pass


def remove_stale_temps(folder: Path) -> int:
    """Delete temporary files a killed process left below `folder`; returns how many."""
    stale = [p for p in Path(folder).rglob(".tmp-*") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


class NpyWriter:
    """A .npy file preallocated at its final shape in a hidden temporary file next to `path`,
    filled by `write(first_row, rows)` from any thread, and moved into place by `commit()`.

    Rows go through ordinary file writes, not a writable memory map: written pages of a map
    stay in the process's resident memory until it ends, file writes only in the kernel's page
    cache, so peak memory stays flat however large the array is."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: npt.DTypeLike) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
        os.close(fd)
        self.path, self.tmp = path, Path(tmp)
        self.dtype, self.shape = np.dtype(dtype), tuple(shape)
        self._row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))
        self._lock = threading.Lock()
        try:
            with open(tmp, "wb") as handle:  # header, then a sparse file of the full size
                np.lib.format.write_array_header_1_0(
                    handle, {"descr": self.dtype.str, "fortran_order": False, "shape": self.shape}
                )
                self._offset = handle.tell()
                handle.truncate(self._offset + self._row_bytes * self.shape[0])
            self._handle = open(tmp, "r+b")  # noqa: SIM115 - closed by commit/abandon/discard
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise

    def write(self, first_row: int, rows: np.ndarray) -> None:
        data = np.ascontiguousarray(rows, dtype=self.dtype)
        with self._lock:
            self._handle.seek(self._offset + first_row * self._row_bytes)
            self._handle.write(data.data.cast("B"))

    def commit(self) -> np.ndarray:
        """Move the file into place and return it memory-mapped read-only."""
        self._handle.close()
        os.replace(self.tmp, self.path)
        array: np.ndarray = np.load(self.path, mmap_mode="r")
        return array

    def abandon(self) -> np.ndarray:
        """What was written, memory-mapped read-only, with the file itself deleted (on POSIX
        the map keeps the data readable until released): used, never kept."""
        self._handle.close()
        array: np.ndarray = np.load(self.tmp, mmap_mode="r")
        self.discard()
        return array

    def discard(self) -> None:
        self._handle.close()
        try:
            self.tmp.unlink(missing_ok=True)
        except OSError:  # Windows cannot delete a mapped file: remove_stale_temps will
            pass
