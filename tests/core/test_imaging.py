"""core.data.imaging on the awkward files people really have: every case is generated in a tmp dir
with Pillow/numpy, and every check compares decoded pixel values."""

from __future__ import annotations

import gc
import struct
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from core.data import imaging
from core.data.imaging import UnreadableImage, image_info, is_image_file, load_pil_rgb, load_rgb

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def close(actual, expected, tol: int = 0) -> bool:
    diff = np.abs(np.asarray(actual, dtype=int) - np.asarray(expected, dtype=int))
    return bool(diff.max() <= tol)


def noise_image(path: Path, size=(64, 48), seed: int = 0, **save) -> Path:
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(array).save(path, **save)
    return path


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A valid PNG signature + IHDR claiming width x height, with a tiny IDAT: what a bomb's
    header looks like, without spending the memory to build one."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
    return path


# --- refusals ----------------------------------------------------------------------------------


def test_header_far_beyond_the_limit_is_refused_before_decoding(tmp_path):
    path = png_header_only(tmp_path / "bomb.png", 100_000, 100_000)  # 10 gigapixels
    for read in (image_info, load_rgb):
        with pytest.raises(UnreadableImage, match="decompression bomb"):
            read(path)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_header_between_limit_and_pillows_hard_limit_is_refused(tmp_path):
    # 81 Mpx: over MAX_PIXELS (64 M) but under Pillow's own error threshold (2x): our check.
    path = png_header_only(tmp_path / "big.png", 9000, 9000)
    with pytest.raises(UnreadableImage, match="pixel"):
        load_rgb(path)


def test_pixel_limit_is_the_module_constant(tmp_path, monkeypatch):
    path = noise_image(tmp_path / "a.png", size=(40, 40))
    monkeypatch.setattr(imaging, "MAX_PIXELS", 40 * 40 - 1)
    with pytest.raises(UnreadableImage, match="1,599-pixel limit"):
        image_info(path)
    with pytest.raises(UnreadableImage, match="pixel limit"):
        load_rgb(path)
    monkeypatch.setattr(imaging, "MAX_PIXELS", 40 * 40)
    assert load_rgb(path).shape == (40, 40, 3)


