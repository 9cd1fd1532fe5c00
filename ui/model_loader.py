"""The only way the app process gets TensorFlow.

The Streamlit process stays TensorFlow-free: start-up is fast and the worker process, which
trains, has the GPU to itself (tests/app/test_import_rules.py fails if a module-level import
reaches tensorflow or keras from the app). The exception is the Predict page: showing a model
new pictures needs the model in this process. It gets TensorFlow from here, on first use, and
this module makes sure the app never grabs all GPU memory:

- importing this module (the sidebar does, on every page) sets TF_FORCE_GPU_ALLOW_GROWTH, so
  even a TensorFlow import that bypassed this module would grow GPU memory on demand;
- `tensorflow()` turns on memory growth on every GPU before TensorFlow is used for anything,
  then hides the GPUs from this process altogether: predicting a few pictures runs on the CPU
  and the app takes no GPU memory at all (growth stays as the fallback if hiding is refused).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from core.model import device

os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")  # read when TF initialises the GPUs
log = logging.getLogger(__name__)
_ready = False  # memory growth is set in this process: TensorFlow may be used


def before_tensorflow() -> None:
    """Load what must come before TensorFlow in this process: pylibsrtp (WebRTC's SRTP, used by
    Predict's Live tab through aiortc) kills the process with a segmentation fault when it is
    first imported after TensorFlow (tensorflow 2.21, pylibsrtp 0.12 and 1.0); first, both work."""
    try:
        import pylibsrtp  # noqa: F401
    except ImportError:  # the live preview is not installed: nothing to protect
        pass


def tensorflow():
    """The tensorflow module, imported once, with memory growth set on every GPU first."""
    global _ready
    before_tensorflow()
    import tensorflow as tf

    if not _ready:
        refused = device.enable_memory_growth(
            tf.config.list_physical_devices("GPU"), tf.config.experimental.set_memory_growth
        )
        if refused:
            log.warning("GPU memory growth could not be set on %s (already in use)", refused)
        if not device.hide_gpus(tf.config.set_visible_devices):
            log.warning("the GPUs could not be hidden from the app (TensorFlow already uses them)")
        _ready = True
    return tf


def predict():
    """core.export.predict (load a run's model, top-k, Grad-CAM) with TensorFlow prepared."""
    tensorflow()
    from core.export import predict as predict_module

    return predict_module


def spectrogram_for_file(path: str | Path, settings):
    """core.data.audio.spectrogram_for_file (it renders with tf.signal) with TensorFlow prepared."""
    tensorflow()
    from core.data import audio

    return audio.spectrogram_for_file(path, settings)


def loaded() -> bool:
    """Whether this process has TensorFlow (through this module) already."""
    return _ready
