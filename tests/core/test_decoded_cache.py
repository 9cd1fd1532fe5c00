"""The decoded-image cache: images decoded once into a memory-mapped uint8 file, keyed by
content and size; batches read from it for fit/predict; an augmented run decodes each image
once, not once per epoch."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.data import datasets, imaging
from core.train import decoded_cache

SIZE = 32


def grey_dataset(root, count: int = 10):
    """Image k is a flat grey of value 10 * k (so a row says which image it is), 40x40 PNG."""
    for k in range(count):
        folder = root / ("a" if k % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 40), (10 * k,) * 3).save(folder / f"g{k:02d}.png")
    return datasets.scan(root).items


@pytest.fixture
def counted_decodes(monkeypatch):
    calls = []

    def counting(path, size=None):
        calls.append(str(path))
        return imaging.load_rgb(path, size)

    monkeypatch.setattr(decoded_cache, "load_rgb", counting)
    return calls


def grey_of(row: np.ndarray) -> int:
    return int(row[0, 0, 0])


def expected_grey(item: datasets.Item) -> int:
    return 10 * int(item.path.stem[1:])


def test_images_are_decoded_once_and_read_from_disk_afterwards(tmp_path, counted_decodes):
    items = grey_dataset(tmp_path / "data")
    seen = []
    first = decoded_cache.decoded(
        items, SIZE, tmp_path / "cache", progress=lambda *a: seen.append(a), workers=2
    )
    assert len(counted_decodes) == len(items) and seen[-1] == (len(items), len(items))
    assert first.array.shape == (len(items), SIZE, SIZE, 3) and first.array.dtype == np.uint8
    for item, row in zip(items, first.rows(items), strict=True):
        np.testing.assert_array_equal(first.array[row], imaging.load_rgb(item.path, SIZE))
    again = decoded_cache.decoded(list(reversed(items)), SIZE, tmp_path / "cache")
    assert len(counted_decodes) == len(items)  # nothing decoded again
    assert isinstance(again.array, np.memmap)
    np.testing.assert_array_equal(again.array, first.array)
    assert not list((tmp_path / "cache").rglob(".tmp-*"))


def test_the_cache_is_keyed_by_size_and_content(tmp_path, counted_decodes):
    items = grey_dataset(tmp_path / "data", 4)
    decoded_cache.decoded(items, SIZE, tmp_path / "cache")
    assert decoded_cache.decoded(items, 40, tmp_path / "cache").array.shape[1] == 40
    decoded_cache.decoded(items[:3], SIZE, tmp_path / "cache")
    assert len(counted_decodes) == 4 + 4 + 3


def test_a_file_that_fails_is_black_listed_and_not_cached(tmp_path, counted_decodes):
    items = grey_dataset(tmp_path / "data", 4)
    broken = items[2]
    broken.path.write_bytes(b"not an image any more")
    failures: list = []
    images = decoded_cache.decoded(items, SIZE, tmp_path / "cache", failures)
    assert [path for path, _ in failures] == [str(broken.path)]
    assert images.array[images.rows([broken])[0]].max() == 0
    for item in items:
        if item is not broken:
            assert grey_of(images.array[images.rows([item])[0]]) == expected_grey(item)
    decoded_cache.decoded(items, SIZE, tmp_path / "cache", [])
    assert len(counted_decodes) == 8  # decoded again: the first result was not kept


def test_batches_follow_items_or_reshuffle_every_epoch_with_labels_aligned(tmp_path):
    items = grey_dataset(tmp_path / "data")
    labels = np.array([expected_grey(i) for i in items])
    ordered = decoded_cache.image_batches(items, SIZE, 4, tmp_path / "cache", labels)
    assert len(ordered) == 3
    x = np.concatenate([ordered[k][0] for k in range(len(ordered))])
    assert x.dtype == np.float32 and [int(v) for v in x[:, 0, 0, 0]] == labels.tolist()
    shuffled = decoded_cache.image_batches(items, SIZE, 4, tmp_path / "cache", labels, 0)
    epochs = []
    for _ in range(2):
        batches = [shuffled[k] for k in range(len(shuffled))]
        for x, y in batches:
            assert x[:, 0, 0, 0].tolist() == y.tolist()  # each image with its own label
        epochs.append(np.concatenate([y for _, y in batches]).tolist())
        shuffled.on_epoch_end()
    assert sorted(epochs[0]) == sorted(labels.tolist())  # every image once per epoch
    assert epochs[0] != epochs[1] and epochs[0] != labels.tolist()


def test_validation_rows_come_from_the_whole_datasets_cache(tmp_path, counted_decodes):
    items = grey_dataset(tmp_path / "data")
    train, val = items[:7], items[7:]
    decoded_cache.image_batches(train, SIZE, 4, tmp_path / "cache", dataset=items)
    batches = decoded_cache.image_batches(val, SIZE, 4, tmp_path / "cache", dataset=items)
    assert len(counted_decodes) == len(items)
    assert batches[0][:, 0, 0, 0].tolist() == [expected_grey(i) for i in val]


@pytest.mark.slow
def test_an_augmented_run_decodes_each_image_once(binary_dataset, tmp_path, counted_decodes):
    from core.runs import store as store_mod
    from core.runs.config import RunConfig
    from core.runs.store import Store
    from core.train import training

    store = Store(tmp_path / "home")
    config = RunConfig(
        dataset=str(binary_dataset),
        strategy="finetune",
        augment=True,
        image_size=SIZE,
        weights="none",
        batch_size=8,
        epochs=2,
        finetune_epochs=2,
        seed=0,
    )
    run = store.create(config)
    store.claim_next(worker_pid=0)
    training.execute(store, run.id)
    assert store.get(run.id).status == store_mod.DONE, store.get(run.id).error
    assert len(store.epoch_history(run.id)) == 4
    assert sorted(counted_decodes) == sorted({str(p) for p in binary_dataset.rglob("*.png")})
