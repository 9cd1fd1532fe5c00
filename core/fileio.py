"""Small file helpers shared by the engine: content hashes and atomic writes.

Every model, manifest, checkpoint and cached array is written to a temporary file in the same
folder and moved into place with os.replace, so a killed process never leaves half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def hash_file(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's content, read in chunks (files may be larger than memory)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: str | Path) -> str:
    return hash_file(path, "sha256")


def write_atomically(path: Path, write: Callable[[Path], None], suffix: str = ".tmp") -> None:
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


def remove_stale_temps(folder: Path) -> int:
    """Delete temporary files a killed process left below `folder`; returns how many."""
    stale = [p for p in Path(folder).rglob(".tmp-*") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


class NpyWriter:
    """A .npy file preallocated at its final shape in a hidden temporary file next to `path`
    and filled through a memory map: only the pages being written are in memory, whatever the
    array's size. `commit()` moves it into place; `discard()` deletes the file (on POSIX the
    array stays readable until released, so a caller can still use what it wrote)."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
        os.close(fd)
        self.path, self.tmp = path, Path(tmp)
        try:
            self.array = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise

    def commit(self) -> np.ndarray:
        """Flush, move into place, and return the file memory-mapped read-only."""
        self.array.flush()
        os.replace(self.tmp, self.path)
        return np.load(self.path, mmap_mode="r")

    def discard(self) -> None:
        try:
            self.tmp.unlink(missing_ok=True)
        except OSError:  # Windows cannot delete a mapped file: remove_stale_temps will
            pass
