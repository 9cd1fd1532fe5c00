"""A studio home's disk use, and pruning its decoded-image and feature caches.

Both caches are keyed by the images' content (core.train.decoded_cache, core.train.features)
and never pruned by training: they only grow. `disk_use` measures them (for `core doctor`,
the start page), `prune` frees them:

- safely: nothing is removed while a run of this home is active (queued, running, stopping)
  or a worker of this home is alive (a warm one may claim a run at any moment); while pruning
  this process holds the workers' locks, so no run can start reading a file being removed.
  Runs queued meanwhile wait and start afterwards (`worker.reap`);
- selectively: `older_than_days` keeps entries used more recently (a cache hit refreshes an
  entry's time, core.platform.fileio.mark_used); `keep_runs` keeps the entries of the images
  that runs still in the store trained on (recorded in their folder as cache_key.json; runs
  recorded before that are not known).
A removed entry is only a cost: the next run that needs it decodes or extracts again.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.jobs import engines, worker
from core.platform import settings
from core.platform.fileio import folder_bytes
from core.platform.refusal import Refusal
from core.runs import store as store_mod
from core.runs.store import Store
from core.train import context

FEATURES, DECODED = settings.FEATURES_CACHE, settings.DECODED_CACHE
ENTRY_DEPTH = {
    FEATURES: 3,
    DECODED: 2,
}  # features/<images>/<weights>/<size>, decoded/<images>/<size>
DAY_SECONDS = 86400


class CacheBusy(Refusal, RuntimeError):
    """Pruning now could remove a file a run is reading."""


class PruneRefused(Refusal, ValueError):
    """A prune asked with settings that mean nothing (a negative age)."""


@dataclass(frozen=True)
class CacheEntry:
    kind: str  # FEATURES | DECODED
    path: Path
    images: str  # the images' content fingerprint (the entry's first folder)
    size_bytes: int
    last_used: float  # newest modification time of its files (a hit refreshes it)


@dataclass(frozen=True)
class DiskUse:
    """What a studio home holds on disk, and what is left on its filesystem."""

    home: Path
    runs_bytes: int
    features_bytes: int
    decoded_bytes: int
    other_cache_bytes: int  # spectrograms, maps of the data
    free_bytes: int | None  # None: the filesystem could not be asked

    @property
    def caches_bytes(self) -> int:
        return self.features_bytes + self.decoded_bytes


@dataclass(frozen=True)
class PruneOutcome:
    removed: tuple[CacheEntry, ...]
    kept: int  # entries left (too recent, or a run's)

    @property
    def freed_bytes(self) -> int:
        return sum(e.size_bytes for e in self.removed)

    def describe(self) -> str:
        if not self.removed:
            return f"nothing to prune ({self.kept} cache entries kept)"
        return (
            f"freed {human_bytes(self.freed_bytes)}: {len(self.removed)} cache entries removed, "
            f"{self.kept} kept"
        )


def human_bytes(count: int | None) -> str:
    if count is None:
        return "unknown"
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover


def _files(folder: Path) -> Iterator[Path]:
    return (p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _entry(kind: str, path: Path, images: str) -> CacheEntry:
    sizes, times = 0, [path.stat().st_mtime]
    for file in _files(path):
        try:
            stat = file.stat()
        except OSError:
            continue
        sizes += stat.st_size
        times.append(stat.st_mtime)
    return CacheEntry(kind, path, images, sizes, max(times))


def cache_entries(home: Path) -> list[CacheEntry]:
    """Every decoded-image and feature cache entry of the home, oldest use first."""
    found = []
    for kind, depth in ENTRY_DEPTH.items():
        root = settings.cache_dir(home) / kind
        if not root.is_dir():
            continue
        for path in root.glob("/".join("*" * depth)):
            if path.is_dir():
                found.append(_entry(kind, path, path.relative_to(root).parts[0]))
    return sorted(found, key=lambda e: e.last_used)


def _bytes(path: Path) -> int:
    """A folder's files, or a file (a link counts nothing); 0 for one vanishing meanwhile."""
    try:
        return folder_bytes(path) if path.is_dir() else path.lstat().st_size * path.is_file()
    except OSError:
        return 0


