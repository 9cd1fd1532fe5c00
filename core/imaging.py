"""Decode any image file people have on their disks into correct 8-bit RGB, or say why not.

EXIF orientation is applied; grayscale, palette, RGBA, CMYK, 16-bit and float images become
8-bit RGB (transparency is composited on white, 16-bit is scaled, never clipped); animated
images give their first frame. Decompression bombs and truncated files are refused per file.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
MAX_PIXELS = 64_000_000  # ~ an 8000x8000 photo; anything larger is refused as a possible bomb
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow raises DecompressionBombError beyond 2x this


class UnreadableImage(ValueError):
    """A file that cannot be decoded into an image; the message says why, for the user."""


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    mode: str
    frames: int


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _open(path: Path) -> Image.Image:
    try:
        if path.stat().st_size == 0:
            raise UnreadableImage("empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
        if image.width * image.height > MAX_PIXELS:
            raise UnreadableImage(
                f"{image.width}x{image.height} is over the {MAX_PIXELS:,}-pixel limit"
            )
        image.seek(0)  # animated GIF/WebP/TIFF: first frame
        image.load()  # forces a full decode: truncated files fail here, not later
        return image
    except UnreadableImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnreadableImage(f"too many pixels (possible decompression bomb): {exc}") from exc
    except UnidentifiedImageError as exc:
        raise UnreadableImage("not an image Pillow can read") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnreadableImage(f"damaged or truncated image ({exc})") from exc


def _high_bit_depth_to_uint8(image: Image.Image) -> Image.Image:
    """16-bit ("I;16*", "I") and float ("F") single-channel images, scaled into 0..255."""
    array = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        low, high = float(np.nanmin(array)), float(np.nanmax(array))
        scaled = (array - low) / (high - low) * 255.0 if high > low else np.zeros_like(array)
    else:
        scaled = array / 257.0 if array.max(initial=0) > 255 else array  # 65535 -> 255
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image = _high_bit_depth_to_uint8(image)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")  # handles L, 1, CMYK (via Pillow's profile-free conversion), YCbCr


def load_pil_rgb(path: str | Path) -> Image.Image:
    """The file as an upright 8-bit RGB PIL image, or UnreadableImage with the reason."""
    path = Path(path)
    image = _open(path)
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not lose the picture  # noqa: BLE001
        pass
    return _to_rgb(image)


def load_rgb(path: str | Path, size: int | None = None) -> np.ndarray:
    """HxWx3 uint8 array; squashed to size x size (as Keras' load_img does) when size is given."""
    image = load_pil_rgb(path)
    if size is not None:
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def image_info(path: str | Path) -> ImageInfo:
    """Size and colour mode as stored (before conversion); raises UnreadableImage."""
    image = _open(Path(path))
    return ImageInfo(image.width, image.height, image.mode, getattr(image, "n_frames", 1))
