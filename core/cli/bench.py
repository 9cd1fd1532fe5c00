"""`python -m core bench`: our pipeline against the textbook way, side by side in one process.

(a) raw VGG16 forward on in-memory tensors; (b) our extraction from JPEG files to cached
features, as a ratio of (a) (goal >= 0.90); (c) one epoch of block5 fine-tuning the textbook
way (whole model in fit, blocks 1-4 frozen, images decoded every epoch) against ours (block5 +
head on cached block4_pool outputs) (goal >= 4x); (d) seconds per head epoch on cached
block5_pool features for 2,000 images (goal < 1 s). The data path at real photo sizes:
(e) first scan + extraction from 12 MP JPEGs over the same pictures pre-shrunk (goal <= 1.3);
(f) an
augmented block5 epoch reading the decoded-image cache against the textbook one decoding every
JPEG each epoch (goal >= 2x); (g) peak resident memory of extraction over 10x the images, each
in a fresh child process (goal < 1.1). Each timing is the best of `repeats`, and the pairs are
interleaved so machine noise hits both sides alike.

(b), (c) and (d) run in the precision the worker would use here (`core.model.device`'s plan, or
`precision`); (a) is measured in float32 and in that precision (on a CPU also in bfloat16, to
report `cpu_bf16_speedup`), and (b) is compared with the fastest of them. The extraction speed
is recorded in the studio home (core.runs.speed) when `home` is given, for time estimates.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from core.model import device, vgg16
from core.platform import settings

if TYPE_CHECKING:
    from core.model.weights import WeightsSpec
    from core.runs.config import RunConfig

GOALS = {"extraction_ratio": 0.90, "finetune_speedup": 4.0, "head_epoch_seconds_2000": 1.0}


def write_jpegs(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """Synthetic photos-ish JPEGs (smooth gradients + noise), larger than the model input, in
    two class folders, so decoding and resizing cost what they cost with real files."""
    rng = np.random.default_rng(seed)
    paths = []
    yy, xx = np.mgrid[0:240, 0:320]
    for k in range(count):
        label = folder / ("a" if k % 2 else "b")
        label.mkdir(parents=True, exist_ok=True)
        phase = rng.uniform(0, 6.28, 3)
        pixels = np.stack([127 + 100 * np.sin(xx / 37 + phase[c] + yy / 53) for c in range(3)], -1)
        pixels += rng.normal(0, 12, pixels.shape)
        path = label / f"img_{k:05d}.jpg"
        Image.fromarray(np.uint8(np.clip(pixels, 0, 255))).save(path, quality=90)
        paths.append(path)
    return paths


def _best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, no GPU" if not _gpus() else f"{cpu}, GPU"


def _gpus() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def raw_precisions(plan: device.AccelerationPlan, chosen: str) -> list[str]:
    """Which precisions (a) measures: float32, the one in use, and bfloat16 on any CPU (the
    side-by-side that says whether this CPU gains from it)."""
    wanted = ["float32", chosen] + (["bfloat16"] if not plan.device.startswith("GPU") else [])
    return list(dict.fromkeys(wanted))


def _raw_forward(
    base: Any, precision: str, tensors: np.ndarray, batch_size: int
) -> Callable[[], None]:
    """(a): VGG16 up to block5_pool on in-memory tensors, in `precision`, weights of `base`."""
    import tensorflow as tf

    from core.model import models
    from core.model.backbone import build_vgg16
    from core.model.weights import NO_WEIGHTS

    with device.dtype_policy(precision):
        copy = build_vgg16(base.input.shape[1], NO_WEIGHTS)
        copy.set_weights(base.get_weights())
        extractor = models.feature_extractor(copy, [(vgg16.BOTTLENECK_LAYER, "map")])
    forward = tf.function(lambda x: extractor(x, training=False))

    def raw_forward() -> None:
        for start in range(0, len(tensors), batch_size):
            forward(tensors[start : start + batch_size]).numpy()

    raw_forward()  # trace once, outside the timing
    return raw_forward


def run(
    image_size: int = vgg16.DEFAULT_IMAGE_SIZE,
    images: int = 256,
    batch_size: int = 32,
    weights: str = "none",
    repeats: int = 2,
    precision: str = "auto",
    home: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    plan = device.current_plan()
    device.apply(plan)
    with device.run_precision(precision, plan) as chosen:
        report = _run(plan, chosen, image_size, images, batch_size, weights, repeats)
    if home is not None:
        from core.runs import speed

        speed.record(
            home,
            images,
            images / report["extraction_images_per_s"],
            image_size,
            chosen,
            "bench",
        )
    return report


def _run(
    plan: device.AccelerationPlan,
    chosen: str,
    image_size: int,
    images: int,
    batch_size: int,
    weights: str,
    repeats: int,
) -> dict[str, Any]:
    from core.data import datasets
    from core.model import models
    from core.model.backbone import build_vgg16
    from core.model.weights import WeightsSpec
    from core.train import features

    source = WeightsSpec.parse(weights).checked()
    base = build_vgg16(image_size, source)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_jpegs(root / "data", images)
        scan = datasets.scan(root / "data")
        labels = np.array([i.label == "a" for i in scan.items], dtype="float32").reshape(-1, 1)
        key = features.CacheKey(scan.fingerprint(), source.cache_id(0), image_size, chosen)

        # (a) raw forward on in-memory tensors, per precision, vs (b) files -> cached features
        tensors = (
            np.random.default_rng(0)
            .uniform(0, 255, (images, image_size, image_size, 3))
            .astype("float32")
        )
        forwards = {
            p: _raw_forward(base, p, tensors, batch_size) for p in raw_precisions(plan, chosen)
        }

        def ours_extract() -> None:
            cache = features.FeatureCache(root / f"cache-{time.perf_counter_ns()}")
            features.extract(
                base, scan.items, [(vgg16.BOTTLENECK_LAYER, "map")], key, cache, batch_size
            )

        raw_s: dict[str, list[float]] = {p: [] for p in forwards}
        ours_s = []
        for _ in range(repeats):
            for p, forward in forwards.items():
                raw_s[p].append(_best(forward, 1))
            ours_s.append(_best(ours_extract, 1))
        raw_ips = {p: images / min(times) for p, times in raw_s.items()}
        fastest = max(raw_ips, key=lambda p: raw_ips[p])
        ours_ips = images / min(ours_s)

        # (c) block5 fine-tuning epoch: textbook (whole model, images every epoch) vs cached
        head = models.dense_head(2)
        models.set_trainable(base, 1)
        textbook = models.image_model(base, head, name="textbook")
        textbook.compile(models.optimizer("sgd", 1e-4, 0.9), "binary_crossentropy")
        paths = [str(i.path) for i in scan.items]
        image_data = features.image_dataset(paths, image_size, batch_size, labels, shuffle_seed=0)
        cache = features.FeatureCache(root / "cache-c")
        start = time.perf_counter()
        table = features.extract(base, scan.items, [("block4_pool", "map")], key, cache, batch_size)
        block4_extraction_s = time.perf_counter() - start
        cached = table.rows(("block4_pool", "map"), scan.items)
        top = models.top_model(base, "block4_pool", head)
        top.compile(models.optimizer("sgd", 1e-4, 0.9), "binary_crossentropy")
        textbook.fit(
            image_data, epochs=1, verbose=0, shuffle=False
        )  # warm-up: tracing, first allocations
        top.fit(cached, labels, batch_size=batch_size, epochs=1, verbose=0)
        textbook_s, cached_s = [], []
        for _ in range(repeats):
            textbook_s.append(
                _best(lambda: textbook.fit(image_data, epochs=1, verbose=0, shuffle=False), 1)
            )
            cached_s.append(
                _best(
                    lambda: top.fit(cached, labels, batch_size=batch_size, epochs=1, verbose=0), 1
                )
            )

        # (d) head epoch on cached block5_pool features, 2,000 rows (tiled from ours)
        models.set_trainable(base, 0)
        bottleneck = features.extract(
            base, scan.items, [(vgg16.BOTTLENECK_LAYER, "map")], key, cache, batch_size
        ).rows((vgg16.BOTTLENECK_LAYER, "map"), scan.items)
        reps = math.ceil(2000 / images)
        x2000 = np.concatenate([bottleneck] * reps)[:2000]
        y2000 = np.concatenate([labels] * reps)[:2000]
        head_model = models.top_model(base, vgg16.BOTTLENECK_LAYER, models.dense_head(2))
        head_model.compile(
            models.optimizer("rmsprop", 1e-3), "binary_crossentropy", metrics=["accuracy"]
        )
        head_model.fit(x2000, y2000, batch_size=batch_size, epochs=1, verbose=0)
        head_s = _best(
            lambda: head_model.fit(x2000, y2000, batch_size=batch_size, epochs=1, verbose=0),
            repeats + 1,
        )
        datapath = run_datapath(base, source, root, image_size, batch_size, repeats=repeats)

    report: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "path": plan.why,
        "precision": chosen,
        "image_size": image_size,
        "images": images,
        "batch_size": batch_size,
        "weights": source.label,
        "raw_forward_images_per_s": round(raw_ips[chosen], 2),
        "raw_forward_images_per_s_by_precision": {p: round(v, 2) for p, v in raw_ips.items()},
        "fastest_raw_forward": fastest,
        "cpu_bf16_speedup": (
            round(raw_ips["bfloat16"] / raw_ips["float32"], 2) if "bfloat16" in raw_ips else None
        ),
        "extraction_images_per_s": round(ours_ips, 2),
        "extraction_ratio": round(ours_ips / raw_ips[fastest], 3),
        "textbook_finetune_epoch_s": round(min(textbook_s), 3),
        "cached_finetune_epoch_s": round(min(cached_s), 3),
        "finetune_speedup": round(min(textbook_s) / min(cached_s), 2),
        "block4_extraction_once_s": round(block4_extraction_s, 2),
        "head_epoch_seconds_2000": round(head_s, 3),
    }
    report.update(datapath)
    report["goals_met"] = {
        "extraction_ratio": report["extraction_ratio"] >= GOALS["extraction_ratio"],
        "finetune_speedup": report["finetune_speedup"] >= GOALS["finetune_speedup"],
        "head_epoch_seconds_2000": report["head_epoch_seconds_2000"]
        < GOALS["head_epoch_seconds_2000"],
    }
    report["goals_met"].update(datapath_goals_met(report))
    return report


def describe(report: dict[str, Any]) -> str:
    by_precision = ", ".join(
        f"{p} {v}" for p, v in report["raw_forward_images_per_s_by_precision"].items()
    )
    speedup = report["cpu_bf16_speedup"]
    return "\n".join(
        [
            f"VGG16 benchmark, {report['images']} images at {report['image_size']} px, "
            f"batch {report['batch_size']} ({report['machine']})",
            f"path: {report['path']}; this benchmark ran in {report['precision']}",
            f"(a) raw forward, in-memory tensors, images/s: {by_precision}"
            + (f"; bfloat16 / float32 = {speedup}x" if speedup is not None else ""),
            f"(b) our extraction from JPEG files to cache: {report['extraction_images_per_s']} "
            f"images/s = {report['extraction_ratio']:.2f} x the fastest (a), "
            f"{report['fastest_raw_forward']}  (goal >= 0.90)",
            f"(c) block5 fine-tuning epoch: textbook {report['textbook_finetune_epoch_s']} s, ours "
            f"{report['cached_finetune_epoch_s']} s = {report['finetune_speedup']}x faster "
            f"(goal >= 4x); one-time block4_pool extraction {report['block4_extraction_once_s']} s",
            f"(d) head epoch on cached features, 2,000 images: "
            f"{report['head_epoch_seconds_2000']} s (goal < 1 s)",
            *describe_datapath(report),
        ]
    )


# -- the data path at scale: real photo sizes, augmentation, dataset size ----------------------
DATAPATH_GOALS = {
    "photo_extraction_ratio": 1.3,  # at most
    "augmented_epoch_speedup": 2.0,  # at least
    "peak_rss_growth": 1.1,  # below
}
PHOTO_SIZE = (4032, 3024)  # a 12 MP phone photo
RSS_LAYER = ("block1_pool", "map")  # the largest output per image: growth shows soonest
_RSS_CHILD = (
    "import sys; from core.cli import bench; "
    "print(bench.extraction_peak_rss(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))"
)


def write_photos(folder: Path, count: int, size: tuple[int, int] = PHOTO_SIZE) -> list[Path]:
    """Camera-sized JPEGs (smooth gradients + sensor noise, quality 90) in two class folders."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    paths = []
    for k in range(count):
        label = folder / ("a" if k % 2 else "b")
        label.mkdir(parents=True, exist_ok=True)
        phase = rng.uniform(0, 6.28, 3)
        pixels = np.stack([127 + 100 * np.sin(xx / 370 + yy / 530 + p) for p in phase], -1)
        pixels += rng.normal(0, 12, pixels.shape).astype(np.float32)
        path = label / f"photo_{k:03d}.jpg"
        Image.fromarray(np.uint8(np.clip(pixels, 0, 255))).save(path, quality=90)
        paths.append(path)
    return paths


