"""A preview of training augmentation, computed with Pillow and NumPy (no TensorFlow), so the
Train page can show what augmented images look like before any run starts.

It mirrors the ranges of `core.model.models.image_augmentation`: "image" is a random horizontal
flip,
a rotation of up to 0.1 of a full turn (36 degrees) either way, a zoom of up to 10 % in or out
and a shift of up to 10 % of the width and height, with reflected borders (Keras' default
fill); "spectrogram" is two time bands and two frequency bands of up to 15 % each, filled with
the image's own per-channel mean (as `core.model.spec_augment.TimeFrequencyMask`). The random draws
are not Keras' own: the preview shows the kind and size of the changes, not the exact images a
run will see.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from core.model.augmentation import KINDS, MAX_BAND, NUM_MASKS, ROTATION, SHIFT, ZOOM  # noqa: F401


def _square(image: Image.Image, size: int) -> Image.Image:
    """Squashed to size x size, as training does."""
    return image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)


def _geometric(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    size = image.width
    pixels = np.asarray(image)
    if rng.random() < 0.5:
        pixels = pixels[:, ::-1]
    pad = size  # reflected border all round, so shifted/rotated corners are filled like Keras
    padded = Image.fromarray(np.pad(pixels, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric"))
    angle = rng.uniform(-ROTATION, ROTATION) * 2 * math.pi
    scale = 1.0 + rng.uniform(-ZOOM, ZOOM)
    tx, ty = rng.uniform(-SHIFT, SHIFT, 2) * size
    # output pixel p -> input pixel c + R(-angle) (p - c - t) / scale, shifted into the padding
    centre = size / 2.0
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    a, b, d, e = cos, sin, -sin, cos
    ox, oy = -centre - tx, -centre - ty
    c = a * ox + b * oy + centre + pad
    f = d * ox + e * oy + centre + pad
    return padded.transform(
        (size, size), Image.Transform.AFFINE, (a, b, c, d, e, f), resample=Image.Resampling.BILINEAR
    )


def _masked(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float64).copy()
    height, width = pixels.shape[:2]
    fill = pixels.reshape(-1, 3).mean(axis=0)
    for _ in range(NUM_MASKS):
        band = int(rng.integers(0, int(MAX_BAND * width) + 1))
        start = int(rng.integers(0, width - band + 1))
        pixels[:, start : start + band] = fill
        band = int(rng.integers(0, int(MAX_BAND * height) + 1))
        start = int(rng.integers(0, height - band + 1))
        pixels[start : start + band, :] = fill
    return Image.fromarray(np.uint8(np.clip(np.rint(pixels), 0, 255)))


def augmented(
    image: Image.Image, count: int = 4, size: int = 96, kind: str = "image", seed: int = 0
) -> list[Image.Image]:
    """`count` augmented versions of one image, size x size RGB, reproducible per seed."""
    if kind not in KINDS:
        raise ValueError(f"augmentation kind must be one of {', '.join(KINDS)}")
    if count < 0 or size < 1:
        raise ValueError("count must be >= 0 and size >= 1")
    base = _square(image, size)
    rng = np.random.default_rng(seed)
    change = _geometric if kind == "image" else _masked
    return [change(base, rng) for _ in range(count)]
