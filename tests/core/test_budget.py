"""core.runs.budget: a run's memory and disk needs against made-up free memory and disk."""

import dataclasses

import pytest

from core.jobs import worker
from core.runs import budget
from core.runs.config import RunConfig
from core.runs.store import Store

GB = 1_000_000_000


def _config(**settings):
    return RunConfig(dataset=".", weights="none", **settings)


def test_an_ordinary_run_fits_an_ordinary_machine():
    assert budget.memory_problem(_config(), images=2000, ram_free=8 * GB) is None
    assert budget.memory_problem(_config(strategy="full"), 2000, 16 * GB, gpu_free=6 * GB) is None


@pytest.mark.parametrize("gpu_free", [None, 8 * GB])
def test_a_huge_batch_is_refused_with_settings_that_fit(gpu_free):
    config = _config(strategy="full", image_size=512, batch_size=1024)
    message = budget.memory_problem(config, 1000, 16 * GB, gpu_free)
    assert ("GPU memory" in message) == (gpu_free is not None)
    batch = int(message.split("batch size to ")[1].split()[0])
    size = int(message.split("image size to ")[1])
    assert (
        budget.memory_problem(
            dataclasses.replace(config, batch_size=batch), 1000, 16 * GB, gpu_free
        )
        is None
    )
    assert budget.memory_problem(
        dataclasses.replace(config, batch_size=batch + 1), 1000, 16 * GB, gpu_free
    )
    assert (
        budget.memory_problem(dataclasses.replace(config, image_size=size), 1000, 16 * GB, gpu_free)
        is None
    )
    assert size % 8 == 0 and 32 <= size < 512


def test_memory_grows_with_batch_image_size_and_trained_blocks():
    small, big = budget.memory_need(_config(), 100), budget.memory_need(_config(batch_size=64), 100)
    assert big.device > small.device
    assert budget.memory_need(_config(image_size=300), 100).total > small.total
    assert budget.memory_need(_config(strategy="full"), 100).device > small.device
    assert budget.memory_need(_config(), 10_000).host > small.host  # cached features


def test_nothing_fits_says_so():
    message = budget.memory_problem(_config(strategy="full"), 100, ram_free=50_000_000)
    assert "does not fit even with a batch of 1" in message


def test_out_of_memory_advice_halves_the_batch_and_the_pixels():
    assert budget.out_of_memory_advice(_config(batch_size=32, image_size=150)) == (
        "out of memory: lower the batch size to 16 or the image size to 104"
    )
    assert "batch of 1" in budget.out_of_memory_advice(_config(batch_size=1, image_size=32))


def test_disk_needs_room_for_model_checkpoints_and_cache(tmp_path):
    need = budget.disk_need(_config(strategy="finetune"), 1000)
    assert need > budget.disk_need(_config(strategy="head"), 1000) > 0
    assert budget.disk_problem(_config(), 1000, 100 * GB, tmp_path) is None
    message = budget.disk_problem(_config(), 1000, 10_000_000, tmp_path)
    assert "not enough disk space" in message and str(tmp_path) in message
    assert budget.disk_full_message(_config(), 1000, tmp_path).startswith("disk full (needs about")


def test_submit_refuses_a_run_that_cannot_fit(binary_dataset, tmp_path, monkeypatch):
    store = Store(tmp_path / "home")
    monkeypatch.setattr(budget, "free_ram", lambda: 2 * GB)
    monkeypatch.setattr(budget, "free_gpu_memory", lambda: None)
    config = RunConfig(dataset=str(binary_dataset), weights="none", image_size=512, batch_size=512)
    with pytest.raises(ValueError, match="lower the batch size to [0-9]+ or the image size to"):
        worker.submit(store, config, start=False)
    assert store.list() == []
    monkeypatch.setattr(budget.shutil, "disk_usage", lambda path: type("U", (), {"free": 1000}))
    with pytest.raises(ValueError, match="not enough disk space"):
        worker.submit(store, dataclasses.replace(config, image_size=32, batch_size=8), start=False)
    assert store.list() == []


def test_a_disk_refusal_says_what_the_studios_caches_hold(binary_dataset, tmp_path, monkeypatch):
    from core.platform import settings

    home = tmp_path / "home"
    config = RunConfig(dataset=str(binary_dataset), weights="none", image_size=32, batch_size=8)
    monkeypatch.setattr(budget, "free_ram", lambda: 64 * GB)
    monkeypatch.setattr(budget, "free_gpu_memory", lambda: None)
    monkeypatch.setattr(budget.shutil, "disk_usage", lambda path: type("U", (), {"free": 1000}))
    home.mkdir()
    assert "cache prune" not in budget.run_problem(config, home)  # nothing cached: no hint
    spectrograms = settings.cache_dir(home) / "spectrograms" / "a"  # prune never frees these
    spectrograms.mkdir(parents=True)
    (spectrograms / "x.png").write_bytes(b"x" * 5 * budget.MB)
    assert "cache prune" not in budget.run_problem(config, home)
    entry = settings.cache_dir(home) / "decoded" / "a" / "32px"
    entry.mkdir(parents=True)
    (entry / "images.npy").write_bytes(b"x" * 3 * budget.MB)
    assert "caches hold 3 MB of it: `python -m core cache prune`" in budget.run_problem(
        config, home
    )
