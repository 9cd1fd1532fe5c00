"""`python -m core bench`: its choices and report, and its data-path parts run on tiny pictures
(the real bench uses 12 MP photos): each measurement runs and gives sensible numbers."""

from __future__ import annotations

import time

import pytest

from core.cli import bench
from core.data import datasets
from core.model import device
from core.model.backbone import build_vgg16
from core.model.device import Gpu
from core.model.weights import WeightsSpec
from core.platform.hostinfo import CpuFeatures

pytestmark = pytest.mark.slow
SIZE = 32


@pytest.fixture(scope="module")
def model():
    source = WeightsSpec.parse("none").checked()
    return build_vgg16(SIZE, source), source


def test_photo_extraction_and_augmented_epochs_are_measured(model, tmp_path, monkeypatch):
    base, source = model
    photos = bench.write_photos(tmp_path / "photos", 4, size=(96, 64))
    bench.shrink_copies(photos, tmp_path / "photos", tmp_path / "small", SIZE)
    real_scan = datasets.scan

    def slow_scan(*args, **kwargs):  # the scan is part of what the user waits for
        time.sleep(0.5)
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(datasets, "scan", slow_scan)
    photos_s, small_s, scan_s = bench._photo_extraction_ratio(base, source, tmp_path, SIZE, 2, 1)
    assert photos_s > scan_s >= 0.5 and small_s >= 0.5
    monkeypatch.setattr(datasets, "scan", real_scan)
    textbook_s, ours_s, decode_s = bench._augmented_epochs(base, tmp_path, SIZE, 2, 1)
    assert textbook_s > 0 and ours_s > 0 and decode_s > 0
    assert all(layer.trainable is False for layer in base.layers[1:])  # left as found


def test_the_timed_rescan_reads_no_file_again(tmp_path, monkeypatch):
    reads = []
    real = datasets._read_file
    monkeypatch.setattr(
        datasets, "_read_file", lambda media, path: reads.append(1) or real(media, path)
    )
    assert bench.rescan_seconds(tmp_path, files=20) > 0
    assert len(reads) == 20  # the first scan only


def test_extraction_peak_memory_is_reported(tmp_path):
    bench.write_jpegs_small(tmp_path / "few", 4, SIZE)
    assert bench.extraction_peak_rss(str(tmp_path / "few"), SIZE, 2) > 0


DATAPATH = {
    "photos": 12,
    "photo_extraction_s": 3.0,
    "small_extraction_s": 2.5,
    "photo_extraction_ratio": 1.2,
    "scan_photos_per_s": 150.0,
    "rescan_seconds_10k": 0.8,
    "rescan_files_measured": 2000,
    "textbook_augmented_epoch_s": 9.0,
    "augmented_epoch_s": 4.0,
    "photo_decode_once_s": 1.0,
    "augmented_epoch_speedup": 2.25,
    "rss_images": [200, 2000],
    "peak_rss_growth": 1.02,
}


def test_datapath_goals_and_description():
    report = DATAPATH
    assert all(bench.datapath_goals_met(report).values())
    assert not bench.datapath_goals_met({**report, "peak_rss_growth": 1.3})["peak_rss_growth"]
    assert "2000 over 200 images" in "\n".join(bench.describe_datapath(report))
    assert "first scan 150.0 photos/s" in "\n".join(bench.describe_datapath(report))


def test_raw_forward_precisions():
    cpu = device.plan_acceleration([], CpuFeatures("x", False, False, True))
    amx = device.plan_acceleration([], CpuFeatures("x", True, True, True))
    ampere = device.plan_acceleration([Gpu("A100", (8, 0))])
    volta = device.plan_acceleration([Gpu("V100", (7, 0))])
    assert bench.raw_precisions(cpu, "float32") == ["float32", "bfloat16"]  # side by side
    assert bench.raw_precisions(amx, "bfloat16") == ["float32", "bfloat16"]
    assert bench.raw_precisions(ampere, "bfloat16") == ["float32", "bfloat16"]
    assert bench.raw_precisions(volta, "float16") == ["float32", "float16"]


def test_describe_names_the_path_and_the_bf16_speedup():
    report = {
        "images": 256,
        "image_size": 150,
        "batch_size": 32,
        "machine": "Xeon, 2 cores, no GPU",
        "path": "CPU with amx_bf16+avx512_bf16: bfloat16 compute (float32 heads), no XLA",
        "precision": "bfloat16",
        "raw_forward_images_per_s_by_precision": {"float32": 16.0, "bfloat16": 54.0},
        "fastest_raw_forward": "bfloat16",
        "cpu_bf16_speedup": 3.38,
        "extraction_images_per_s": 50.0,
        "extraction_ratio": 0.926,
        "textbook_finetune_epoch_s": 20.0,
        "cached_finetune_epoch_s": 2.0,
        "finetune_speedup": 10.0,
        "block4_extraction_once_s": 5.0,
        "head_epoch_seconds_2000": 0.5,
        **DATAPATH,  # the data-path lines are always measured and described
    }
    text = bench.describe(report)
    assert "path: CPU with amx_bf16" in text and "ran in bfloat16" in text
    assert "float32 16.0, bfloat16 54.0; bfloat16 / float32 = 3.38x" in text
    assert "0.93 x the fastest (a), bfloat16" in text
    gpu = {**report, "cpu_bf16_speedup": None}
    assert "bfloat16 / float32" not in bench.describe(gpu)
