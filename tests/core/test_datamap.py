"""The map of the data and the near-duplicate finder (core.train.datamap): crafted feature vectors
for
the threshold and the leakage flags, the projection's fallback order and its cache, and one map
run through the worker's code path (weights none, tiny images)."""

from __future__ import annotations

import numpy as np
from synthetic import write_colour_dataset
from tiny_run import train

from core.data import datasets
from core.jobs import runs, worker
from core.runs.config import RunConfig
from core.runs.results import MapResult, SimilarPair, result_from_json
from core.runs.store import Run, Store
from core.train import datamap, features


def _vectors() -> np.ndarray:
    """20 unrelated pictures, a re-saved copy of the first (features barely change) and a
    slightly changed copy of the second."""
    rng = np.random.default_rng(0)
    rows = rng.random((20, 64))
    copies = [rows[:1] + 0.001 * rng.random((1, 64)), rows[1:2] + 0.05 * rng.random((1, 64))]
    return np.concatenate([rows, *copies])


def test_similar_pairs_keep_only_pairs_at_or_above_the_floor():
    pairs = datamap.similar_pairs(_vectors(), floor=0.95)
    assert [(i, j) for i, j, _ in pairs] == [(0, 20), (1, 21)]
    assert pairs[0][2] >= pairs[1][2] >= 0.95  # most alike first
    assert datamap.similar_pairs(_vectors(), floor=0.95, limit=1) == pairs[:1]
    assert datamap.similar_pairs(_vectors(), floor=0.99999) == [pairs[0]]
    everything = datamap.similar_pairs(_vectors(), floor=-1.0, limit=10**6)
    assert len(everything) == 22 * 21 // 2  # every pair once, never a picture with itself


def test_near_duplicates_follow_the_threshold_and_drop_excluded_files():
    result = MapResult(
        pairs=(SimilarPair("a", "b", 0.995), SimilarPair("a", "c", 0.96)), pair_floor=0.9
    )
    assert [(d.first, d.second) for d in datamap.near_duplicates(result, 0.99)] == [("a", "b")]
    assert len(datamap.near_duplicates(result, 0.95)) == 2
    assert datamap.near_duplicates(result, 0.95, present=["a", "c"])[0].second == "c"
    assert datamap.near_duplicates(result, 0.999) == []


def test_pairs_straddling_training_and_a_held_out_side_are_flagged_and_listed_first():
    result = MapResult(
        pairs=(
            SimilarPair("t1", "t2", 0.999),
            SimilarPair("t1", "v1", 0.98),
            SimilarPair("t2", "x1", 0.97),
            SimilarPair("v1", "x1", 0.99),
        )
    )
    sides = {"t1": "train", "t2": "train", "v1": "validation", "x1": "test"}
    found = datamap.near_duplicates(result, 0.95, sides)
    assert [(d.first, d.second, d.leak) for d in found] == [
        ("t1", "v1", True),
        ("t2", "x1", True),
        ("t1", "t2", False),
        ("v1", "x1", False),  # both held out: no training picture leaks
    ]
    assert not datamap.straddles("train", None)  # not in the split: nothing to say


def test_the_projection_falls_back_from_umap_to_tsne_to_pca(monkeypatch):
    installed = {"umap", "sklearn"}
    monkeypatch.setattr(datamap, "_importable", lambda name: name in installed)
    assert datamap.choose_method()[0] == datamap.UMAP
    installed.discard("umap")
    method, why = datamap.choose_method()
    assert method == datamap.TSNE and "umap-learn is not installed" in why
    installed.discard("sklearn")
    assert datamap.choose_method()[0] == datamap.PCA


def test_projections_are_two_dimensional_and_tiny_sets_use_pca():
    rng = np.random.default_rng(1)
    rows = rng.random((30, 16))
    xy, used = datamap.project(rows, datamap.TSNE)
    assert xy.shape == (30, 2) and used == datamap.TSNE and np.isfinite(xy).all()
    xy, used = datamap.project(rows[:4], datamap.TSNE)
    assert xy.shape == (4, 2) and used == datamap.PCA


