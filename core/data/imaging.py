"""Decode any image file people have on their disks into correct 8-bit RGB, or say why not.

When the caller only needs a small picture (`load_rgb(path, size)`), a JPEG is decoded at a
reduced size by libjpeg's DCT scaling (Pillow's draft mode: 1/2, 1/4 or 1/8, the smallest
that still covers the target), and other formats are box-reduced by integer factors before
the final resample (`reducing_gap`): a 12 MP photo costs ~30 ms instead of ~200 ms, with
pixels within about one grey level of a full decode.

EXIF orientation is applied; grayscale, palette, RGBA, CMYK, 16-bit and float images become
8-bit RGB (transparency, including a palette's or a PNG colour key's, is composited on white;
16-bit is scaled, never clipped); animated images give their first frame. Decompression bombs,
truncated and damaged files are refused per file with `UnreadableImage`: no other exception
type escapes from decoding a file, whatever its bytes.

Thread-safe: nothing here changes global state after import (no `warnings.catch_warnings`,
which is not thread-safe, while `datasets.scan` checks files from a thread pool).
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from PIL import features as pil_features

from core.platform.refusal import Refusal


def _register_optional_formats() -> frozenset[str]:
    """Extensions of formats that need a plugin: HEIC/HEIF (iPhone photos) through pillow-heif,
    AVIF through Pillow itself (11.3+ wheels) or else pillow-avif-plugin. Registration happens
    once, at import; a missing plugin only means those files are listed as unsupported."""
    found: set[str] = set()
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        found |= {".heic", ".heif"}
    except ImportError:
        pass
    if pil_features.check("avif"):
        found.add(".avif")
    else:
        try:
            import pillow_avif  # noqa: F401 - importing registers the AVIF plugin

            found.add(".avif")
        except ImportError:
            pass
    return frozenset(found)


BASIC_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
IMAGE_EXTENSIONS = BASIC_EXTENSIONS | _register_optional_formats()
# Pictures we recognise but cannot decode: listed in a scan as unsupported, never dropped silently.
KNOWN_IMAGE_EXTENSIONS = frozenset(
    {".heic", ".heif", ".avif", ".svg", ".svgz", ".psd", ".jxl", ".raw"}
    | {".cr2", ".cr3", ".nef", ".nrw", ".dng", ".arw", ".orf", ".rw2", ".raf", ".pef", ".srw"}
)
UNSUPPORTED_FORMAT = "format not supported, convert to JPEG or PNG"
MAX_PIXELS = 64_000_000  # ~ an 8000x8000 photo; anything larger is refused as a possible bomb
# Pillow warns beyond this and raises DecompressionBombError beyond 2x this, while reading the
# header; our own check below refuses anything over MAX_PIXELS before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

RESAMPLE = Image.Resampling.BILINEAR  # antialiased when shrinking (Pillow scales the support)
# Integer box-reduce first only while the picture stays >= this many times the target: Pillow
# documents 3.0 as indistinguishable from a plain resample, and much faster for big images.
REDUCING_GAP = 3.0
# Names what produced a decoded picture: caches of decoded images and features include it, so
# a change of decoder never mixes old and new pixels.
DECODER = "draft1"
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width/height
_EXIF_ORIENTATION = 0x0112

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I;16S"})
_HIGH_BIT_DEPTH_MODES = _SIXTEEN_BIT_MODES | {"I", "F"}


class UnreadableImage(Refusal, ValueError):
    """A file that cannot be decoded into an image; the message says why, for the user."""


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    mode: str
    frames: int


def is_image_file(path: str | Path) -> bool:
    """By name only: a known image extension and not a hidden file (no content is read)."""
    path = Path(path)
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def is_unsupported_image(path: str | Path) -> bool:
    """A picture format we recognise by name but cannot decode (SVG, camera RAW, ...)."""
    suffix = Path(path).suffix.lower()
    return suffix in KNOWN_IMAGE_EXTENSIONS and suffix not in IMAGE_EXTENSIONS


def _stored_size(image: Image.Image, upright: tuple[int, int]) -> tuple[int, int]:
    """An upright (width, height) in the file's stored orientation: EXIF orientations 5-8
    rotate by 90 degrees, so the stored picture is the transposed size."""
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block: treat as upright
        orientation = 1
    return (upright[1], upright[0]) if orientation in _TRANSPOSING_ORIENTATIONS else upright


def _draft(image: Image.Image, upright: tuple[int, int]) -> None:
    """Ask the decoder for the smallest DCT scale still at least `upright` (JPEG only; Pillow
    ignores it for other formats). Must run before the pixels are loaded."""
    try:
        image.draft(image.mode, _stored_size(image, upright))
    except Exception:  # noqa: BLE001 - a decoder that cannot scale decodes at full size
        pass


def _refused(exc: Exception) -> UnreadableImage:
    """Why Pillow could not read a file, for the user (decompression bombs named as such)."""
    if isinstance(exc, Image.DecompressionBombError):
        return UnreadableImage(f"too many pixels (possible decompression bomb): {exc}")
    return UnreadableImage(f"damaged or truncated image ({exc})")


@contextmanager
def _header(path: Path) -> Iterator[Image.Image]:
    """The picture opened with only its header read (size, mode, EXIF; no pixels), refused
    when empty, unreadable or over MAX_PIXELS; the file is closed again on exit.

    Every failure becomes UnreadableImage: Pillow's plugins raise many types on damaged input
    (OSError, SyntaxError, struct.error, and even TypeError on a corrupt TIFF directory), and
    one bad file must never stop a scan or a training run."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadableImage(f"cannot read the file ({exc.strerror or exc})") from exc
    if size == 0:
        raise UnreadableImage("empty file (0 bytes)")
    try:
        image = Image.open(path)
    except UnidentifiedImageError as exc:
        raise UnreadableImage("not an image Pillow can read") from exc
    except Image.DecompressionBombError as exc:
        raise _refused(exc) from exc
    except OSError as exc:
        raise UnreadableImage(f"cannot read the file ({exc.strerror or exc})") from exc
    except Exception as exc:  # noqa: BLE001 - any plugin error means "not readable"
        raise UnreadableImage(f"damaged image header ({type(exc).__name__}: {exc})") from exc
    with image:
        if image.width * image.height > MAX_PIXELS:
            raise UnreadableImage(
                f"{image.width}x{image.height} is over the {MAX_PIXELS:,}-pixel limit "
                "(possible decompression bomb)"
            )
        yield image


