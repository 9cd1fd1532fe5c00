"""core.platform.hostinfo: the TensorFlow-free device guess for the sidebar."""

from __future__ import annotations

from core.platform import hostinfo


def test_quick_device_reads_the_nvidia_driver(tmp_path, monkeypatch):
    monkeypatch.setattr(hostinfo.shutil, "which", lambda name: None)
    assert hostinfo.quick_device(tmp_path / "none") == "CPU"
    for k, name in enumerate(("NVIDIA A100", "NVIDIA T4")):
        gpu = tmp_path / f"0000:0{k}:00.0"
        gpu.mkdir()
        (gpu / "information").write_text(f"Model: \t\t {name}\nIRQ: 1\n")
    assert hostinfo.quick_device(tmp_path) == "GPU: NVIDIA A100 (+1 more)"
