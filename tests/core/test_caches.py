"""Disk use of a studio home and pruning its caches (core.jobs.caches), on fake cache trees."""

from __future__ import annotations

import json
import os
import time

import pytest

from core.jobs import caches, worker
from core.platform import settings
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.store import Store
from core.train import context

DAY = caches.DAY_SECONDS


def _entry(home, *parts, size=1000, age_days=0.0):
    folder = settings.cache_dir(home).joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "images.npy").write_bytes(b"x" * size)
    when = time.time() - age_days * DAY
    for path in (folder / "images.npy", folder):
        os.utime(path, (when, when))
    return folder


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "home")
    _entry(store.home, "features", "aaa", "imagenet", "48px-pil", size=4000, age_days=40)
    _entry(store.home, "features", "bbb", "imagenet", "48px-pil", size=2000, age_days=1)
    _entry(store.home, "decoded", "aaa", "48px-pil", size=500, age_days=40)
    (settings.cache_dir(store.home) / "maps").mkdir()
    (settings.cache_dir(store.home) / "maps" / "m.json").write_text("{}")
    return store


def test_disk_use_counts_each_cache_and_the_runs(store):
    (store.runs_dir / "r1").mkdir(parents=True)
    (store.runs_dir / "r1" / "model.keras").write_bytes(b"m" * 300)
    use = caches.disk_use(store.home)
    assert (use.features_bytes, use.decoded_bytes, use.other_cache_bytes) == (6000, 500, 2)
    assert use.runs_bytes == 300 and use.caches_bytes == 6500
    assert use.free_bytes > 0


def test_entries_are_listed_oldest_use_first(store):
    found = caches.cache_entries(store.home)
    assert [(e.kind, e.images) for e in found][-1] == ("features", "bbb")
    assert {e.size_bytes for e in found} == {4000, 2000, 500}


def test_prune_older_than_keeps_what_was_used_since(store):
    outcome = caches.prune(store, older_than_days=30)
    assert {(e.kind, e.images) for e in outcome.removed} == {
        ("features", "aaa"),
        ("decoded", "aaa"),
    }
    assert outcome.freed_bytes == 4500 and outcome.kept == 1
    assert not (settings.cache_dir(store.home) / "features" / "aaa").exists()  # no empty folders
    assert (settings.cache_dir(store.home) / "features" / "bbb").is_dir()
    assert (settings.cache_dir(store.home) / "maps" / "m.json").is_file()  # not a prunable cache
    assert "freed 4.5 KB" in outcome.describe()


def test_keep_runs_keeps_the_images_a_recorded_run_trained_on(store, tmp_path):
    run = store.create(RunConfig(dataset=str(tmp_path), weights="none"))
    store.claim_next(worker_pid=0)
    store.finish(run.id, store_mod.DONE)
    store.run_dir(run.id).mkdir(parents=True, exist_ok=True)
    (store.run_dir(run.id) / context.CACHE_KEY_FILE).write_text(json.dumps({"images": "aaa"}))
    outcome = caches.prune(store, keep_runs=True)
    assert [e.images for e in outcome.removed] == ["bbb"]
    assert caches.prune(store).freed_bytes == 4500  # without --keep-runs they go too


def test_nothing_is_pruned_while_a_run_is_active(store, tmp_path):
    run = store.create(RunConfig(dataset=str(tmp_path), weights="none"))
    with pytest.raises(caches.CacheBusy, match=run.id):
        caches.prune(store)
    assert len(caches.cache_entries(store.home)) == 3


def test_nothing_is_pruned_while_a_worker_is_alive(store):
    held = worker._try_lock(store.home)  # another process's worker, idle but alive
    try:
        with pytest.raises(caches.CacheBusy, match="worker"):
            caches.prune(store)
    finally:
        held.close()
    assert len(caches.cache_entries(store.home)) == 3
    assert len(caches.prune(store).removed) == 3  # once it has gone


def test_a_negative_age_is_refused(store):
    with pytest.raises(caches.PruneRefused, match="days"):
        caches.prune(store, older_than_days=-1)
