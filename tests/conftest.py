"""Shared fixtures: tiny synthetic image datasets in temp folders and a temporary studio home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from synthetic import write_colour_dataset

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
