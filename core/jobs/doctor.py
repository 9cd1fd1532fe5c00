"""`core doctor`: the facts about this machine and studio home a bug report needs, in one
frozen dataclass, said as lines of text (the CLI, the start page's "About this machine") or
as JSON.

Nothing here imports TensorFlow: its view (GPUs it sees, build versions, the plan it makes) is
measured in a child process, or read from what this home's worker recorded
(core.model.device_facts).
"""

from __future__ import annotations

import dataclasses
import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from core.jobs import caches, engines
from core.jobs.caches import DiskUse, human_bytes
from core.model import device, device_facts, weights_file
from core.model.backbone import keras_cache_location
from core.model.device_facts import TensorflowView
from core.model.weights import FILE, IMAGENET, WeightsSpec
from core.platform import hostinfo
from core.platform.hostinfo import CpuFeatures


@dataclass(frozen=True)
class MachineFacts:
    python: str
    system: str  # OS and architecture
    tensorflow: str | None  # installed versions (None: not installed)
    keras: str | None
    cuda_wheels: bool  # tensorflow[and-cuda]'s CUDA libraries are installed
    cuda_build: str  # the CUDA / cuDNN versions TensorFlow was built against ("": unknown)
    cudnn_build: str
    driver_gpus: tuple[str, ...]  # what the NVIDIA driver lists (nvidia-smi)
    tensorflow_gpus: tuple[str, ...] | None  # what TensorFlow sees (None: it could not be asked)
    gpu_mismatch: str | None  # device_facts.gpu_mismatch, when there is one
    cpu: CpuFeatures
    auto_precision: str  # what a run's precision "auto" becomes here
    auto_precision_why: str
    device: str  # the device runs train on (TensorFlow's plan; the driver's when unknown)
    weights: str  # the weights a first run uses (WeightsSpec.label)
    weights_check: str  # what checking that file says
    disk: DiskUse
    ray: str | None  # Ray's version, None when not installed

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["disk"]["home"] = str(self.disk.home)
        for key in ("driver_gpus", "tensorflow_gpus"):
            data[key] = None if data[key] is None else list(data[key])
        data["cpu"]["bf16"] = self.cpu.bf16
        return data

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) rows, in the order a person reads them."""
        cpu_flags = (
            f"{self.cpu.model or 'unknown model'}; AMX-BF16 {_yes(self.cpu.amx_bf16)}, "
            f"AVX512-BF16 {_yes(self.cpu.avx512_bf16)}, oneDNN {_on(self.cpu.onednn)}"
        )
        seen = (
            "could not be asked (is TensorFlow installed?)"
            if self.tensorflow_gpus is None
            else _gpu_list(self.tensorflow_gpus)
        )
        build = (
            f"CUDA {self.cuda_build or '-'}, cuDNN {self.cudnn_build or '-'}; CUDA libraries "
            + ("installed (tensorflow[and-cuda])" if self.cuda_wheels else "not installed")
        )
        disk = self.disk
        return [
            ("Python", f"{self.python} ({self.system})"),
            ("TensorFlow", self.tensorflow or "not installed"),
            ("Keras", self.keras or "not installed"),
            ("TensorFlow build", build),
            ("GPUs (driver)", _gpu_list(self.driver_gpus)),
            ("GPUs (TensorFlow)", seen),
            ("Runs train on", self.device),
            ("CPU", cpu_flags),
            ("Precision 'auto'", f"{self.auto_precision}: {self.auto_precision_why}"),
            ("Weights", f"{self.weights}: {self.weights_check}"),
            ("Studio home", str(disk.home)),
            (
                "Disk use",
                f"runs {human_bytes(disk.runs_bytes)}, feature cache "
                f"{human_bytes(disk.features_bytes)}, decoded images "
                f"{human_bytes(disk.decoded_bytes)}, other caches "
                f"{human_bytes(disk.other_cache_bytes)}; free {human_bytes(disk.free_bytes)}",
            ),
            ("Ray", self.ray or "not installed (only needed for the Ray engine)"),
        ]

    def text(self) -> str:
        rows = self.lines()
        width = max(len(label) for label, _ in rows)
        out = [f"{label:<{width}}  {value}" for label, value in rows]
        if self.gpu_mismatch:
            out.append(f"\nwarning: {self.gpu_mismatch}")
        return "\n".join(out)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _gpu_list(names: tuple[str, ...]) -> str:
    return f"{len(names)}: {', '.join(names)}" if names else "none"


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def weights_facts(home: Path) -> tuple[str, str]:
    """(label, check sentence) of the weights a first run uses here (no network)."""
    spec = WeightsSpec.parse(weights_file.default_setting(home))
    if problem := spec.problem():
        return spec.label, problem
    if spec.kind == FILE and spec.path is not None:  # parse gives a FILE spec its path
        return spec.label, weights_file.checked(spec.path).message
    if spec.kind == IMAGENET:
        cached = keras_cache_location()
        if not cached.is_file():
            return spec.label, "not downloaded yet: the first run fetches it (needs internet)"
        return spec.label, weights_file.checked(cached).message
    return spec.label, "VGG16 starts from random numbers (poor accuracy on small datasets)"


def gather(home: Path, view: TensorflowView | None = None, probe: bool = True) -> MachineFacts:
    """This machine's facts. TensorFlow's view: `view` when the caller has it, else measured
    now in a child process (probe; nothing is written), else what this home's worker recorded
    (probe=False: a page that must stay fast; None when nothing is recorded yet)."""
    if view is None and probe:
        view = device_facts.probe_view()
    if view is None:
        view = device_facts.recorded_view(home)
    driver = tuple(hostinfo.nvidia_gpus())
    cpu = hostinfo.cpu_features()
    if view is not None:
        precision, why, runs_on = view.precision, view.why, view.device
    else:  # TensorFlow could not be asked: the plan from the driver and /proc/cpuinfo
        plan = device.quick_plan()
        precision, why = plan.precision, plan.why
        runs_on = f"{plan.device} (the driver's view; TensorFlow's is not known yet)"
    weights, check = weights_facts(home)
    return MachineFacts(
        python=platform.python_version() + f" ({sys.executable})",
        system=f"{platform.system()} {platform.machine()}",
        tensorflow=_version("tensorflow"),
        keras=_version("keras"),
        cuda_wheels=device_facts.cuda_wheels_installed(),
        cuda_build=view.cuda_version if view else "",
        cudnn_build=view.cudnn_version if view else "",
        driver_gpus=driver,
        tensorflow_gpus=view.gpus if view else None,
        gpu_mismatch=device_facts.gpu_mismatch(list(driver), view),
        cpu=cpu,
        auto_precision=precision,
        auto_precision_why=why,
        device=runs_on,
        weights=weights,
        weights_check=check,
        disk=caches.disk_use(home),
        ray=_version("ray") if engines.ray_installed() else None,
    )
