"""ui.sidebar: the weights sentence."""

from __future__ import annotations

from core.model import vgg16


def test_sidebar_weights_sentence(tmp_path, monkeypatch):
    from ui import sidebar

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    kind, text = sidebar.weights_status("none")
    assert kind == "warning" and "No pretrained weights" in text
    kind, text = sidebar.weights_status("imagenet")
    assert kind == "warning" and "not downloaded yet" in text
    cached = tmp_path / "keras" / "models" / vgg16.IMAGENET_NOTOP_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert sidebar.weights_status("imagenet") == ("info", "Weights: ImageNet (on this machine)")
    assert sidebar.weights_status(str(cached))[1] == f"Weights: local file {cached.name}"
    kind, text = sidebar.weights_status(str(tmp_path / "missing.h5"))
    assert kind == "error" and "not found" in text


def test_the_device_line_is_what_the_worker_measured_not_the_driver(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from core.model import device_facts
    from core.platform import hostinfo
    from ui import sidebar, studio

    monkeypatch.setattr(hostinfo, "nvidia_gpus", lambda *a: ["NVIDIA A100"])  # must not count
    monkeypatch.setattr(studio, "get_store", lambda: SimpleNamespace(home=tmp_path))
    sidebar._measured_device.clear()
    assert sidebar.device_line() == sidebar.NOT_MEASURED
    view = device_facts.TensorflowView(device="CPU (bfloat16)")
    device_facts.record_view(tmp_path, view)
    monkeypatch.setattr(device_facts, "install_signature", lambda: view.installed)
    # no cache clearing: the next rerun after a worker records shows it (not 30 s later)
    assert sidebar.device_line() == "CPU (bfloat16)"
