"""`make gpu-check` (core.jobs.gpu_check): its verdict and report, and the check itself on
TensorFlow's CPU device (where it must fail, and say the model was not on a GPU)."""

from __future__ import annotations

import json
import math

import pytest

from core import cli
from core.jobs import gpu_check
from core.model.device_facts import DeviceUse
from core.platform.hostinfo import NvidiaGpu

A100 = NvidiaGpu("NVIDIA A100", 40960, (8, 0))
V100 = NvidiaGpu("Tesla V100", 16384, (7, 0))
ON_GPU = DeviceUse(("GPU:0",), ("NVIDIA A100",), "mixed_bfloat16", True, 1)


@pytest.mark.parametrize(
    ("gpus", "precision"),
    [([A100], "bfloat16"), ([V100], "float16"), ([A100, V100], "float16")],
)
def test_the_expected_precision_follows_the_weakest_card(gpus, precision):
    assert gpu_check.expected_precision(gpus) == precision


def test_a_run_on_the_gpu_in_the_right_precision_with_a_finite_loss_passes():
    assert gpu_check.judge("done", ON_GPU, [0.7, 0.5, 0.4], "bfloat16") == []


@pytest.mark.parametrize(
    ("status", "use", "losses", "words"),
    [
        ("done", DeviceUse(("CPU:0",), policy="mixed_bfloat16"), [0.5], "not a GPU"),
        ("done", ON_GPU, [0.5], "expected float16"),
        ("done", ON_GPU, [0.5, math.nan], "not finite"),
        ("done", ON_GPU, [None], "no loss"),
        ("failed", ON_GPU, [0.5], "ended failed"),
        ("done", None, [0.5], "nothing about its device"),
    ],
)
def test_each_way_of_not_using_the_gpu_is_named(status, use, losses, words):
    expected = "float16" if words == "expected float16" else "bfloat16"
    problems = gpu_check.judge(status, use, losses, expected)
    assert len(problems) == 1 and words in problems[0]


def test_the_report_says_the_device_speed_and_verdict():
    passed = gpu_check.GpuCheck(
        gpus=("NVIDIA A100",),
        expected="bfloat16",
        device=ON_GPU,
        losses=(0.5,),
        speed=gpu_check.Speed(16000.0, 3000.0, 150, 64, "bfloat16"),
    )
    text = passed.text()
    assert "GPU:0 (NVIDIA A100), mixed_bfloat16" in text and "16,000 images/s" in text
    assert text.endswith("expected precision") and passed.passed
    failed = gpu_check.GpuCheck(gpus=("NVIDIA A100",), expected="bfloat16", problems=("x",))
    assert "FAILED:\n- x" in failed.text() and not failed.passed
    assert json.loads(json.dumps(failed.to_json()))["passed"] is False


def test_without_a_gpu_it_says_so_and_passes(monkeypatch, capsys):
    monkeypatch.setattr(gpu_check, "driver_gpus", lambda: [])
    assert gpu_check.check().passed
    assert cli.main(["gpu-check"]) == 0
    assert capsys.readouterr().out.strip() == gpu_check.NO_GPU


def test_the_speed_is_measured_in_the_precision_auto_picks():
    speed = gpu_check.measure_speed(image_size=32, batch_size=2, steps=1, precision="float32")
    assert speed.extraction_images_per_s > 0 and speed.finetune_images_per_s > 0
    assert (speed.image_size, speed.batch_size, speed.precision) == (32, 2, "float32")


@pytest.mark.slow
def test_on_this_cpu_the_check_fails_because_the_model_was_not_on_a_gpu(home):
    """A driver that lists an A100 but a TensorFlow that runs on the CPU: the tiny run goes
    through the worker for real and its record shows CPU:0."""
    outcome = gpu_check.check(gpus=[A100], speed=False)
    assert not outcome.passed and outcome.device.placed_on == ("CPU:0",)
    assert any("not a GPU" in p for p in outcome.problems)
    assert all(v is not None and math.isfinite(v) for v in outcome.losses)
