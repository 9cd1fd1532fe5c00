"""Shared fixtures: tiny synthetic image datasets in temp folders and a temporary studio home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from synthetic import write_colour_dataset

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Many tests import TensorFlow directly; the page tests then import the Live tab's WebRTC stack,
# whose pylibsrtp crashes when first loaded after TensorFlow (the app loads it first through
# ui.model_loader.before_tensorflow; this process needs the same order).
from ui.model_loader import before_tensorflow  # noqa: E402

before_tensorflow()


@pytest.fixture
def binary_dataset(tmp_path) -> Path:
    return write_colour_dataset(tmp_path / "binary", ("red", "blue"))


@pytest.fixture
def three_class_dataset(tmp_path) -> Path:
    return write_colour_dataset(tmp_path / "three", ("red", "green", "blue"))


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("STUDIO_HOME", str(folder))
    return folder
