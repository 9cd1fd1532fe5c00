"""Shared fixtures: tiny synthetic image datasets in temp folders and a temporary studio home."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


def write_colour_dataset(
    root: Path, classes=("red", "blue"), per_class: int = 12, size: int = 40, seed: int = 0
) -> Path:
    """An easy task: each class is a dominant colour, with noise and a random bright square."""
    rng = np.random.default_rng(seed)
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        base = np.array(COLOURS[name], dtype=np.float64)
        for k in range(per_class):
            pixels = base + rng.normal(0, 25, (size, size, 3))
            x, y = rng.integers(0, size - 8, 2)
            pixels[y : y + 8, x : x + 8] = 255
            Image.fromarray(np.uint8(np.clip(pixels, 0, 255))).save(folder / f"{name}_{k:02d}.png")
    return root


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
