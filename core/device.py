"""Which device trains, and how to make the most of it.

`plan_acceleration` is pure selection logic (unit-tested without a GPU); `apply` performs it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

Device = TypeVar("Device")


@dataclass(frozen=True)
class Gpu:
    name: str
    compute_capability: tuple[int, int] | None = None


@dataclass(frozen=True)
class AccelerationPlan:
    device: str  # what the sidebar shows
    memory_growth: bool  # allocate GPU memory as needed, so the app and worker can share it
    mixed_precision: bool  # float16 compute: only on GPUs with tensor cores (CC >= 7.0)
    jit_compile: bool  # XLA: helps convolutions on GPU; slows the first epoch on CPU


def plan_acceleration(gpus: list[Gpu]) -> AccelerationPlan:
    if not gpus:
        return AccelerationPlan("CPU", False, False, False)
    first = gpus[0]
    tensor_cores = first.compute_capability is not None and first.compute_capability >= (7, 0)
    label = first.name + (f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else "")
    return AccelerationPlan(f"GPU: {label}", True, tensor_cores, True)


def enable_memory_growth(
    gpus: Sequence[Device], set_growth: Callable[[Device, bool], None]
) -> list[Device]:
    """Memory growth on every GPU (set_growth is tf.config.experimental.set_memory_growth):
    the process then takes GPU memory as it needs it instead of all of it at the first use, so
    the app and the worker can share one GPU. It must run before TensorFlow initialises the GPUs;
    devices already initialised refuse (RuntimeError) and are returned."""
    refused = []
    for gpu in gpus:
        try:
            set_growth(gpu, True)
        except RuntimeError:  # already initialised: growth can no longer change
            refused.append(gpu)
    return refused


def detect_gpus() -> list[Gpu]:
    import tensorflow as tf

    found = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device) or {}
        found.append(
            Gpu(details.get("device_name", device.name), details.get("compute_capability"))
        )
    return found


def apply(plan: AccelerationPlan) -> None:
    """Call once per process, before any model is built."""
    import keras
    import tensorflow as tf

    if plan.memory_growth:
        enable_memory_growth(
            tf.config.list_physical_devices("GPU"), tf.config.experimental.set_memory_growth
        )
    if plan.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")


_CURRENT: AccelerationPlan | None = None


def current_plan() -> AccelerationPlan:
    """This process's plan (detected once)."""
    global _CURRENT
    if _CURRENT is None:
        _CURRENT = plan_acceleration(detect_gpus())
    return _CURRENT


def describe() -> str:
    """Device line for the sidebar, cheap enough to call from a page (no TF import if cached)."""
    return plan_acceleration(detect_gpus()).device
