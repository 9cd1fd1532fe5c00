"""What a dataset scan learnt about each file, kept in the studio home: the Data page, the worker
and the CLI read an unchanged folder once, and a changed or added file is read again alone.

One SQLite table in home/cache/scan.sqlite3: (absolute path, media kind) -> the file's size and
modification time when it was read, and what the scan found: its content hash, width, height
and mode, or why it cannot be used. A row counts only while the size, the modification time and
CHECK_VERSION are unchanged. The cache only saves time: when it cannot be read or written (a
read-only home, a damaged file, a lock held too long), the scan reads the files as without it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path

from core.platform import settings

FILE_NAME = "scan.sqlite3"
# Bump when what a file's check returns changes (a new decoder, a new refusal): older rows are
# then ignored, and each file is read again once.
CHECK_VERSION = 1
_BATCH = 500  # paths per query (SQLite allows 999 parameters in old builds)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT NOT NULL, kind TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    version INTEGER NOT NULL, sha256 TEXT NOT NULL, width INTEGER NOT NULL,
    height INTEGER NOT NULL, mode TEXT NOT NULL, problem TEXT NOT NULL,
    PRIMARY KEY (path, kind)
)
"""


@dataclass(frozen=True)
class Stamp:
    """What says a file is unchanged since it was read: its size and modification time."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> Stamp | None:
        """The file's stamp, or None when it cannot be stat'ed (the scan then reports why)."""
        try:
            found = os.stat(path)
        except OSError:
            return None
        return cls(found.st_size, found.st_mtime_ns)


@dataclass(frozen=True)
class Found:
    """What reading one file gave: its content hash and shape, or (`problem`) why it cannot be
    used."""

    sha256: str = ""
    width: int = 0
    height: int = 0
    mode: str = ""
    problem: str = ""


class ScanCache:
    def __init__(self, home: str | os.PathLike[str]) -> None:
        self.path = settings.cache_dir(Path(home)) / FILE_NAME

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        try:
            connection.execute("PRAGMA journal_mode=WAL")  # the page reads while the worker writes
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(_SCHEMA)
        except sqlite3.Error:
            connection.close()
            raise
        return connection

    def known(self, kind: str, stamps: dict[Path, Stamp]) -> dict[Path, Found]:
        """Files whose stamp matches what was read before, with what was found then."""
        if not stamps or not self.path.exists():
            return {}
        by_name = {str(path): path for path in stamps}
        names = list(by_name)
        out: dict[Path, Found] = {}
        try:
            with closing(self._connect()) as connection:
                for start in range(0, len(names), _BATCH):
                    batch = names[start : start + _BATCH]
                    rows = connection.execute(
                        "SELECT path, size, mtime_ns, sha256, width, height, mode, problem "
                        f"FROM files WHERE kind = ? AND version = ? AND path IN "
                        f"({','.join('?' * len(batch))})",
                        [kind, CHECK_VERSION, *batch],
                    )
                    for name, size, mtime_ns, *found in rows:
                        path = by_name[name]
                        if stamps[path] == Stamp(size, mtime_ns):
                            out[path] = Found(*found)
        except (sqlite3.Error, OSError):
            return {}
        return out

    def remember(self, kind: str, found: Iterable[tuple[Path, Stamp, Found]]) -> None:
        """Keep what was read, each file under the stamp it had before it was read (a file
        changed while being read is then read again next time). A damaged cache file is
        started afresh."""
        rows = [
            (str(path), kind, stamp.size, stamp.mtime_ns, CHECK_VERSION, *_fields(what))
            for path, stamp, what in found
        ]
        if not rows:
            return
        for attempt in (1, 2):
            try:
                with closing(self._connect()) as connection, connection:
                    connection.executemany(
                        "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                    )
                return
            except sqlite3.DatabaseError:
                if attempt == 1:
                    self._remove()
            except (sqlite3.Error, OSError):
                return  # a cache not written costs a re-read next time, nothing else

    def _remove(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with suppress(OSError):
                self.path.with_name(self.path.name + suffix).unlink()


def _fields(found: Found) -> tuple[str, int, int, str, str]:
    return found.sha256, found.width, found.height, found.mode, found.problem
