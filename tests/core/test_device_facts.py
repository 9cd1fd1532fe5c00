"""What TensorFlow really runs on (core.model.device_facts): measured on TensorFlow's CPU
device here, with fakes for mirrored GPU variables and for the driver's list."""

from __future__ import annotations

import json

import pytest

from core.model import device, device_facts
from core.model.device_facts import DeviceUse, TensorflowView

A100 = "NVIDIA A100-SXM4-40GB"


def test_device_names_are_shortened():
    assert device_facts.short_device("/job:localhost/replica:0/task:0/device:GPU:1") == "GPU:1"
    assert device_facts.short_device("CPU:0") == "CPU:0"


class _Part:
    def __init__(self, name):
        self.device = name


class _Mirrored:  # a MirroredVariable: one component per replica
    def __init__(self, *names):
        self.values = tuple(_Part(n) for n in names)


class _KerasVariable:
    def __init__(self, value):
        self.value = value


def test_mirrored_variables_are_placed_on_every_replica():
    prefix = "/job:localhost/replica:0/task:0/device:"
    weights = [_KerasVariable(_Mirrored(prefix + "GPU:0", prefix + "GPU:1"))] * 2
    assert device_facts.variable_devices(weights) == ("GPU:0", "GPU:1")


def test_a_model_built_here_is_measured_on_the_cpu_in_the_policy_in_force():
    import keras

    def tiny():
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    use = device_facts.measure_use(tiny(), xla=False)
    assert use.placed_on == ("CPU:0",) and not use.on_gpu
    assert (use.policy, use.gpu_names, use.replicas) == ("float32", (), 1)
    with device.dtype_policy("bfloat16"):
        assert device_facts.measure_use(tiny(), xla=False).compute_dtype == "bfloat16"


def test_a_use_reads_back_and_says_itself_in_one_line():
    use = DeviceUse(("GPU:0", "GPU:1"), (A100, A100), "mixed_bfloat16", True, 2)
    assert DeviceUse.from_json(json.loads(json.dumps(use.to_json()))) == use
    assert use.summary == f"GPU:0, GPU:1 ({A100} +1 more), mixed_bfloat16, XLA on, 2 replicas"
    assert DeviceUse.from_json(None) is None
    assert DeviceUse.from_json({"placed_on": ["CPU:0"], "retired": 1}).summary == (
        "CPU:0, float32, XLA off, 1 replica"
    )


def test_the_recorded_view_is_dropped_once_tensorflow_is_reinstalled(tmp_path, monkeypatch):
    view = TensorflowView(gpus=(A100,), cuda_wheels=True, device=f"GPU: {A100}", installed=("x",))
    device_facts.record_view(tmp_path, view)
    monkeypatch.setattr(device_facts, "install_signature", lambda: ("x",))
    assert device_facts.recorded_view(tmp_path) == view
    monkeypatch.setattr(device_facts, "install_signature", lambda: ("y",))
    assert device_facts.recorded_view(tmp_path) is None
    (tmp_path / device_facts.VIEW_FILE).write_text("{not json")
    assert device_facts.recorded_view(tmp_path) is None


def test_without_a_record_the_view_is_probed_once_and_kept(tmp_path, monkeypatch):
    probed = []
    view = TensorflowView(installed=device_facts.install_signature())
    monkeypatch.setattr(device_facts, "probe_view", lambda: probed.append(1) or view)
    assert device_facts.tensorflow_view(tmp_path) == view
    assert device_facts.tensorflow_view(tmp_path) == view
    assert probed == [1]
    assert device_facts.tensorflow_view(tmp_path / "other", probe=False) is None


def test_tensorflow_measures_its_own_view_on_this_cpu_host():
    view = device_facts.measure_view()
    assert view.gpus == () and view.device.startswith("CPU")
    assert view.installed == device_facts.install_signature()
    assert view.precision in ("float32", "bfloat16")
    assert view.cuda_version == tf_build().get("cuda_version", "")


def tf_build() -> dict:
    import tensorflow as tf

    return {k: str(v) for k, v in tf.sysconfig.get_build_info().items()}


@pytest.mark.parametrize(
    ("driver", "view"),
    [
        ([], TensorflowView()),  # no GPU at all
        ([A100], TensorflowView(gpus=(A100,))),  # both see it
        ([A100], None),  # TensorFlow's view unknown: nothing is claimed
    ],
)
def test_no_mismatch_is_claimed_without_one(driver, view):
    assert device_facts.gpu_mismatch(driver, view) is None


def test_a_plain_wheel_under_a_gpu_is_named_with_the_command_that_fixes_it():
    words = device_facts.gpu_mismatch([A100, A100], TensorflowView(cuda_wheels=False))
    assert "2 GPUs" in words and "TensorFlow sees none" in words
    assert "plain wheel" in words and device_facts.CUDA_FIX in words
    assert "still trains, on the CPU" in words


def test_cuda_wheels_that_see_no_gpu_points_at_the_driver():
    words = device_facts.gpu_mismatch([A100], TensorflowView(cuda_wheels=True))
    assert "driver" in words and device_facts.CUDA_FIX not in words


def test_a_cpu_host_probes_nothing_and_a_gpu_host_compares_with_the_record(tmp_path, monkeypatch):
    monkeypatch.setattr(device_facts, "probe_view", lambda: pytest.fail("probed on a CPU host"))
    assert device_facts.mismatch_for(tmp_path, driver_gpus=[]) is None
    device_facts.record_view(tmp_path, TensorflowView(installed=device_facts.install_signature()))
    assert "TensorFlow sees none" in device_facts.mismatch_for(tmp_path, driver_gpus=[A100])