def shrink_copies(photos: list[Path], source: Path, target: Path, image_size: int) -> None:
    """The same pictures already at the model's input size (what a small dataset costs)."""
    for path in photos:
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as image:
            image.convert("RGB").resize((image_size, image_size)).save(out, quality=90)


def _photo_extraction_ratio(
    base: Any,
    source: WeightsSpec,
    root: Path,
    image_size: int,
    batch_size: int,
    repeats: int,
) -> tuple[float, float, float]:
    """The whole wait from a folder to its cached features: the first scan (an empty scan
    cache: every file read) and the extraction (decode included), from 12 MP JPEGs over the
    same pictures pre-shrunk; interleaved, best of `repeats` each. Returns (photos s, small s,
    the photos' first scan alone s)."""
    from core.data import datasets
    from core.data.scan_cache import ScanCache
    from core.train import features

    seconds: dict[str, list[float]] = {"photos": [], "small": []}
    scan_seconds: list[float] = []

    def scan_and_extract(name: str) -> float:
        """Seconds of the scan; the extraction follows, into a fresh feature cache."""
        start = time.perf_counter()
        fresh = root / f"home-{name}-{time.perf_counter_ns()}"
        scan = datasets.scan(root / name, cache=ScanCache(fresh))
        scanned = time.perf_counter() - start
        key = features.CacheKey(scan.fingerprint(), source.cache_id(0), image_size)
        cache = features.FeatureCache(fresh / "cache")
        features.extract(
            base, scan.items, [(vgg16.BOTTLENECK_LAYER, "map")], key, cache, batch_size
        )
        return scanned

    scan_and_extract("small")  # trace once, outside the timing
    for _ in range(repeats):
        for name in seconds:
            start = time.perf_counter()
            scanned = scan_and_extract(name)
            seconds[name].append(time.perf_counter() - start)
            if name == "photos":
                scan_seconds.append(scanned)
    return min(seconds["photos"]), min(seconds["small"]), min(scan_seconds)


