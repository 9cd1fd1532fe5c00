"""Which TensorFlow wheel `make run` installs (tools/tf_variant.sh), with a fake nvidia-smi."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "tf_variant.sh"
SMI_LISTING = "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-0f1e2d3c)\n"


def fake_bin(tmp_path: Path, smi_output: str | None, machine: str = "x86_64") -> Path:
    """A PATH folder with uname (reporting Linux/`machine`) and, unless smi_output is None, an
    nvidia-smi printing it: nothing of the real host's PATH leaks in."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "uname").write_text(f'#!/bin/sh\n[ "$1" = "-m" ] && echo {machine} || echo Linux\n')
    if smi_output is not None:
        (folder / "nvidia-smi").write_text(f"#!/bin/sh\nprintf '%s' '{smi_output}'\n")
    for tool in folder.iterdir():
        tool.chmod(0o755)
    return folder


def variant(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [shutil.which("sh") or "/bin/sh", str(SCRIPT), *args],
        env={**os.environ, "PATH": str(path)},
        capture_output=True,
        text=True,
    )


def test_a_listed_gpu_on_linux_x86_64_chooses_the_cuda_wheel(tmp_path):
    assert variant(fake_bin(tmp_path, SMI_LISTING)).stdout.strip() == "gpu"


@pytest.mark.parametrize(
    "smi",
    [None, "", "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n"],
)
def test_no_nvidia_smi_or_no_gpu_listed_keeps_the_plain_wheel(tmp_path, smi):
    assert variant(fake_bin(tmp_path, smi)).stdout.strip() == "cpu"


def test_other_architectures_keep_the_plain_wheel_even_with_a_gpu(tmp_path):
    assert variant(fake_bin(tmp_path, SMI_LISTING, machine="aarch64")).stdout.strip() == "cpu"


@pytest.mark.parametrize(
    ("override", "smi", "chosen"), [("cpu", SMI_LISTING, "cpu"), ("gpu", None, "gpu")]
)
def test_the_override_wins(tmp_path, override, smi, chosen):
    assert variant(fake_bin(tmp_path, smi), override).stdout.strip() == chosen


def test_an_unknown_override_is_refused(tmp_path):
    done = variant(fake_bin(tmp_path, None), "cuda")
    assert done.returncode == 2 and "auto, cpu or gpu" in done.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize(
    ("override", "installs"),
    [
        ("cpu", "pip install -q -r requirements.txt"),
        ("gpu", "pip install -q -r requirements-gpu.txt"),
    ],
)
def test_the_makefile_installs_the_chosen_requirements(tmp_path, override, installs):
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), f"VENV={tmp_path / 'venv'}", "run", f"TF={override}"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert installs in done.stdout


def test_the_gpu_requirements_add_cuda_to_the_plain_ones():
    lines = (ROOT / "requirements-gpu.txt").read_text().splitlines()
    assert "-r requirements.txt" in lines
    assert any(line.startswith("tensorflow[and-cuda]") for line in lines)
