"""The map of the data and the near-duplicate finder, both from pooled VGG16 features.

A map run (RunConfig.task "map", queued by core.jobs.runs.start_map, executed by the worker) reads
the pooled block5 features of every picture from the feature cache (a training run's full
block5 maps are pooled; only what is not cached is extracted), projects them to 2-D and keeps
the pairs of pictures whose features point the same way (cosine similarity). The projection is
UMAP when umap-learn is installed, else t-SNE (scikit-learn), else PCA; the result says which.
Projections are cached by the images' content and the method, so asking again is instant.

The pages filter the stored pairs by a threshold (near_duplicates) and flag the pairs that
straddle training and a held-out side of a split (leakage); no TensorFlow here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.data.datasets import TRAIN, Item
from core.model import vgg16
from core.platform.fileio import atomic_write_text
from core.runs import tasks
from core.runs.results import MapPoint, MapResult, RunResult, SimilarPair, WrongImage

if TYPE_CHECKING:
    from core.data.datasets import Scan
    from core.runs.store import Run, Store
    from core.train.context import Context
    from core.train.features import FeatureTable, Output

UMAP, TSNE, PCA = "UMAP", "t-SNE", "PCA"
POOLED = (vgg16.BOTTLENECK_LAYER, "gap")  # what the map reads: 512 numbers per picture
FULL_MAP = (vgg16.BOTTLENECK_LAYER, "map")  # what the dense strategies cache: pooled here
# Pairs kept in a map's result: at or above this similarity (the page's slider starts here),
# at most MAX_PAIRS of them, most alike first.
PAIR_FLOOR = 0.95
MAX_PAIRS = 2000
# The page's default threshold, on centred features (see `centred`), measured on the emoji
# dataset (849 pictures, 64 px, the stand-in weights): of the pairs at 0.99 or more, 87 % are
# of one class and they look like renders of one picture (clock faces half an hour apart);
# between 0.97 and 0.99 about half are unrelated pictures (a cookie and a backpack).
DEFAULT_THRESHOLD = 0.99
FEW_POINTS = 10  # below this, t-SNE and UMAP have too few neighbours: PCA is used
PCA_FIRST = 50  # t-SNE and UMAP run on the features reduced to this many dimensions
BLOCK_ROWS = 1024  # similarity is computed this many rows at a time (memory stays flat)
MAPS_DIR = "maps"  # below the feature cache folder: one JSON file per projection


def _importable(name: str) -> bool:
    """Whether a library is installed, without importing it (umap pulls in numba)."""
    return importlib.util.find_spec(name) is not None


def choose_method() -> tuple[str, str]:
    """(method, why): UMAP if umap-learn is installed, else t-SNE, else PCA."""
    if _importable("umap"):
        return UMAP, "UMAP (umap-learn is installed)"
    if _importable("sklearn"):
        return TSNE, "t-SNE (scikit-learn), since umap-learn is not installed"
    return PCA, "PCA, since neither umap-learn nor scikit-learn is installed"


def normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (an all-zero row stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def centred(vectors: np.ndarray) -> np.ndarray:
    """Rows minus the dataset's mean row, scaled to unit length. Pooled VGG16 features are all
    non-negative, so the raw cosine of any two pictures is high (median 0.90 on the emoji
    dataset); without the mean, what sets pictures apart is left (median 0.05), and a
    threshold means about the same on any dataset."""
    vectors = np.asarray(vectors, dtype=np.float32)
    return normalised(vectors - vectors.mean(axis=0, keepdims=True))


def pca(vectors: np.ndarray, components: int) -> np.ndarray:
    """The rows projected on their first principal components (zero columns beyond the
    rank, so a tiny dataset still gets 2-D points)."""
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    out: np.ndarray = centred @ vt[:components].T
    if out.shape[1] < components:
        out = np.pad(out, ((0, 0), (0, components - out.shape[1])))
    return out


def project(vectors: np.ndarray, method: str, seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D points for the rows (cosine geometry: rows are centred and normalised first), and
    the method actually used (PCA for fewer than FEW_POINTS rows, whatever was asked)."""
    x = centred(vectors)
    n = len(x)
    if method == PCA or n < FEW_POINTS:
        return pca(x, 2), PCA
    reduced = pca(x, min(PCA_FIRST, n - 1, x.shape[1]))
    if method == UMAP:
        import umap

        reducer = umap.UMAP(n_neighbors=min(15, n - 1), random_state=seed)
        return np.asarray(reducer.fit_transform(reduced)), UMAP
    from sklearn.manifold import TSNE as SklearnTSNE

    tsne = SklearnTSNE(2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed)
    return np.asarray(tsne.fit_transform(reduced)), TSNE


