"""A quick look at the machine that needs no TensorFlow (the app must not import it just to fill
the sidebar). `core.device.describe()` is the authoritative answer; this is the fallback."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")


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


def quick_device(proc: Path = NVIDIA_PROC) -> str:
    """'GPU: <name>' when an NVIDIA driver reports one, else 'CPU'."""
    gpus = nvidia_gpus(proc)
    if not gpus:
        return "CPU"
    return f"GPU: {gpus[0]}" + (f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else "")
