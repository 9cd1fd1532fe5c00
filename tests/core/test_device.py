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