RESCAN_FILES = 2000  # files of the cached rescan measured; the 10,000-file figure is scaled


def rescan_seconds(root: Path, files: int = RESCAN_FILES) -> float:
    """Seconds of a second scan (every file known to the scan cache) of `files` pictures:
    links to one small JPEG, as the cached scan's cost does not depend on a file's size."""
    from core.data import datasets
    from core.data.scan_cache import ScanCache

    one = root / "rescan-one.jpg"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(one)
    for k in range(files):
        label = root / "rescan" / ("a" if k % 2 else "b")
        label.mkdir(parents=True, exist_ok=True)
        os.link(one, label / f"img_{k:05d}.jpg")
    cache = ScanCache(root / "home-rescan")
    datasets.scan(root / "rescan", cache=cache)  # the first scan fills the cache
    return _best(lambda: datasets.scan(root / "rescan", cache=cache), 3)


def _augmented_epochs(
    base: Any, root: Path, image_size: int, batch_size: int, repeats: int
) -> tuple[float, float, float]:
    """One augmented block5 fine-tuning epoch on the 12 MP photos: the textbook way (JPEGs
    decoded every epoch by image_dataset_from_directory) against ours (decoded once into the
    memory-mapped cache, same model, same augmentation layers). Returns (textbook s, ours s,
    one-time decode s)."""
    import keras

    from core.data import datasets
    from core.model import models
    from core.train import decoded_cache

    scan = datasets.scan(root / "photos")
    labels = np.array([i.label == "a" for i in scan.items], dtype="float32").reshape(-1, 1)
    textbook_data = keras.utils.image_dataset_from_directory(
        root / "photos",
        label_mode="binary",
        image_size=(image_size, image_size),
        batch_size=batch_size,
        shuffle=True,
        seed=0,
        verbose=False,
    )
    start = time.perf_counter()
    ours_data = decoded_cache.image_batches(
        scan.items, image_size, batch_size, root / "decoded", labels, shuffle_seed=0
    )
    decode_once_s = time.perf_counter() - start
    models.set_trainable(base, 1)
    augment = models.image_augmentation("image", seed=0)
    model = models.image_model(base, models.dense_head(2), augment=augment, name="augmented")
    model.compile(models.optimizer("sgd", 1e-4, 0.9), "binary_crossentropy")

    def epoch(data: Any) -> None:  # a tf.data.Dataset or ArrayRows
        model.fit(data, epochs=1, verbose=0, shuffle=False)

    epoch(textbook_data)  # warm-up: tracing, first allocations
    epoch(ours_data)
    textbook_s, ours_s = [], []
    for _ in range(repeats):
        textbook_s.append(_best(lambda: epoch(textbook_data), 1))
        ours_s.append(_best(lambda: epoch(ours_data), 1))
    models.set_trainable(base, 0)
    return min(textbook_s), min(ours_s), decode_once_s