def similar_pairs(
    vectors: np.ndarray, floor: float = PAIR_FLOOR, limit: int = MAX_PAIRS
) -> list[tuple[int, int, float]]:
    """(row i, row j, cosine similarity of the centred rows) for i < j at or above `floor`,
    most alike first, at most `limit`. Computed a block of rows at a time, so 50,000 pictures
    fit in memory."""
    x = centred(vectors)
    found: list[tuple[int, int, float]] = []
    for start in range(0, len(x), BLOCK_ROWS):
        block = x[start : start + BLOCK_ROWS] @ x.T
        rows, cols = np.nonzero(block >= floor)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if start + r < c:
                found.append((start + r, c, float(block[r, c])))
        found = sorted(found, key=lambda p: -p[2])[:limit]
    return found


# -- the worker's side --------------------------------------------------------------------------
def _cache_file(cache_root: Path, feature_key: str, hashes: Sequence[str], method: str) -> Path:
    digest = hashlib.sha256("\n".join([feature_key, method, *hashes]).encode()).hexdigest()
    return Path(cache_root) / MAPS_DIR / f"{digest[:32]}.json"


def cached_projection(
    cache_root: Path,
    feature_key: str,
    hashes: Sequence[str],
    method: str,
    vectors: Callable[[], np.ndarray],
) -> tuple[np.ndarray, str, list[tuple[int, int, float]], bool]:
    """(points, method used, similar pairs, from the cache?) for the images `hashes`: read
    from the cache, else computed from `vectors()` (called only then) and saved."""
    path = _cache_file(cache_root, feature_key, hashes, method)
    try:
        saved = json.loads(path.read_text())
        return np.asarray(saved["xy"]), saved["method"], [tuple(p) for p in saved["pairs"]], True
    except (OSError, ValueError, KeyError, TypeError):
        pass
    rows = vectors()
    xy, used = project(rows, method)
    xy = np.round(xy, 4)  # what the cache keeps: a second request gives the same points
    pairs = similar_pairs(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"method": used, "xy": xy.tolist(), "pairs": pairs}
    atomic_write_text(path, json.dumps(body))
    return xy, used, pairs, False


def pooled_rows(table: FeatureTable, output: Output, hashes: Sequence[str]) -> np.ndarray:
    """(len(hashes), channels) pooled features from a cached table of `output`: a "gap" output
    as it is, a full "map" averaged over its height and width, a block of rows at a time."""
    index = {sha: k for k, sha in enumerate(table.hashes)}
    positions = np.array([index[sha] for sha in hashes], dtype=np.int64)
    array = table.arrays[output]
    parts = []
    for start in range(0, len(positions), BLOCK_ROWS):
        rows = np.asarray(array[positions[start : start + BLOCK_ROWS]], dtype=np.float32)
        parts.append(rows.mean(axis=(1, 2)) if rows.ndim == 4 else rows)
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def map_items(items: Sequence[Item], excluded: Sequence[Item]) -> list[Item]:
    """Every picture of the folders, excluded ones too (undoing an exclusion needs no new map)."""
    return [*items, *excluded]


def build_result(
    items: Sequence[Item],
    hashes: Sequence[str],
    xy: np.ndarray,
    pairs: Iterable[tuple[int, int, float]],
    **fields: Any,
) -> MapResult:
    """The typed result: one point per file (copies of one content share its place) and the
    similar pairs by file, identical copies at similarity 1."""
    row = {sha: k for k, sha in enumerate(hashes)}
    by_hash: dict[str, list[str]] = defaultdict(list)
    for item in items:
        by_hash[item.sha256].append(item.rel)
    points = tuple(
        MapPoint(i.rel, i.label, float(xy[row[i.sha256], 0]), float(xy[row[i.sha256], 1]))
        for i in items
    )
    found = [
        SimilarPair(a, b, 1.0)
        for rels in by_hash.values()
        for k, a in enumerate(rels)
        for b in rels[k + 1 :]
    ]
    for i, j, similarity in pairs:
        found += [
            SimilarPair(a, b, round(float(similarity), 4))
            for a in by_hash[hashes[i]]
            for b in by_hash[hashes[j]]
        ]
    found.sort(key=lambda p: -p.similarity)
    return MapResult(points=points, pairs=tuple(found[:MAX_PAIRS]), pair_floor=PAIR_FLOOR, **fields)


