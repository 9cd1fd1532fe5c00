"""core.device: the acceleration plan (pure selection logic)."""

from core import device


def test_acceleration_plan_selection():
    assert device.plan_acceleration([]) == device.AccelerationPlan("CPU", False, False, False)
    modern = device.plan_acceleration([device.Gpu("NVIDIA A100", (8, 0))])
    assert modern.memory_growth and modern.mixed_precision and modern.jit_compile
    assert modern.device == "GPU: NVIDIA A100"
    old = device.plan_acceleration([device.Gpu("Tesla K80", (3, 7)), device.Gpu("K80", (3, 7))])
    assert old.memory_growth and not old.mixed_precision
    assert old.device == "GPU: Tesla K80 (+1 more)"
    unknown = device.plan_acceleration([device.Gpu("GPU", None)])
    assert not unknown.mixed_precision


def test_memory_growth_is_set_on_every_gpu_and_refusals_are_returned():
    calls = []

    def set_growth(gpu, enabled):
        if gpu == "GPU:1":
            raise RuntimeError("Physical devices cannot be modified after being initialized")
        calls.append((gpu, enabled))

    refused = device.enable_memory_growth(["GPU:0", "GPU:1", "GPU:2"], set_growth)
    assert calls == [("GPU:0", True), ("GPU:2", True)]
    assert refused == ["GPU:1"]
    assert device.enable_memory_growth([], set_growth) == []  # CPU only: nothing to do