@contextmanager
def _opened(path: Path, at_least: tuple[int, int] | None = None) -> Iterator[Image.Image]:
    """The first frame, fully decoded, with the file closed again on exit. With `at_least`
    (upright width, height), a JPEG may be decoded smaller than stored, never below that."""
    with _header(path) as image:
        try:
            image.seek(0)  # animated GIF/WebP/TIFF: first frame
            if at_least is not None:
                _draft(image, at_least)  # after seek: MPO's seek resets the decoder tile
            image.load()  # forces a full decode: truncated files fail here, not later
        except Exception as exc:  # noqa: BLE001 - see _header
            raise _refused(exc) from exc
        yield image


def _high_bit_depth_to_uint8(image: Image.Image) -> Image.Image:
    """16-bit ("I;16*"), 32-bit integer ("I") and float ("F") single-channel images, into 0..255.

    The scale follows the mode, not the data: a dark 16-bit image stays dark (200 -> 1), and
    65535 -> 255, 32768 -> 128. "I" is read as 16-bit when its values fit (Pillow opens 16-bit
    PGM/PPM that way), otherwise stretched min..max; "F" in 0..1 is scaled by 255, otherwise
    stretched min..max."""
    array = np.asarray(image, dtype=np.float64)
    finite = array[np.isfinite(array)]
    low = float(finite.min()) if finite.size else 0.0
    high = float(finite.max()) if finite.size else 0.0
    if image.mode in _SIXTEEN_BIT_MODES or (image.mode == "I" and low >= 0 and high <= 65535):
        scaled = array / 257.0
    elif image.mode == "F" and low >= 0 and high <= 1:
        scaled = array * 255.0
    elif high > low:
        scaled = (array - low) / (high - low) * 255.0
    else:
        scaled = np.zeros_like(array)
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in _HIGH_BIT_DEPTH_MODES:
        image = _high_bit_depth_to_uint8(image)
    if image.has_transparency_data:  # alpha band, palette alpha, or a tRNS colour key
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")  # handles L, 1, P, CMYK (Pillow's profile-free conversion), YCbCr


def load_pil_rgb(path: str | Path, at_least: tuple[int, int] | None = None) -> Image.Image:
    """The file as an upright 8-bit RGB PIL image, or UnreadableImage with the reason. With
    `at_least` (upright width, height) a JPEG is decoded at the smallest DCT scale that still
    covers it: for a caller that shrinks the picture anyway, the same result much faster."""
    with _opened(Path(path), at_least) as image:
        try:
            upright = ImageOps.exif_transpose(image)
        except Exception:  # a broken EXIF block must not lose the picture  # noqa: BLE001
            upright = image
        try:
            return _to_rgb(upright)  # always a new image: independent of the closed file
        except Exception as exc:  # noqa: BLE001 - an unconvertible mode is unreadable to us
            raise UnreadableImage(f"cannot convert colour mode {image.mode} to RGB") from exc


