"""A quick look at the machine that needs no TensorFlow: what the NVIDIA driver lists and what
the CPU can do. The driver's list is not what runs train on: TensorFlow may not see a GPU the
driver lists (core.model.device_facts records what it sees and says so when they differ)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")
CPUINFO = Path("/proc/cpuinfo")
# CPU flags (Linux names) of the instructions oneDNN uses for fast bfloat16 matrix maths:
# AMX tiles (Sapphire Rapids and later) and AVX512-BF16 (Cooper Lake, Zen 4 and later).
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"  # "0" turns TensorFlow's oneDNN kernels off


@dataclass(frozen=True)
class CpuFeatures:
    model: str
    amx_bf16: bool
    avx512_bf16: bool
    onednn: bool  # TensorFlow's oneDNN kernels enabled (the default on x86 Linux)

    @property
    def bf16(self) -> bool:
        """bfloat16 runs natively (fast) here; without these it is emulated and slower."""
        return self.onednn and (self.amx_bf16 or self.avx512_bf16)

    @property
    def bf16_label(self) -> str:
        flags = (self.amx_bf16, self.avx512_bf16)
        found = [name for name, has in zip(BF16_FLAGS, flags, strict=True) if has]
        return "+".join(found) if found else "no bf16 instructions"


def cpu_features(cpuinfo: Path = CPUINFO, environ: Mapping[str, str] | None = None) -> CpuFeatures:
    """What /proc/cpuinfo says about bfloat16 support (all False when it cannot be read)."""
    environ = os.environ if environ is None else environ
    model, flags = "", set[str]()
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return CpuFeatures(
        model,
        "amx_bf16" in flags,
        "avx512_bf16" in flags,
        environ.get(ONEDNN_ENV, "1").strip() not in ("0", "false", "False"),
    )


def nvidia_gpus(proc: Path = NVIDIA_PROC) -> list[str]:
    """Names of NVIDIA GPUs the driver reports (empty without a driver)."""
    names = []
    for info in sorted(proc.glob("*/information")) if proc.is_dir() else []:
        try:
            for line in info.read_text(errors="replace").splitlines():
                if line.startswith("Model:"):
                    names.append(line.split(":", 1)[1].strip())
        except OSError:
            continue
    if names or shutil.which("nvidia-smi") is None:
        return names
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return []
    return [
        line.split(":", 1)[1].split("(UUID")[0].strip()
        for line in out.stdout.splitlines()
        if line.startswith("GPU ") and ":" in line
    ]


@dataclass(frozen=True)
class NvidiaGpu:
    name: str
    memory_mb: int | None
    compute_capability: tuple[int, int] | None


SMI_FIELDS = "name,memory.total,compute_cap"  # compute_cap needs driver >= 510


def parse_nvidia_smi(csv_text: str) -> list[NvidiaGpu]:
    """`nvidia-smi --query-gpu=name,memory.total[,compute_cap] --format=csv,noheader,nounits`
    output -> one NvidiaGpu per line ("[N/A]" or a missing column: None)."""
    found = []
    for line in csv_text.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if not parts[0]:
            continue
        memory = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        capability = None
        if len(parts) > 2:
            major, _, minor = parts[2].partition(".")
            if major.isdigit() and minor.isdigit():
                capability = (int(major), int(minor))
        found.append(NvidiaGpu(parts[0], memory, capability))
    return found


def nvidia_smi_gpus() -> list[NvidiaGpu]:
    """Name, memory and compute capability of each NVIDIA GPU from nvidia-smi (empty without
    it): enough to plan precision and batch size without TensorFlow touching the card."""
    if shutil.which("nvidia-smi") is None:
        return []
    for fields in (SMI_FIELDS, SMI_FIELDS.rsplit(",", 1)[0]):  # older drivers: no compute_cap
        try:
            out = subprocess.run(
                ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=5,
            )
        except (OSError, subprocess.SubprocessError):
            return []
        if out.returncode == 0:
            return parse_nvidia_smi(out.stdout)
    return []


def quick_device(proc: Path = NVIDIA_PROC) -> str:
    """'GPU: <name>' when an NVIDIA driver reports one, else 'CPU'."""
    gpus = nvidia_gpus(proc)
    if not gpus:
        return "CPU"
    return f"GPU: {gpus[0]}" + (f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else "")
