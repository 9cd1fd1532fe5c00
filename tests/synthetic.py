"""Synthetic datasets for tests: tiny images in temp folders (no file from outside the repo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

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


def write_vgg16_shaped_h5(path: Path) -> Path:
    """An HDF5 file with an array of every shape VGG16's conv layers hold (never written:
    a few KB on disk). It fits VGG16 but is not the official ImageNet file."""
    import h5py

    from core.model import vgg16

    with h5py.File(path, "w") as handle:
        for k, shape in enumerate(vgg16.conv_weight_shapes()):
            handle.require_group(f"layer{k // 2}").create_dataset(
                str(k % 2), shape=shape, dtype="float32"
            )
    return path
