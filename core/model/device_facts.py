"""What TensorFlow really runs on, measured in the process that trains (the worker), as
opposed to what the driver reports (`nvidia-smi`, core.platform.hostinfo).

- `DeviceUse`: one run's device facts (the devices holding the model's weights, the dtype
  policy in force, XLA, MirroredStrategy replicas), kept in its RunResult.
- `TensorflowView`: the GPUs this installation's TensorFlow sees and the plan it makes from
  them; the worker records it per studio home (home/device.json) when it starts, so the app,
  which never imports TensorFlow, can show it and compare it with the driver's list.
- `gpu_mismatch`: the driver lists GPUs but TensorFlow sees none, in plain words, with the
  likely cause and the one command that fixes it.

TensorFlow is imported only inside the functions that measure.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.platform import settings
from core.platform.fileio import atomic_write_text

if TYPE_CHECKING:
    import keras

VIEW_FILE = "device.json"  # in the studio home
# the distributions whose versions decide what TensorFlow can see: a recorded view made with
# other versions installed (e.g. before `pip install tensorflow[and-cuda]`) is stale
INSTALL_DISTRIBUTIONS = ("tensorflow", "nvidia-cudnn-cu12", "nvidia-cuda-runtime-cu12")
CUDA_FIX = f"{sys.executable} -m pip install 'tensorflow[and-cuda]'"
DRIVER_FOR_CUDA12 = 525  # the oldest NVIDIA driver branch CUDA 12 runs on
PROBE_TIMEOUT_SECONDS = 120


def short_device(name: str) -> str:
    """'/job:localhost/replica:0/task:0/device:GPU:0' -> 'GPU:0' (already short: as is)."""
    tail = name.rsplit("device:", 1)[-1]
    return tail.strip("/") or name


@dataclass(frozen=True)
class DeviceUse:
    """The device facts of one run, measured by the worker while it ran."""

    placed_on: tuple[str, ...] = ()  # devices holding the model's weights, e.g. ("GPU:0",)
    gpu_names: tuple[str, ...] = ()  # the GPUs TensorFlow saw in that process
    policy: str = "float32"  # the Keras dtype policy in force ("mixed_bfloat16", ...)
    xla: bool = False  # models compiled with jit_compile
    replicas: int = 1  # MirroredStrategy replicas (1: one device)

    @property
    def on_gpu(self) -> bool:
        return any(d.startswith("GPU") for d in self.placed_on)

    @property
    def compute_dtype(self) -> str:
        return self.policy.removeprefix("mixed_")

    @property
    def summary(self) -> str:
        """One line, e.g. 'GPU:0 (NVIDIA A100), mixed_bfloat16, XLA on, 1 replica'."""
        where = ", ".join(self.placed_on) or "unknown device"
        if self.on_gpu and self.gpu_names:
            where += f" ({self.gpu_names[0]}" + (
                f" +{len(self.gpu_names) - 1} more)" if len(self.gpu_names) > 1 else ")"
            )
        replicas = f"{self.replicas} replica" + ("s" if self.replicas != 1 else "")
        return f"{where}, {self.policy}, XLA {'on' if self.xla else 'off'}, {replicas}"

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["placed_on"], data["gpu_names"] = list(self.placed_on), list(self.gpu_names)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DeviceUse | None:
        if not data:
            return None
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in data.items() if k in names}
        for key in ("placed_on", "gpu_names"):
            known[key] = tuple(known.get(key) or ())
        return cls(**known)


def variable_devices(variables: Iterable[Any]) -> tuple[str, ...]:
    """The devices holding `variables` (Keras variables, plain or mirrored), short and sorted."""
    found = set()
    for variable in variables:
        value = getattr(variable, "value", variable)
        # a MirroredVariable holds one component per replica
        for part in getattr(value, "values", None) or (value,):
            name = getattr(part, "device", "")
            if name:
                found.add(short_device(name))
    return tuple(sorted(found))


def measure_use(model: keras.Model, xla: bool, replicas: int = 1) -> DeviceUse:
    """The device facts of a built model, in the process that trains it."""
    import keras
    import tensorflow as tf

    gpus = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu) or {}
        gpus.append(details.get("device_name", gpu.name))
    return DeviceUse(
        placed_on=variable_devices(model.weights),
        gpu_names=tuple(gpus),
        policy=keras.mixed_precision.global_policy().name,
        xla=xla,
        replicas=replicas,
    )


def install_signature() -> tuple[str, ...]:
    """'name==version' of the distributions that decide what TensorFlow sees (cheap: no
    TensorFlow import)."""
    found = []
    for name in INSTALL_DISTRIBUTIONS:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return tuple(found)


def cuda_wheels_installed() -> bool:
    """tensorflow[and-cuda]'s CUDA libraries are installed (as pip wheels)."""
    return any(name.startswith("nvidia-") for name in install_signature())


