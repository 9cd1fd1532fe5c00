"""Feature extraction streams each batch into a preallocated memory-mapped file (nothing is
concatenated in memory), training reads rows batch by batch, and the cache may store float16."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.data import datasets
from core.model import backbone
from core.model.weights import WeightsSpec
from core.train import features

SIZE = 32
OUTPUT = ("block3_pool", "map")


@pytest.fixture(scope="module")
def base():
    return backbone.build_vgg16(SIZE, WeightsSpec.parse("none").checked(), seed=0)


@pytest.fixture
def scan(binary_dataset):
    return datasets.scan(binary_dataset)


def key_for(scan) -> features.CacheKey:
    return features.CacheKey(scan.fingerprint(), "random-seed0", SIZE)


def test_batches_are_written_into_preallocated_arrays(binary_dataset, scan):
    import tensorflow as tf

    paths = [str(i.path) for i in scan.items]
    shapes_asked = []

    def allocate(shapes):
        shapes_asked.append(shapes)
        return features.in_memory(shapes)

    def forward(batch):
        pixels = tf.cast(batch, tf.float32)
        return [tf.reduce_mean(pixels, axis=[1, 2]), tf.reduce_max(pixels, axis=[1, 2, 3])]

    means, peaks = (
        w.array for w in features.run_extractor(forward, paths, SIZE, 5, allocate=allocate)
    )
    assert shapes_asked == [[(24, 3), (24,)]]  # once, at full size, before any row is written
    from core.data.imaging import load_rgb

    expected = np.stack([load_rgb(p, SIZE).mean(axis=(0, 1)) for p in paths])
    np.testing.assert_allclose(means, expected, rtol=1e-5)
    assert peaks.min() >= 0


def test_extraction_writes_a_memory_mapped_cache_and_leaves_no_temporary_file(base, scan, tmp_path):
    cache = features.FeatureCache(tmp_path / "cache")
    table = features.extract(base, scan.items, [OUTPUT], key_for(scan), cache, batch_size=5)
    array = table.arrays[OUTPUT]
    assert isinstance(array, np.memmap) and array.shape == (24, 4, 4, 256)
    assert not list((tmp_path / "cache").rglob(".tmp-*"))
    again = features.extract(base, scan.items, [OUTPUT], key_for(scan), cache)
    assert cache.hits == 1
    np.testing.assert_array_equal(again.rows(OUTPUT, scan.items), table.rows(OUTPUT, scan.items))


def test_float16_cache_is_half_the_size_and_close(base, scan, tmp_path):
    wide = features.FeatureCache(tmp_path / "cache")
    half = features.FeatureCache(tmp_path / "cache", dtype="float16")
    full = features.extract(base, scan.items, [OUTPUT], key_for(scan), wide)
    small = features.extract(base, scan.items, [OUTPUT], key_for(scan), half)
    assert half.misses == 1  # its own file, not the float32 one
    assert small.arrays[OUTPUT].dtype == np.float16
    assert small.arrays[OUTPUT].nbytes * 2 == full.arrays[OUTPUT].nbytes
    rows = small.rows(OUTPUT, scan.items)
    assert rows.dtype == np.float32
    np.testing.assert_allclose(rows, full.rows(OUTPUT, scan.items), rtol=2e-3, atol=1e-3)
    with pytest.raises(ValueError, match="float32 or float16"):
        features.FeatureCache(tmp_path, dtype="int8")


def test_a_failed_file_is_not_cached(base, scan, tmp_path):
    scan.items[0].path.write_bytes(b"changed since the scan")
    cache = features.FeatureCache(tmp_path / "cache")
    failures: list = []
    table = features.extract(base, scan.items, [OUTPUT], key_for(scan), cache, failures=failures)
    assert len(failures) == 1 and table.arrays[OUTPUT].shape[0] == 24
    assert cache.load(key_for(scan), OUTPUT) is None
    assert not list((tmp_path / "cache").rglob("*.npy"))


def test_training_batches_read_rows_by_index_in_item_order(base, scan, tmp_path):
    cache = features.FeatureCache(tmp_path / "cache")
    table = features.extract(base, scan.items, [OUTPUT], key_for(scan), cache)
    items = scan.items[::-1][:10]
    labels = np.arange(10)
    batches = table.batches(OUTPUT, items, 4, labels)
    x = np.concatenate([batches[k][0] for k in range(len(batches))])
    np.testing.assert_array_equal(x, table.rows(OUTPUT, items))
    shuffled = table.batches(OUTPUT, items, 4, labels, shuffle_seed=1)
    for k in range(len(shuffled)):
        xs, ys = shuffled[k]
        np.testing.assert_array_equal(xs, table.rows(OUTPUT, [items[j] for j in ys]))


def test_the_head_adapts_to_batches_as_to_the_whole_array(base, scan, tmp_path):
    from core.model import models

    output = ("block5_pool", "map")
    cache = features.FeatureCache(tmp_path / "cache")
    table = features.extract(base, scan.items, [output], key_for(scan), cache)
    whole, batched = models.dense_head(2), models.dense_head(2)
    models.adapt_head(whole, table.rows(output, scan.items))
    models.adapt_head(batched, table.batches(output, scan.items, 5))
    x = table.rows(output, scan.items[:3]) * 3 + 1
    np.testing.assert_allclose(np.asarray(batched[0](x)), np.asarray(whole[0](x)), rtol=1e-4)


def test_an_output_extracted_after_an_exclusion_leaves_the_others_rows_aligned(
    base, scan, tmp_path
):
    # The reviewer's sequence: a head run caches the map for every image, one is excluded (the
    # key stays: its fingerprint includes excluded files), a linear run extracts another output
    # for the rest, then the head run comes back. Each image must get its own rows.
    cache = features.FeatureCache(tmp_path / "cache")
    key = key_for(scan)
    first = features.extract(base, scan.items, [OUTPUT], key, cache)
    own_rows = {
        i.sha256: row for i, row in zip(scan.items, first.rows(OUTPUT, scan.items), strict=True)
    }
    kept = scan.items[1:]
    features.extract(base, kept, [("block3_pool", "gap")], key, cache)
    again = features.extract(base, kept, [OUTPUT], key, cache)
    assert cache.misses == 2  # the map was served from the cache, not re-extracted
    served = again.rows(OUTPUT, kept)
    np.testing.assert_array_equal(served, np.stack([own_rows[i.sha256] for i in kept]))
    both = features.extract(base, kept, [OUTPUT, ("block3_pool", "gap")], key, cache)
    np.testing.assert_allclose(both.rows(OUTPUT, kept), served, rtol=1e-5, atol=1e-5)


def test_an_index_that_does_not_count_the_rows_is_a_miss(base, scan, tmp_path):
    cache = features.FeatureCache(tmp_path / "cache")
    key = key_for(scan)
    features.extract(base, scan.items, [OUTPUT], key, cache)
    folder = key.folder(tmp_path / "cache")
    index = folder / "block3_pool-map.json"
    hashes = json.loads(index.read_text())
    index.write_text(json.dumps(hashes[1:]))  # e.g. an older shared index rewritten for fewer
    assert cache.load(key, OUTPUT) is None
    index.unlink()
    (folder / "images.json").write_text(json.dumps(hashes))  # the old shared index is not read
    assert cache.load(key, OUTPUT) is None
    features.extract(base, scan.items, [OUTPUT], key, cache)
    assert cache.misses == 2 and cache.load(key, OUTPUT) is not None