def disk_use(home: Path) -> DiskUse:
    cache = settings.cache_dir(home)
    features, decoded = folder_bytes(cache / FEATURES), folder_bytes(cache / DECODED)
    others = (
        [p for p in cache.iterdir() if p.name not in (FEATURES, DECODED)] if cache.is_dir() else []
    )
    try:
        free = shutil.disk_usage(home if home.exists() else home.parent).free
    except OSError:
        free = None
    return DiskUse(
        home=home,
        runs_bytes=folder_bytes(settings.runs_dir(home)),
        features_bytes=features,
        decoded_bytes=decoded,
        other_cache_bytes=sum(_bytes(p) for p in others),
        free_bytes=free,
    )


def images_of_runs(store: Store) -> set[str]:
    """The images' fingerprints the store's runs recorded (core.train.context.CACHE_KEY_FILE)."""
    found = set()
    for run in store.list():
        try:
            data = json.loads((store.run_dir(run.id) / context.CACHE_KEY_FILE).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("images"), str):
            found.add(data["images"])
    return found


def chosen(
    entries: list[CacheEntry],
    older_than_days: float | None,
    keep: set[str],
    now: float,
) -> tuple[list[CacheEntry], list[CacheEntry]]:
    """(to remove, to keep): entries unused for `older_than_days` (all when None) whose images
    are not in `keep`."""
    limit = None if older_than_days is None else now - older_than_days * DAY_SECONDS
    remove: list[CacheEntry] = []
    stay: list[CacheEntry] = []
    for entry in entries:
        recent = limit is not None and entry.last_used > limit
        (stay if recent or entry.images in keep else remove).append(entry)
    return remove, stay


def _busy_words(store: Store) -> str | None:
    active = store.list(statuses=store_mod.ACTIVE)
    if active:
        ids = ", ".join(r.id for r in active[:5]) + (" ..." if len(active) > 5 else "")
        return (
            f"{len(active)} run(s) of this studio are active ({ids}): they may be reading the "
            "caches. Prune once they have ended (or stop them)."
        )
    return None


def prune(
    store: Store,
    older_than_days: float | None = None,
    keep_runs: bool = False,
    now: float | None = None,
) -> PruneOutcome:
    """Remove the chosen cache entries; raises CacheBusy while a run or a worker is active."""
    if older_than_days is not None and older_than_days < 0:
        raise PruneRefused("--older-than takes a number of days, 0 or more")
    if words := _busy_words(store):
        raise CacheBusy(words)
    locks = []
    try:
        for kind in (engines.LOCAL, engines.RAY):
            lock = worker._try_lock(store.home, kind)
            if lock is None:
                raise CacheBusy(
                    "a worker of this studio is running (it stays ready for a while after a "
                    "run, then exits): prune in a few minutes."
                )
            locks.append(lock)
        if words := _busy_words(store):  # queued between the first look and the locks
            raise CacheBusy(words)
        keep = images_of_runs(store) if keep_runs else set()
        remove, stay = chosen(
            cache_entries(store.home), older_than_days, keep, time.time() if now is None else now
        )
        for entry in remove:
            shutil.rmtree(entry.path, ignore_errors=True)
        _remove_empty_parents(store.home)
        return PruneOutcome(tuple(remove), len(stay))
    finally:
        for lock in locks:
            lock.close()
        if locks and store.list(statuses=(store_mod.QUEUED,)):
            worker.reap(store)  # runs queued while the locks were held start now


def _remove_empty_parents(home: Path) -> None:
    """The image and weights folders left empty by the removed entries."""
    for kind in ENTRY_DEPTH:
        root = settings.cache_dir(home) / kind
        if not root.is_dir():
            continue
        for folder in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
