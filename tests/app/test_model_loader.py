"""ui.model_loader: the app process's only door to TensorFlow sets GPU memory growth before
anything else touches TensorFlow. A fake tensorflow module stands in (no GPU, no real TF)."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from ui import model_loader

ROOT = Path(__file__).resolve().parents[2]


class FakeTensorFlow(types.ModuleType):
    """Records what the loader asks of tf.config, with two fake GPUs."""

    def __init__(self, gpus=("GPU:0", "GPU:1")):
        super().__init__("tensorflow")
        self.log: list[tuple] = []
        self.config = types.SimpleNamespace(
            list_physical_devices=lambda kind: self.log.append(("list", kind)) or list(gpus),
            set_visible_devices=lambda devices, kind: self.log.append(("visible", devices, kind)),
            experimental=types.SimpleNamespace(
                set_memory_growth=lambda gpu, on: self.log.append(("growth", gpu, on))
            ),
        )


@pytest.fixture
def fake_tf(monkeypatch):
    fake = FakeTensorFlow()
    monkeypatch.setitem(sys.modules, "tensorflow", fake)
    monkeypatch.setattr(model_loader, "_ready", False)
    return fake


def test_memory_growth_is_set_before_tensorflow_is_handed_out(fake_tf):
    assert not model_loader.loaded()
    assert model_loader.tensorflow() is fake_tf
    assert fake_tf.log == [
        ("list", "GPU"),
        ("growth", "GPU:0", True),
        ("growth", "GPU:1", True),
        ("visible", [], "GPU"),  # then no GPU at all: the app never takes GPU memory
    ]
    assert model_loader.loaded()
    model_loader.tensorflow()
    assert len(fake_tf.log) == 4  # once per process


def test_predict_goes_through_the_loader(fake_tf):
    predict = model_loader.predict()
    assert predict.__name__ == "core.export.predict"
    assert ("growth", "GPU:0", True) in fake_tf.log


def test_importing_the_loader_sets_growth_for_any_later_import_and_loads_nothing():
    env = {k: v for k, v in os.environ.items() if k != "TF_FORCE_GPU_ALLOW_GROWTH"}
    probe = (
        "import os, sys; import ui.model_loader; "
        "print(os.environ.get('TF_FORCE_GPU_ALLOW_GROWTH'), 'tensorflow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.stdout.split() == ["true", "False"], result.stderr


def test_the_webrtc_stack_still_imports_after_tensorflow_came_through_the_loader():
    """pylibsrtp segfaults when first imported after TensorFlow: the loader loads it first, so
    a Live tab opened after another page loaded TensorFlow does not kill the server."""
    code = (
        "from ui import model_loader\n"
        "model_loader.tensorflow()\n"
        "import streamlit_webrtc, aiortc\n"
        "print('alive')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0 and "alive" in done.stdout, done.stderr[-2000:]