@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_truncated_file_is_caught(tmp_path, fmt):
    data = noise_image(tmp_path / f"full.{fmt}", size=(64, 64)).read_bytes()
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(data[: len(data) // 2])
    with Image.open(cut) as probe:  # the header alone still looks fine ...
        assert probe.size == (64, 64)
    for read in (image_info, load_rgb):  # ... but the data stops before its end
        with pytest.raises(UnreadableImage, match="damaged or truncated"):
            read(cut)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns on some cut TIFFs
@pytest.mark.parametrize("fmt", ["jpg", "png", "gif", "tif", "bmp", "webp"])
def test_every_truncation_point_gives_a_full_image_or_unreadable(tmp_path, fmt):
    data = noise_image(tmp_path / f"full.{fmt}", size=(24, 16)).read_bytes()
    refused = 0
    for end in range(1, len(data), max(1, len(data) // 150)):
        path = tmp_path / f"cut.{fmt}"
        path.write_bytes(data[:end])
        try:
            assert load_rgb(path).shape == (16, 24, 3)
        except UnreadableImage:
            refused += 1
    assert refused > 0


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's TIFF plugin warns on bad tags
def test_corrupt_tiff_directory_gives_unreadable_not_a_crash(tmp_path):
    """Bit flips in a TIFF's header/directory made Pillow raise TypeError ("'IFDRational' object
    cannot be interpreted as an integer"), which escaped as a crash instead of UnreadableImage."""
    data = noise_image(tmp_path / "full.tif", size=(24, 16)).read_bytes()
    refused = 0
    for position in range(8, min(len(data), 200)):
        for bit in (0, 3):
            damaged = bytearray(data)
            damaged[position] ^= 1 << bit
            path = tmp_path / "flip.tif"
            path.write_bytes(bytes(damaged))
            try:
                image_info(path)
                load_rgb(path)
            except UnreadableImage:
                refused += 1
    assert refused > 0


def test_garbage_bytes_with_an_image_extension(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(UnreadableImage, match="not an image"):
        load_rgb(path)


def test_text_file_named_png(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("these are my notes, not a picture\n" * 20)
    with pytest.raises(UnreadableImage, match="not an image"):
        image_info(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(UnreadableImage, match="0 bytes"):
        load_rgb(path)


def test_missing_file_is_unreadable_with_a_clear_reason(tmp_path):
    with pytest.raises(UnreadableImage, match="cannot read the file"):
        load_rgb(tmp_path / "gone.png")


# --- conversions -------------------------------------------------------------------------------


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    values = np.array([[65535, 32768], [0, 514]], dtype=np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(values).save(path)
    assert image_info(path).mode.startswith("I")
    rgb = load_rgb(path)
    assert rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [255, 255, 255]
    assert close(rgb[0, 1], [128] * 3, tol=1)
    assert rgb[1, 0].tolist() == [0, 0, 0]
    assert rgb[1, 1].tolist() == [2, 2, 2]  # 514 / 257


def test_dark_16_bit_image_stays_dark(tmp_path):
    """The scale follows the bit depth, not the data: a 16-bit image whose values happen to be
    <= 255 is almost black, not a bright 8-bit picture (the old code did not scale it)."""
    path = tmp_path / "dark16.png"
    Image.fromarray(np.array([[255, 128, 0]], dtype=np.uint16)).save(path)
    assert load_rgb(path)[0, :, 0].tolist() == [1, 0, 0]


def test_16_bit_pgm_opened_as_mode_I_is_scaled(tmp_path):
    path = tmp_path / "twelve_bit.pgm"  # maxval 4095: Pillow rescales it to 0..65535, mode "I"
    path.write_bytes(b"P5 3 1 4095\n" + np.array([4095, 2048, 0], dtype=">u2").tobytes())
    assert image_info(path).mode == "I"
    assert close(load_rgb(path)[0, :, 0], [255, 128, 0], tol=1)


def test_float_image_in_unit_range(tmp_path):
    path = tmp_path / "float.tif"
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32)).save(path)
    assert image_info(path).mode == "F"
    assert close(load_rgb(path)[0, :, 0], [0, 128, 255], tol=1)


def test_animated_gif_gives_its_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (16, 12), colour) for colour in (RED, BLUE, GREEN)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    info = image_info(path)
    assert (info.width, info.height, info.frames) == (16, 12, 3)
    rgb = load_rgb(path)
    assert rgb.shape == (12, 16, 3)
    assert close(rgb.reshape(-1, 3), RED)


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cyan.jpg"
    Image.new("CMYK", (16, 16), (255, 0, 0, 0)).save(path, quality=95)
    assert image_info(path).mode == "CMYK"
    rgb = load_rgb(path)
    assert close(rgb.reshape(-1, 3), (0, 255, 255), tol=8)


def test_rgba_transparency_is_composited_on_white(tmp_path):
    array = np.zeros((2, 3, 4), dtype=np.uint8)
    array[0, 0] = (255, 0, 0, 0)  # fully transparent red -> white
    array[0, 1] = (0, 0, 255, 255)  # opaque blue -> blue
    array[0, 2] = (0, 0, 0, 128)  # half-transparent black -> mid grey
    array[1, :] = (0, 255, 0, 255)
    path = tmp_path / "rgba.png"
    Image.fromarray(array, mode="RGBA").save(path)
    rgb = load_rgb(path)
    assert rgb[0, 0].tolist() == list(WHITE)
    assert rgb[0, 1].tolist() == list(BLUE)
    assert close(rgb[0, 2], [127] * 3, tol=1)
    assert close(rgb[1], [GREEN] * 3)


def test_grayscale_alpha_is_composited_on_white(tmp_path):
    path = tmp_path / "la.png"
    Image.fromarray(np.array([[[0, 0], [0, 255]]], dtype=np.uint8), mode="LA").save(path)
    assert load_rgb(path)[0].tolist() == [list(WHITE), [0, 0, 0]]


def palette_image(transparent_index: int | None) -> Image.Image:
    image = Image.new("P", (2, 1))
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # index 0 red, 1 blue
    image.putpixel((0, 0), 0)
    image.putpixel((1, 0), 1)
    if transparent_index is not None:
        image.info["transparency"] = transparent_index
    return image


@pytest.mark.parametrize("fmt", ["png", "gif"])
def test_palette_without_transparency(tmp_path, fmt):
    path = tmp_path / f"p.{fmt}"
    palette_image(None).save(path)
    assert image_info(path).mode == "P"
    assert load_rgb(path)[0].tolist() == [list(RED), list(BLUE)]


@pytest.mark.parametrize("fmt", ["png", "gif"])
def test_palette_with_a_transparent_index(tmp_path, fmt):
    path = tmp_path / f"pt.{fmt}"
    image = palette_image(0)
    image.save(path, transparency=0)
    assert load_rgb(path)[0].tolist() == [list(WHITE), list(BLUE)]


def test_rgb_png_colour_key_transparency(tmp_path):
    """An RGB PNG with a tRNS colour key: pixels of that colour are transparent, so they must
    come out white (the old code only looked at palette images and ignored the key)."""
    array = np.zeros((1, 2, 3), dtype=np.uint8)
    array[0, 0] = (1, 2, 3)
    array[0, 1] = (10, 20, 30)
    path = tmp_path / "key.png"
    Image.fromarray(array).save(path, transparency=(1, 2, 3))
    assert load_rgb(path)[0].tolist() == [list(WHITE), [10, 20, 30]]


def exif_oriented_jpeg(path: Path, orientation: int) -> Path:
    """40 wide x 24 high as stored, green, with an 8x8 red block in the stored top-left."""
    array = np.zeros((24, 40, 3), dtype=np.uint8)
    array[:] = GREEN
    array[:8, :8] = RED
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(path, quality=95, exif=exif.tobytes())
    return path


@pytest.mark.parametrize(
    "orientation, shape, red_at",
    [
        (6, (40, 24, 3), (3, 20)),  # rotate 90 clockwise to display: top-left -> top-right
        (8, (40, 24, 3), (36, 3)),  # rotate 90 counter-clockwise: top-left -> bottom-left
        (3, (24, 40, 3), (20, 36)),  # rotate 180: top-left -> bottom-right
        (1, (24, 40, 3), (3, 3)),  # upright already
    ],
)
def test_exif_orientation_is_applied(tmp_path, orientation, shape, red_at):
    path = exif_oriented_jpeg(tmp_path / f"o{orientation}.jpg", orientation)
    info = image_info(path)
    assert (info.width, info.height) == (40, 24)  # as stored
    rgb = load_rgb(path)
    assert rgb.shape == shape
    assert close(rgb[red_at], RED, tol=30)
    reds = np.argwhere((rgb[..., 0] > 200) & (rgb[..., 1] < 60))
    assert len(reds) >= 40  # the whole block moved, not just one pixel
    corner = np.array(red_at)
    assert np.abs(reds - corner).max() <= 8
    assert close(rgb[shape[0] // 2, shape[1] // 2], GREEN, tol=30)


def test_grayscale_L(tmp_path):
    path = tmp_path / "l.png"
    Image.fromarray(np.array([[0, 77, 255]], dtype=np.uint8), mode="L").save(path)
    assert load_rgb(path)[0].tolist() == [[0, 0, 0], [77, 77, 77], [255, 255, 255]]


def test_bilevel_1(tmp_path):
    path = tmp_path / "b.png"
    image = Image.new("1", (2, 1), 0)
    image.putpixel((1, 0), 1)
    image.save(path)
    assert image_info(path).mode == "1"
    assert load_rgb(path)[0].tolist() == [[0, 0, 0], [255, 255, 255]]


def test_resize_to_square(tmp_path):
    path = noise_image(tmp_path / "n.png", size=(64, 48))
    assert load_rgb(path, size=32).shape == (32, 32, 3)
    assert load_pil_rgb(path).mode == "RGB"


# --- hygiene -----------------------------------------------------------------------------------


def test_files_are_closed_after_reading_an_animated_gif(tmp_path):
    """Pillow keeps multi-frame files open after load(); scanning thousands of GIFs must not
    leak file handles until the garbage collector runs."""
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, BLUE)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image_info(path)
        load_rgb(path)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_concurrent_decoding_leaves_warning_filters_alone(tmp_path):
    """datasets.scan decodes from a thread pool; `warnings.catch_warnings` (used before) is not
    thread-safe and left a stray global filter behind when threads interleaved."""
    path = noise_image(tmp_path / "s.png", size=(8, 8))
    before = list(warnings.filters)
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda _: image_info(path), range(3000)))
    assert warnings.filters == before


def test_is_image_file_by_name():
    assert is_image_file(Path("cats/a.JPG"))
    assert is_image_file("b.webp")
    assert not is_image_file(Path("cats/._a.jpg"))
    assert not is_image_file(Path("notes.txt"))


def test_heic_and_avif_decode_to_rgb(tmp_path):
    pytest.importorskip("pillow_heif")
    for suffix in (".heic", ".avif"):
        path = tmp_path / f"photo{suffix}"
        Image.new("RGB", (40, 32), BLUE).save(path)
        assert is_image_file(path)
        pixels = load_rgb(path)
        assert pixels.shape == (32, 40, 3) and close(pixels.mean(axis=(0, 1)), BLUE, tol=12)
    assert imaging.is_unsupported_image("drawing.svg") and imaging.is_unsupported_image("a.NEF")
    assert not imaging.is_unsupported_image("notes.txt")


# -- decoding at reduced size ---------------------------------------------------------------
def photo_like(size=(4032, 3024), seed: int = 0) -> np.ndarray:
    """A camera-sized picture: smooth gradients (what photos mostly are) plus sensor noise,
    brighter to the right so that a wrong rotation shows."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    channels = [60 + 120 * xx / size[0] + 40 * np.sin(yy / 300 + c) for c in range(3)]
    pixels = np.stack(channels, -1) + rng.normal(0, 12, (size[1], size[0], 3))
    return np.uint8(np.clip(pixels, 0, 255))


def with_orientation(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def test_a_12_mp_jpeg_is_decoded_at_reduced_size_like_a_full_decode(tmp_path):
    path = tmp_path / "camera.jpg"
    Image.fromarray(photo_like()).save(path, quality=90, exif=with_orientation(6))
    drafted = load_pil_rgb(path, (150, 150))
    assert drafted.size == (378, 504)  # 1/8 DCT scale, upright (EXIF 6 = rotated 90 degrees)
    full = load_pil_rgb(path)
    assert full.size == (3024, 4032)
    reference = np.asarray(full.resize((150, 150), Image.Resampling.BILINEAR), dtype=float)
    fast = load_rgb(path, 150).astype(float)
    assert np.abs(fast - reference).mean() < 1.0  # grey levels, out of 255
    assert fast[-10:].mean() > fast[:10].mean() + 50  # turned clockwise: bright right -> bottom


def test_draft_sizes_are_asked_in_the_stored_orientation(tmp_path):
    """Stored 800x600 with EXIF 6 is upright 600x800. Asking the decoder for "350 wide" in
    upright terms is "350 high" in stored terms: 1/2 scale would give 300 wide, too narrow."""
    path = tmp_path / "rotated.jpg"
    Image.fromarray(photo_like((800, 600))).save(path, exif=with_orientation(6))
    image = load_pil_rgb(path, (350, 200))
    assert image.width >= 350 and image.height >= 200
    assert load_pil_rgb(path, (100, 100)).size == (150, 200)  # 1/4 scale, upright


def test_other_formats_shrink_close_to_a_plain_resample(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(photo_like((1200, 900))).save(path)
    reference = Image.open(path).convert("RGB").resize((48, 48), Image.Resampling.BILINEAR)
    fast = load_rgb(path, 48).astype(float)
    assert np.abs(fast - np.asarray(reference, dtype=float)).mean() < 1.0


def test_a_multi_picture_jpeg_decodes_its_first_picture_at_reduced_size(tmp_path):
    path = tmp_path / "phone.mpo"  # phones save MPO: a JPEG with more pictures after it
    first = Image.fromarray(photo_like((800, 600)))
    first.save(path, format="MPO", save_all=True, append_images=[first.resize((80, 60))])
    assert load_pil_rgb(path, (100, 100)).size == (200, 150)
    assert load_rgb(path, 48).shape == (48, 48, 3)


# -- the scan's check: from the header, without decoding pixels -------------------------------
def _saved_kinds(folder: Path) -> list[Path]:
    """A JPEG (EXIF-rotated), a progressive JPEG, a multi-picture JPEG and a PNG."""
    picture = Image.fromarray(photo_like((48, 32)))
    paths = [folder / n for n in ("a.jpg", "p.jpg", "m.mpo", "a.png")]
    picture.save(paths[0], exif=with_orientation(6))
    picture.save(paths[1], progressive=True)
    picture.save(paths[2], format="MPO", save_all=True, append_images=[picture])
    picture.save(paths[3])
    return paths


def test_the_scan_check_decodes_no_pixels_of_jpeg_or_png(tmp_path, monkeypatch):
    """A full decode of a 12 MP photo costs ~75 ms and made a scan of 10,000 photos take ten
    minutes: image_info reads headers and checks completeness without decoding."""
    paths = _saved_kinds(tmp_path)

    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    infos = [image_info(p) for p in paths]
    assert [(i.width, i.height, i.mode) for i in infos] == [(48, 32, "RGB")] * 4
    assert infos[2].frames == 2


@pytest.mark.parametrize("kind", range(4))
def test_every_cut_of_a_jpeg_or_png_is_refused_by_the_scan_check(tmp_path, kind):
    source = _saved_kinds(tmp_path)[kind]
    data = source.read_bytes()
    first_picture_end = data.find(b"\xff\xd9", data.find(b"\xff\xda")) + 2  # MPO: more follow
    complete = first_picture_end if source.suffix != ".png" else len(data) - 4  # IEND's CRC
    cut = tmp_path / f"cut{source.suffix}"
    for end in range(1, complete):
        cut.write_bytes(data[:end])
        with pytest.raises(UnreadableImage, match="damaged or truncated|not an image|cannot read"):
            image_info(cut)


def test_a_jpeg_with_a_long_trailer_is_complete(tmp_path):
    """Phones append data after the picture's end marker (a motion photo's video)."""
    path = tmp_path / "motion.jpg"
    Image.fromarray(photo_like((48, 32))).save(path)
    path.write_bytes(path.read_bytes() + bytes(range(256)) * 40)
    assert image_info(path).width == 48


def test_a_jpeg_the_marker_check_does_not_know_is_decoded_instead(tmp_path, monkeypatch):
    monkeypatch.setattr(imaging, "_jpeg_complete", lambda path: None)  # e.g. arithmetic-coded
    path = tmp_path / "a.jpg"
    Image.fromarray(photo_like((640, 480))).save(path)
    assert (image_info(path).width, image_info(path).height) == (640, 480)  # stored, not 1/8
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(UnreadableImage, match="damaged or truncated"):
        image_info(cut)