@dataclass(frozen=True)
class TensorflowView:
    """What this installation's TensorFlow sees, and the plan it makes (core.model.device)."""

    gpus: tuple[str, ...] = ()  # GPU names TensorFlow lists
    # the CUDA 12 / cuDNN libraries came as pip wheels (tensorflow[and-cuda]); Linux's plain
    # wheel is a CUDA build too, but without them it finds no GPU unless the host has CUDA
    cuda_wheels: bool = False
    device: str = "CPU"  # AccelerationPlan.device: the sidebar's line
    precision: str = "float32"  # what "auto" means in that process
    why: str = ""  # AccelerationPlan.why
    installed: tuple[str, ...] = ()  # install_signature() when measured
    measured_at: float = 0.0
    # tf.sysconfig.get_build_info(): the versions TensorFlow was built against ("" unknown)
    cuda_version: str = ""
    cudnn_version: str = ""

    def fresh(self, installed: tuple[str, ...] | None = None) -> bool:
        """Still true: measured with the TensorFlow (and CUDA wheels) installed now."""
        return self.installed == (install_signature() if installed is None else installed)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["gpus"], data["installed"] = list(self.gpus), list(self.installed)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TensorflowView:
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in data.items() if k in names}
        for key in ("gpus", "installed"):
            known[key] = tuple(known.get(key) or ())
        return cls(**known)


def measure_view() -> TensorflowView:
    """TensorFlow's view, measured here (imports TensorFlow: the worker or a child process)."""
    import tensorflow as tf

    from core.model import device

    plan = device.current_plan()
    build = tf.sysconfig.get_build_info()
    return TensorflowView(
        cuda_version=str(build.get("cuda_version") or ""),
        cudnn_version=str(build.get("cudnn_version") or ""),
        gpus=tuple(g.name for g in device.detect_gpus()),
        cuda_wheels=cuda_wheels_installed(),
        device=plan.device,
        precision=plan.precision,
        why=plan.why,
        installed=install_signature(),
        measured_at=time.time(),
    )


def record_view(home: Path, view: TensorflowView) -> None:
    atomic_write_text(home / VIEW_FILE, json.dumps(view.to_json(), indent=1))


def recorded_view(home: Path) -> TensorflowView | None:
    """The view the worker last recorded for this home, if any and still fresh."""
    try:
        view = TensorflowView.from_json(json.loads((home / VIEW_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return view if view.fresh() else None


def probe_view(timeout: float = PROBE_TIMEOUT_SECONDS) -> TensorflowView | None:
    """TensorFlow's view measured in a child process (the app must not import TensorFlow);
    None when the child fails (TensorFlow missing or broken)."""
    code = (
        "import json; from core.model import device_facts as d; "
        "print(json.dumps(d.measure_view().to_json()))"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(settings.PROJECT_ROOT),
        )
        return TensorflowView.from_json(json.loads(done.stdout.strip().splitlines()[-1]))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, TypeError):
        return None


def tensorflow_view(home: Path, probe: bool = True) -> TensorflowView | None:
    """The worker's recorded view; without one (no run yet, or TensorFlow reinstalled since),
    measured now in a child process and recorded (probe=False: None instead)."""
    view = recorded_view(home)
    if view is None and probe and (view := probe_view()) is not None:
        try:
            home.mkdir(parents=True, exist_ok=True)
            record_view(home, view)
        except OSError:
            pass
    return view


def gpu_mismatch(driver_gpus: list[str], view: TensorflowView | None) -> str | None:
    """A warning when the driver lists GPUs but TensorFlow sees none (None otherwise, also
    when TensorFlow's view is unknown): runs would train on the CPU, many times slower."""
    if not driver_gpus or view is None or view.gpus:
        return None
    listed = f"{len(driver_gpus)} GPU{'s' if len(driver_gpus) > 1 else ''} ({driver_gpus[0]})"
    if view.cuda_wheels:
        cause = (
            "TensorFlow has its CUDA libraries but found no usable GPU, most likely because "
            f"the NVIDIA driver is older than the {DRIVER_FOR_CUDA12} series its CUDA 12 needs (or "
            "CUDA_VISIBLE_DEVICES hides the cards)"
        )
        fix = "update the NVIDIA driver (`nvidia-smi` prints its version)"
    else:
        cause = "the installed TensorFlow is the plain wheel, which carries no CUDA libraries"
        fix = f"`{CUDA_FIX}`, then restart the studio"
    return (
        f"The NVIDIA driver lists {listed}, but TensorFlow sees none: runs will train on the "
        f"CPU, many times slower. Likely cause: {cause}. Fix: {fix}. A run started now still "
        "trains, on the CPU."
    )


def mismatch_for(home: Path, driver_gpus: list[str] | None = None) -> str | None:
    """`gpu_mismatch` for this host and studio home: the driver's list (nvidia-smi), and
    TensorFlow's view only when the driver lists a GPU (on a CPU host nothing is probed)."""
    from core.platform import hostinfo

    driver_gpus = hostinfo.nvidia_gpus() if driver_gpus is None else driver_gpus
    if not driver_gpus:
        return None
    return gpu_mismatch(driver_gpus, tensorflow_view(home))
