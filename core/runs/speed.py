"""Measured feature-extraction speed, kept in the studio home, and time estimates made from it.

The benchmark and every run that extracts features record how many images per second VGG16
processed (per precision, at the size measured) in `<home>/speed.json`; a page can then say how
long a dataset will take before starting. VGG16's cost grows with the pixel count, so a speed
measured at one size is scaled by the area ratio to another. Nothing measured yet: a
conservative default (slower than a shared 2-core CPU in float32), so estimates err long.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.model import vgg16
from core.platform.fileio import atomic_write_text

SPEED_FILE = "speed.json"
DEFAULT_IMAGES_PER_S = 8.0  # at 150 px; 2 shared Xeon/EPYC cores measured 14-18 in float32
MIN_IMAGES_TO_RECORD = 64  # fewer: tracing and start-up dominate, the figure would mislead


@dataclass(frozen=True)
class Speed:
    images_per_s: float  # VGG16 forward from image files, at image_size
    image_size: int
    precision: str  # compute dtype it was measured in
    source: str  # "bench", "run" or "default"
    measured_at: str = ""  # ISO time, empty for the default

    def at_size(self, image_size: int) -> float:
        """Images per second at another size (cost ~ pixels)."""
        return self.images_per_s * (self.image_size / image_size) ** 2


def default_speed(precision: str = "float32") -> Speed:
    return Speed(DEFAULT_IMAGES_PER_S, vgg16.DEFAULT_IMAGE_SIZE, precision, "default")


def _path(home: str | os.PathLike[str]) -> Path:
    return Path(home) / SPEED_FILE


def _read(home: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(_path(home).read_text())
    except (OSError, ValueError):  # nothing measured yet, or a damaged file: start again
        return {}
    return data if isinstance(data, dict) else {}


def record(
    home: str | os.PathLike[str],
    images: int,
    seconds: float,
    image_size: int,
    precision: str,
    source: str,
) -> Speed | None:
    """Keep a measurement (the latest per precision replaces the previous one). Too few
    images or a zero time are not worth keeping: returns None then."""
    if images < MIN_IMAGES_TO_RECORD or seconds <= 0:
        return None
    speed = Speed(
        round(images / seconds, 2),
        int(image_size),
        precision,
        source,
        datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
    data = _read(home)
    data[precision] = asdict(speed)
    atomic_write_text(_path(home), json.dumps(data, indent=1))
    return speed


def measured(home: str | os.PathLike[str], precision: str = "float32") -> Speed:
    """The last speed measured here in this precision, or the conservative default."""
    entry = _read(home).get(precision)
    try:
        speed = Speed(**entry) if isinstance(entry, dict) else None
    except TypeError:
        speed = None
    if speed is None or not (speed.images_per_s > 0 and speed.image_size > 0):
        return default_speed(precision)
    return speed


def estimate_extraction_seconds(images: int, image_size: int, speed: Speed) -> float:
    """Seconds to extract features of `images` images at `image_size` px."""
    return images / speed.at_size(image_size)


def describe_seconds(seconds: float) -> str:
    """'about 40 s', 'about 12 min', 'about 2.5 h' (estimates, so rounded)."""
    if seconds < 90:
        return f"about {max(1, math.ceil(seconds))} s"
    if seconds < 90 * 60:
        return f"about {math.ceil(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def describe_estimate(images: int, image_size: int, speed: Speed) -> str:
    """One sentence for a page: how long, and where the figure comes from."""
    seconds = estimate_extraction_seconds(images, image_size, speed)
    origin = (
        "a cautious guess (nothing measured on this machine yet)"
        if speed.source == "default"
        else f"{speed.images_per_s:g} images/s measured at {speed.image_size} px "
        f"({speed.precision}, {speed.source})"
    )
    return (
        f"VGG16 features for {images:,} images at {image_size} px: "
        f"{describe_seconds(seconds)}, from {origin}"
    )


def keras_dataset_estimate(name: str, size: int | None, subset: int | None, speed: Speed) -> str:
    """A sentence for the page before starting: VGG16 time for a Keras sample dataset at this
    size, from `speed` (measured here, or the cautious default)."""
    from core.data import keras_datasets

    spec = keras_datasets.KERAS_DATASETS[name]
    size = spec.default_size if size is None else int(size)
    return describe_estimate(keras_datasets.planned_images(name, subset), size, speed)