def run_map(ctx: Context) -> MapResult:
    """The map task (called by core.train.training in the worker): pooled features from the cache
    (extracting only what is missing), the projection (cached) and the similar pairs."""
    from core.train import extraction, features

    items = map_items(ctx.scan.items, ctx.scan.excluded)
    hashes = sorted({i.sha256 for i in items})
    key = ctx.cache_key()
    method, note = choose_method()

    def vectors() -> np.ndarray:
        for output in (POOLED, FULL_MAP):  # whatever a run cached already
            table = features.cached_table(ctx.cache, key, [output], hashes)
            if table is not None:
                return pooled_rows(table, output, hashes)
        table = extraction.extract(ctx, extraction.build_base(ctx), [POOLED], items=items)
        rows = pooled_rows(table, POOLED, hashes)
        # extraction's last message ("VGG16 features: 300/300") would stand for the whole
        # projection (seen: a minute with no word)
        ctx.progress("projecting", placing)
        return rows

    placing = (
        f"placing {len(hashes)} pictures on a map ({method}); with a few hundred pictures "
        "this takes up to a minute"
    )
    ctx.progress("projecting", placing)
    feature_key = str(key.folder(Path(".")))
    xy, used, pairs, cached = cached_projection(
        ctx.cache.root, feature_key, hashes, method, vectors
    )
    if used != method:
        note = f"PCA: too few pictures (under {FEW_POINTS}) for {method}"
    return build_result(
        items,
        hashes,
        xy,
        pairs,
        method=used,
        method_note=note,
        images=ctx.scan.fingerprint(),
        weights=ctx.weights.label,
        image_size=ctx.config.image_size,
        from_cache=cached,
    )


# -- the pages' side ----------------------------------------------------------------------------
@dataclass(frozen=True)
class NearDuplicate:
    """Two files at least a threshold alike; `leak` when one trains and the other is held out
    (validation or test) in the split they were checked against."""

    first: str
    second: str
    similarity: float
    first_side: str | None
    second_side: str | None

    @property
    def leak(self) -> bool:
        return straddles(self.first_side, self.second_side)


def straddles(side_a: str | None, side_b: str | None) -> bool:
    """One side trains and the other is held out (validation, test): a leak."""
    if side_a is None or side_b is None or side_a == side_b:
        return False
    return TRAIN in (side_a, side_b)


def near_duplicates(
    result: MapResult,
    threshold: float,
    sides: Mapping[str, str] | None = None,
    present: Iterable[str] | None = None,
) -> list[NearDuplicate]:
    """The map's pairs at or above `threshold`, leaks first, then most alike. `sides`: file ->
    split side (a run's manifest "files", or a split drawn now); `present`: the files the
    dataset holds now (excluded or deleted files drop out)."""
    sides = sides or {}
    keep = set(present) if present is not None else None
    found = [
        NearDuplicate(p.first, p.second, p.similarity, sides.get(p.first), sides.get(p.second))
        for p in result.pairs
        if p.similarity >= threshold and (keep is None or (p.first in keep and p.second in keep))
    ]
    return sorted(found, key=lambda d: (not d.leak, -d.similarity))


def is_current(result: MapResult, images_fingerprint: str) -> bool:
    """Whether a map was drawn from the pictures the dataset holds now (edits aside)."""
    return result.images == images_fingerprint


def wrong_files(
    result: RunResult | None, root: str | Path, every: bool = False
) -> dict[str, WrongImage]:
    """rel -> the run's record of a most-wrong image lying in the dataset folder `root` (the
    run records absolute paths); with `every`, all its misclassified images (runs from before
    that list was kept give their most-wrong ones)."""
    if result is None:
        return {}
    base = Path(root).expanduser().resolve()
    out = {}
    for wrong in (every and result.misclassified) or result.most_wrong:
        path = Path(wrong.file).expanduser().resolve()
        if base in path.parents:
            out[path.relative_to(base).as_posix()] = wrong
    return out


def mistake(wrong: WrongImage) -> str:
    """'cat taken for dog (92%)'."""
    return f"{wrong.true} taken for {wrong.predicted} ({wrong.confidence:.0%})"


def finished_runs(store: Store, dataset: str | Path) -> list[Run]:
    """The dataset's finished training runs with a result, newest first: the runs whose
    most-wrong pictures and split the Data page can check."""
    from core.runs import store as store_mod

    target = str(Path(dataset).expanduser().resolve())
    return [
        run
        for run in store.list(statuses=store_mod.WITH_MODEL, limit=200)
        if run.config.task == tasks.TRAIN
        and run.training_result is not None
        and str(Path(run.dataset).expanduser().resolve()) == target
    ]


def split_sides(
    store: Store,
    run: Run | None,
    found: Scan,
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> dict[str, str]:
    """file -> side (train, validation, test) of a run's saved split, or without a run of the
    split the next run would draw now; {} when neither can be had."""
    from core.data import datasets
    from core.runs import runfiles

    try:
        if run is not None:
            return dict(runfiles.read_json(store.run_dir(run.id), "manifest.json")["files"])
        return dict(
            datasets.split(
                found, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed
            ).manifest()["files"]
        )
    except (runfiles.RunFilesMissing, datasets.DatasetError, KeyError, ValueError):
        return {}