def test_a_second_projection_of_the_same_images_and_method_comes_from_the_cache(tmp_path):
    calls = []

    def vectors():
        calls.append(1)
        return np.random.default_rng(2).random((12, 8))

    hashes = [f"h{k:02d}" for k in range(12)]
    first = datamap.cached_projection(tmp_path, "key", hashes, datamap.PCA, vectors)
    again = datamap.cached_projection(tmp_path, "key", hashes, datamap.PCA, vectors)
    assert len(calls) == 1 and not first[3] and again[3]
    assert np.allclose(first[0], again[0], atol=1e-3)
    datamap.cached_projection(tmp_path, "key", hashes, datamap.TSNE, vectors)
    assert len(calls) == 2  # another method is another projection


def test_the_feature_cache_serves_a_subset_of_what_it_holds(tmp_path):
    cache = features.FeatureCache(tmp_path)
    key = features.CacheKey("images", "none-0", 32)
    writer = cache.writer(key, ("block5_pool", "gap"), (3, 2))
    writer.write(0, np.array([[1, 0], [0, 1], [1, 1]], np.float32))
    writer.commit()
    cache.save_index(key, ("block5_pool", "gap"), ["a", "b", "c"])
    table = features.cached_table(cache, key, [("block5_pool", "gap")], ["a", "c"])
    assert table is not None
    assert datamap.pooled_rows(table, ("block5_pool", "gap"), ["c", "a"]).tolist() == [
        [1, 1],
        [1, 0],
    ]
    assert features.cached_table(cache, key, [("block5_pool", "gap")], ["a", "z"]) is None
    assert features.cached_table(cache, key, [("block5_pool", "map")], ["a"]) is None


def test_a_map_run_stores_a_typed_result_and_the_second_is_served_from_the_cache(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(datamap, "_importable", lambda name: name == "sklearn")  # no umap
    data = write_colour_dataset(tmp_path / "data", ("red", "blue"), per_class=6, size=32)
    store = Store(tmp_path / "home")
    config = RunConfig(dataset=str(data), task="map", image_size=32, weights="none")
    run = train(store, config)
    assert run.status == "done", run.error
    result = run.result
    assert isinstance(result, MapResult) and result.method == datamap.TSNE
    assert "umap-learn is not installed" in result.method_note
    assert {p.rel for p in result.points} == {
        f"{c}/{c}_{k:02d}.png" for c in ("red", "blue") for k in range(6)
    }
    assert result_from_json(result.to_json()) == result
    again = train(store, config)
    assert again.result.from_cache and again.result.points == result.points
    assert runs.latest_map(store, str(data)).id == again.id


def test_a_second_map_of_a_dataset_under_way_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "start_worker", lambda *args, **kwargs: None)
    data = write_colour_dataset(tmp_path / "data", ("red", "blue"), per_class=3, size=32)
    store = Store(tmp_path / "home")
    first = runs.start_map(store, str(data), 32, "none")
    assert isinstance(first, Run) and first.config.task == "map"
    refused = runs.start_map(store, str(data), 32, "none")
    assert isinstance(refused, runs.Refused) and refused.busy
    assert [r.id for r in store.list()] == [first.id]


def test_split_sides_without_a_run_draws_with_both_fractions_it_is_given(tmp_path):
    found = datasets.scan(write_colour_dataset(tmp_path / "d", per_class=10, size=16))
    with_test = datamap.split_sides(None, None, found, 0.2, 0.2, seed=0)
    without = datamap.split_sides(None, None, found, 0.2, 0.0, seed=0)
    assert sorted(with_test.values()).count("test") == 4
    assert "test" not in without.values() and list(without.values()).count("validation") == 4


def test_the_projection_has_its_own_message_after_the_features(tmp_path, monkeypatch):
    """Issue 20 item 12: after "VGG16 features: N/N images" the projection ran for a minute
    with no word; it says what it does while it does it."""
    monkeypatch.setattr(datamap, "_importable", lambda name: name == "sklearn")
    data = write_colour_dataset(tmp_path / "data", ("red", "blue"), per_class=6, size=32)
    store = Store(tmp_path / "home")
    seen = []
    real = datamap.project

    def watched(vectors, method, seed=0):
        seen.append(store.list()[0].progress.message)
        return real(vectors, method, seed)

    monkeypatch.setattr(datamap, "project", watched)
    run = train(store, RunConfig(dataset=str(data), task="map", image_size=32, weights="none"))
    assert run.status == "done", run.error
    assert seen and seen[0].startswith("placing 12 pictures on a map")
