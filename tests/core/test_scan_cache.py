"""The scan cache (core.data.scan_cache): an unchanged folder is read once per studio home, a
changed or added file alone again, and a broken cache never breaks a scan."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image
from synthetic import write_colour_dataset

from core.data import datasets
from core.data.scan_cache import ScanCache
from core.runs.config import RunConfig
from core.runs.store import Store
from core.train import context


@pytest.fixture
def reads(monkeypatch) -> list:
    """The paths the scan reads (opens and hashes), in the order it reads them."""
    read: list = []
    real = datasets._read_file

    def counting(media, path):
        read.append(path.name)
        return real(media, path)

    monkeypatch.setattr(datasets, "_read_file", counting)
    return read


def _outcome(found: datasets.Scan):
    return found.items, found.unreadable, found.summary()


def test_an_unchanged_folder_is_read_once_per_home(tmp_path, reads):
    root = write_colour_dataset(tmp_path / "d", per_class=4)
    (root / "red" / "cut.png").write_bytes((root / "red" / "red_00.png").read_bytes()[:200])
    first = datasets.scan(root, cache=ScanCache(tmp_path / "home"))
    assert len(reads) == 9
    again = datasets.scan(root, cache=ScanCache(tmp_path / "home"))  # e.g. another process
    assert len(reads) == 9  # nothing read again
    assert _outcome(again) == _outcome(first)
    assert [rel for rel, _ in again.unreadable] == ["red/cut.png"]
    datasets.scan(root, cache=ScanCache(tmp_path / "other-home"))
    assert len(reads) == 18


def test_a_changed_or_added_file_is_read_again_alone(tmp_path, reads):
    root = write_colour_dataset(tmp_path / "d", per_class=4)
    home = tmp_path / "home"
    before = datasets.scan(root, cache=ScanCache(home))
    changed = root / "blue" / "blue_01.png"
    Image.new("RGB", (24, 16), (0, 0, 200)).save(changed)
    os.utime(changed, ns=(1, 1))  # a different modification time, even on a coarse clock
    Image.new("RGB", (8, 8), (0, 0, 200)).save(root / "blue" / "new.png")
    reads.clear()
    after = datasets.scan(root, cache=ScanCache(home))
    assert sorted(reads) == ["blue_01.png", "new.png"]
    sizes = {i.rel: (i.width, i.height, i.sha256) for i in after.items}
    old = {i.rel: i.sha256 for i in before.items}
    assert sizes["blue/blue_01.png"][:2] == (24, 16)
    assert sizes["blue/blue_01.png"][2] != old["blue/blue_01.png"]
    assert sizes["blue/new.png"][:2] == (8, 8)


def test_a_damaged_cache_file_costs_one_reread(tmp_path, reads):
    root = write_colour_dataset(tmp_path / "d", per_class=3)
    cache = ScanCache(tmp_path / "home")
    cache.path.parent.mkdir(parents=True)
    cache.path.write_bytes(np.random.default_rng(0).bytes(5000))
    found = datasets.scan(root, cache=cache)
    assert len(found.items) == 6 and len(reads) == 6
    datasets.scan(root, cache=cache)  # the damaged file was started afresh
    assert len(reads) == 6


def test_progress_counts_files_and_cached_ones(tmp_path):
    root = write_colour_dataset(tmp_path / "d", per_class=5)
    seen: list[datasets.ScanProgress] = []
    datasets.scan(root, cache=ScanCache(tmp_path / "home"), progress=seen.append, workers=2)
    assert [p.done for p in seen] == list(range(11)) and {p.total for p in seen} == {10}
    assert seen[0].seconds_left is None and seen[-1].seconds_left == 0
    seen.clear()
    datasets.scan(root, cache=ScanCache(tmp_path / "home"), progress=seen.append)
    assert [(p.done, p.cached) for p in seen] == [(10, 10)]


def test_a_run_records_its_long_scans_progress(tmp_path):
    store = Store(tmp_path / "home")
    run = store.create(RunConfig(dataset=str(tmp_path), strategy="head"))
    update = context._scan_progress(store, run.id)
    update(datasets.ScanProgress(10, 1000, 0, 0.5))  # within the first second: not yet
    assert store.get(run.id).progress.stage != "scanning"
    update(datasets.ScanProgress(400, 1000, 0, 2.0))
    progress = store.get(run.id).progress
    assert (progress.stage, progress.step, progress.steps) == ("scanning", 400, 1000)
    assert progress.eta_seconds == 3.0


def test_a_scan_stopped_halfway_keeps_what_it_read(tmp_path, monkeypatch):
    root = write_colour_dataset(tmp_path / "d", per_class=5)
    real = datasets._read_file
    read: list = []

    def failing_at_the_seventh(media, path):
        if len(read) == 6:
            raise RuntimeError("the scan was stopped")
        read.append(path.name)
        return real(media, path)

    monkeypatch.setattr(datasets, "SAVE_EVERY", 3)
    monkeypatch.setattr(datasets, "_read_file", failing_at_the_seventh)
    with pytest.raises(RuntimeError):
        datasets.scan(root, cache=ScanCache(tmp_path / "home"), workers=1)
    read.clear()
    monkeypatch.setattr(
        datasets, "_read_file", lambda media, path: read.append(1) or real(media, path)
    )
    assert len(datasets.scan(root, cache=ScanCache(tmp_path / "home")).items) == 10
    assert len(read) == 4  # the six read before the stop were kept