def extraction_peak_rss(folder: str, image_size: int, batch_size: int) -> int:
    """Run in a child process: extract RSS_LAYER for every image of `folder` into a fresh
    cache, then report this process's peak resident memory (ru_maxrss)."""
    import resource

    from core.data import datasets
    from core.model.backbone import build_vgg16
    from core.model.weights import WeightsSpec
    from core.train import features

    source = WeightsSpec.parse("none").checked()
    base = build_vgg16(image_size, source)
    scan = datasets.scan(folder)
    key = features.CacheKey(scan.fingerprint(), source.cache_id(0), image_size)
    with tempfile.TemporaryDirectory() as tmp:
        cache = features.FeatureCache(Path(tmp))
        features.extract(base, scan.items, [RSS_LAYER], key, cache, batch_size)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_rss_growth(root: Path, images: int, image_size: int, batch_size: int) -> float:
    """Peak resident memory of extraction over 10x the images, divided by that over 1x, each
    in its own fresh process (ru_maxrss is a per-process high-water mark)."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(settings.PROJECT_ROOT)}
    peaks = []
    for count in (images, 10 * images):
        folder = root / f"rss-{count}"
        write_jpegs_small(folder, count, image_size)
        child = subprocess.run(
            [sys.executable, "-c", _RSS_CHILD, str(folder), str(image_size), str(batch_size)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        peaks.append(int(child.stdout.split()[-1]))
    return peaks[1] / peaks[0]


def write_jpegs_small(folder: Path, count: int, size: int) -> None:
    rng = np.random.default_rng(2)
    for k in range(count):
        label = folder / ("a" if k % 2 else "b")
        label.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(label / f"img_{k:05d}.jpg", quality=90)


def run_datapath(
    base: Any,
    source: WeightsSpec,
    root: Path,
    image_size: int,
    batch_size: int,
    photos: int = 12,
    repeats: int = 2,
    rss_images: int = 200,
    rss_image_size: int = vgg16.MIN_IMAGE_SIZE,
) -> dict[str, Any]:
    """photo_extraction_ratio, augmented_epoch_speedup and peak_rss_growth, with their parts."""
    shots = write_photos(root / "photos", photos)
    shrink_copies(shots, root / "photos", root / "small", image_size)
    photos_s, small_s, scan_s = _photo_extraction_ratio(
        base, source, root, image_size, batch_size, repeats
    )
    rescan_s = rescan_seconds(root)
    textbook_s, ours_s, decode_once_s = _augmented_epochs(
        base, root, image_size, batch_size, repeats
    )
    growth = _peak_rss_growth(root, rss_images, rss_image_size, batch_size)
    return {
        "photos": photos,
        "photo_extraction_s": round(photos_s, 3),
        "small_extraction_s": round(small_s, 3),
        "photo_extraction_ratio": round(photos_s / small_s, 3),
        "scan_photos_per_s": round(photos / scan_s, 1),
        # measured on RESCAN_FILES files and scaled to 10,000 (the cost is per file)
        "rescan_seconds_10k": round(rescan_s * 10_000 / RESCAN_FILES, 2),
        "rescan_files_measured": RESCAN_FILES,
        "textbook_augmented_epoch_s": round(textbook_s, 3),
        "augmented_epoch_s": round(ours_s, 3),
        "photo_decode_once_s": round(decode_once_s, 3),
        "augmented_epoch_speedup": round(textbook_s / ours_s, 2),
        "rss_images": [rss_images, 10 * rss_images],
        "peak_rss_growth": round(growth, 3),
    }


def datapath_goals_met(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "photo_extraction_ratio": report["photo_extraction_ratio"]
        <= DATAPATH_GOALS["photo_extraction_ratio"],
        "augmented_epoch_speedup": report["augmented_epoch_speedup"]
        >= DATAPATH_GOALS["augmented_epoch_speedup"],
        "peak_rss_growth": report["peak_rss_growth"] < DATAPATH_GOALS["peak_rss_growth"],
    }


def describe_datapath(report: dict[str, Any]) -> list[str]:
    return [
        f"(e) first scan + extraction from {report['photos']} 12 MP JPEGs: "
        f"{report['photo_extraction_s']} s, same pictures pre-shrunk "
        f"{report['small_extraction_s']} s = {report['photo_extraction_ratio']}x (goal <= 1.3); "
        f"first scan {report['scan_photos_per_s']} photos/s, a rescan of 10,000 unchanged "
        f"files {report['rescan_seconds_10k']} s (scaled from {report['rescan_files_measured']})",
        f"(f) augmented block5 epoch on the photos: textbook "
        f"{report['textbook_augmented_epoch_s']} s, ours {report['augmented_epoch_s']} s = "
        f"{report['augmented_epoch_speedup']}x faster (goal >= 2x); one-time decode "
        f"{report['photo_decode_once_s']} s",
        f"(g) peak memory of extraction, {report['rss_images'][1]} over "
        f"{report['rss_images'][0]} images: {report['peak_rss_growth']}x (goal < 1.1)",
    ]


# -- engines: one small comparison through the local worker and through Ray -------------------
ENGINE_BENCH_STRATEGIES = ("head", "linear")
ENGINE_BENCH_SEEDS = (0, 1)


def _engine_bench_configs(
    dataset: Path, image_size: int, seeds: Sequence[int], keys: Sequence[str]
) -> list[RunConfig]:
    from core.data import datasets
    from core.jobs import runs
    from core.runs.config import RunConfig

    found = datasets.scan(str(dataset))
    configs = []
    for seed in seeds:
        base = RunConfig(
            dataset=str(dataset),
            image_size=image_size,
            weights="none",
            batch_size=8,
            epochs=1,
            seed=seed,
            precision="float32",
        )
        configs += runs.comparison_configs(found, base, keys)
    return configs


def _timed_executor(
    home: Path, configs: list[RunConfig], engine_args: list[str], cpus: int
) -> float:
    """Seconds from queueing the runs to the last one recorded, by an executor process of
    its own (so TensorFlow's import, and Ray's cluster start, are counted)."""
    import subprocess
    import sys

    from core.jobs import worker
    from core.jobs.engines import Engine
    from core.runs.store import DONE, Store

    store = Store(home)
    engine = Engine.choose("ray", "local") if engine_args else Engine()
    made = worker.submit_all(store, configs, group_id="bench", start=False, engine=engine)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "STUDIO_RAY_NUM_CPUS": str(cpus)}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "core", "--home", str(home), "worker", "--once", *engine_args],
        check=True,
        env=env,
        cwd=str(settings.PROJECT_ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    statuses = {store.get(r.id).status for r in made}
    if statuses != {DONE}:
        raise RuntimeError(f"the benchmark's runs ended {sorted(statuses)}, not all done")
    return seconds


def compare_engines(
    root: Path,
    image_size: int = vgg16.MIN_IMAGE_SIZE,
    images: int = 24,
    seeds: Sequence[int] = ENGINE_BENCH_SEEDS,
    keys: Sequence[str] = ENGINE_BENCH_STRATEGIES,
    cpus: int = 2,
) -> dict[str, Any]:
    """Wall time of one small comparison (strategies x seeds, random weights, tiny images)
    through the local worker (one run after another) and through a private Ray cluster of
    `cpus` CPUs (runs side by side, features extracted once per seed)."""
    write_jpegs_small(root / "data", images, image_size)
    configs = _engine_bench_configs(root / "data", image_size, seeds, keys)
    local_s = _timed_executor(root / "local", configs, [], cpus)
    ray_s = _timed_executor(
        root / "ray", configs, ["--engine", "ray", "--ray-address", "local"], cpus
    )
    return {
        "engine_runs": len(configs),
        "engine_strategies": list(keys),
        "engine_seeds": list(seeds),
        "engine_image_size": image_size,
        "ray_cpus": cpus,
        "local_engine_s": round(local_s, 1),
        "ray_engine_s": round(ray_s, 1),
        "ray_speedup": round(local_s / ray_s, 2),
    }


def describe_engines(report: dict[str, Any]) -> str:
    return (
        f"(h) a {report['engine_runs']}-run comparison ({' + '.join(report['engine_strategies'])}"
        f" x {len(report['engine_seeds'])} seeds, {report['engine_image_size']} px): local worker "
        f"{report['local_engine_s']} s, private Ray cluster ({report['ray_cpus']} CPUs) "
        f"{report['ray_engine_s']} s = {report['ray_speedup']}x (start-ups included)"
    )