def squash(image: Image.Image, size: int) -> Image.Image:
    """size x size (aspect ratio not kept, as Keras' load_img does), antialiased, with integer
    box reduction first for big pictures."""
    if image.size == (size, size):
        return image
    return image.resize((size, size), RESAMPLE, reducing_gap=REDUCING_GAP)


def load_rgb(path: str | Path, size: int | None = None) -> np.ndarray:
    """HxWx3 uint8 array; squashed to size x size when size is given, decoding a JPEG at reduced
    size (every path that decodes for training, extraction or prediction comes here)."""
    if size is None:
        return np.asarray(load_pil_rgb(path), dtype=np.uint8)
    return np.asarray(squash(load_pil_rgb(path, (size, size)), size), dtype=np.uint8)


def image_info(path: str | Path) -> ImageInfo:
    """Size and colour mode as stored (before conversion or EXIF rotation), from the header;
    raises UnreadableImage, for a truncated file too, at a fraction of a decode's cost
    (`_check_complete`): a scan reads every picture of a dataset this way."""
    with _header(Path(path)) as image:
        try:
            frames = int(getattr(image, "n_frames", 1))
        except Exception:  # noqa: BLE001 - a damaged later frame: the first one is readable
            frames = 1
        info = ImageInfo(image.width, image.height, image.mode, frames)
        _check_complete(image, Path(path))
    return info


def _check_complete(image: Image.Image, path: Path) -> None:
    """Raises UnreadableImage when the picture's data is cut short or broken, without decoding
    it when the format allows. A 12 MP phone JPEG costs ~75 ms to decode in full and still
    ~36 ms at 1/8 scale (libjpeg must read every entropy-coded bit), while its markers and its
    end-of-image marker say whether it is complete in under a millisecond. A full decode would
    not catch more: libjpeg only warns on flipped bits inside the entropy-coded data, and
    training replaces a picture that fails to decode after all (listing it). PNG: every chunk's
    CRC up to IEND (Pillow's verify; no inflating). Other formats: the first frame decoded
    (a JPEG at reduced size: libjpeg still reads all of its data)."""
    try:
        if image.format in ("JPEG", "MPO"):
            complete = _jpeg_complete(path)
            if complete is False:
                raise UnreadableImage(
                    "damaged or truncated image (the JPEG data stops before its end marker)"
                )
            if complete is True:
                return
        if image.format == "PNG":
            image.verify()
            return
        image.seek(0)
        _draft(image, (1, 1))  # a JPEG the marker check does not know: at 1/8 scale
        image.load()
    except UnreadableImage:
        raise
    except Exception as exc:  # noqa: BLE001 - see _header
        raise _refused(exc) from exc


_JPEG_SCAN = 0xDA  # start of scan: entropy-coded data follows its header
_JPEG_END = b"\xff\xd9"  # end of image: byte stuffing keeps it out of entropy-coded data
_JPEG_TAIL = 1024  # bytes at the end where the end marker is looked for first
_JPEG_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD8)})  # markers without a length field
# start-of-frame markers of Huffman-coded JPEGs (baseline, extended, progressive): what
# cameras and phones write. Others (arithmetic, lossless, hierarchical) are decoded instead.
_JPEG_HUFFMAN_FRAMES = frozenset({0xC0, 0xC1, 0xC2})
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # 0xC4 DHT, 0xC8, 0xCC DAC


def _jpeg_complete(path: Path) -> bool | None:
    """True: well-formed marker segments up to the first scan, of a Huffman-coded frame, and
    an end-of-image marker after it. False: the file stops first. None: something this check
    does not know (the caller decodes instead)."""
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        position, frame = 2, None  # after the start-of-image marker
        while True:
            if position + 4 > len(data):
                return False
            if data[position] != 0xFF:
                return None  # bytes between segments: let the decoder judge
            marker = data[position + 1]
            if marker == 0xFF:  # fill byte
                position += 1
                continue
            if marker in _JPEG_NO_LENGTH:
                position += 2
                continue
            length = int.from_bytes(data[position + 2 : position + 4], "big")
            if marker in _JPEG_FRAMES:
                frame = marker
            position += 2 + length
            if marker == _JPEG_SCAN:
                break
        if frame not in _JPEG_HUFFMAN_FRAMES:
            return None
        # the end marker is nearly always among the last bytes: look there first (searching
        # 4 MB of entropy-coded data, full of 0xFF bytes, costs ~3 ms); then everywhere, for
        # files with a long trailer after the picture (a phone's motion-photo video)
        tail = max(position, len(data) - _JPEG_TAIL)
        return data.rfind(_JPEG_END, tail) != -1 or data.find(_JPEG_END, position) != -1
