"""Audio clips become log-mel spectrogram images, so every image strategy works unchanged.

A folder of audio class folders (the same layouts `core.data.datasets` accepts: one subfolder per
class, or `train/` + `validation/` each holding class subfolders) is rendered once into a folder
of PNGs with the same relative layout, cached under `cache_root/spectrograms/<key>/`. The key
hashes the audio files' contents and paths together with the spectrogram settings, so a second
call with the same data and settings renders nothing.

Each clip is read as mono float32 (stereo is averaged), resampled to the settings' rate, centred
in a fixed window (short clips get zeros on both sides, long clips lose both ends equally), turned
into a power mel spectrogram with `tf.signal.stft` + `tf.signal.linear_to_mel_weight_matrix` (HTK
mel scale), converted to dB and clipped `top_db` below its peak.

Image choice: the dB range [peak - top_db, peak] maps linearly to 0..255 and the grey value is
replicated into R, G and B, low frequencies at the bottom. A colormap would only re-encode the
same single number per pixel in a way ImageNet features were not trained on either; grey is the
honest picture of what the network gets. Images are n_mels pixels high and one pixel per STFT
frame wide (128 x 188 with the defaults); training resizes them like any other image.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from PIL import Image

from core.data import datasets
from core.data.datasets import IGNORED_NAMES, DatasetError
from core.data.imaging import IMAGE_EXTENSIONS
from core.data.overlay import Edit
from core.data.scan_cache import ScanCache
from core.platform.fileio import sha256_file, write_atomically
from core.platform.refusal import Refusal

_BASE_EXTENSIONS = frozenset({".wav", ".flac", ".ogg"})
# libsndfile reads MP3 from 1.1.0 on; only claim it when the installed build really can.
AUDIO_EXTENSIONS: frozenset[str] = (
    _BASE_EXTENSIONS | {".mp3"} if "MP3" in soundfile.available_formats() else _BASE_EXTENSIONS
)
RENDER_VERSION = 1  # bump when the rendering below changes: old cached folders stop matching
CACHE_SUBDIR = "spectrograms"
REPORT_FILE = ".spectrograms.json"  # written last: its presence means the folder is complete
AMIN = 1e-10  # power floor before the log (-100 dB), so silence does not give -inf


class UnreadableAudio(Refusal, ValueError):
    """A file that cannot be decoded into audio samples; the message says why, for the user."""


@dataclass(frozen=True)
class SpectrogramSettings:
    sample_rate: int = 16000
    clip_seconds: float = 3.0
    n_mels: int = 128
    hop_length: int = 256
    n_fft: int = 1024
    fmin: float = 0.0
    fmax: float | None = None  # None: sample_rate / 2
    top_db: float = 80.0

    def __post_init__(self) -> None:
        problems = []
        if self.sample_rate <= 0:
            problems.append("sample rate must be positive")
        if self.clip_seconds <= 0:
            problems.append("clip length must be positive")
        if self.n_mels <= 0 or self.hop_length <= 0 or self.n_fft <= 0:
            problems.append("n_mels, hop_length and n_fft must be positive")
        if self.top_db <= 0:
            problems.append("top_db must be positive")
        if self.fmin < 0:
            problems.append("fmin must not be negative")
        if self.sample_rate > 0 and not self.fmin < self.upper_hz <= self.sample_rate / 2:
            problems.append(
                f"need fmin < fmax <= sample_rate / 2 ({self.sample_rate / 2:g} Hz), "
                f"got fmin={self.fmin:g}, fmax={self.upper_hz:g}"
            )
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def upper_hz(self) -> float:
        return float(self.fmax) if self.fmax is not None else self.sample_rate / 2

    @property
    def n_samples(self) -> int:
        return max(1, round(self.clip_seconds * self.sample_rate))

    @property
    def n_frames(self) -> int:
        """STFT frames of a clip: the signal is padded by n_fft // 2 on both sides first."""
        padded = self.n_samples + 2 * (self.n_fft // 2)
        return 1 + (padded - self.n_fft) // self.hop_length

    def key(self) -> str:
        """Stable text naming everything that changes the pixels (cache keys)."""
        return (
            f"v{RENDER_VERSION}-sr{self.sample_rate}-clip{self.clip_seconds:g}"
            f"-mel{self.n_mels}-hop{self.hop_length}-fft{self.n_fft}"
            f"-f{self.fmin:g}-{self.upper_hz:g}-top{self.top_db:g}"
        )


@dataclass
class SpectrogramReport:
    """What a spectrogram folder was made from; saved as REPORT_FILE in the folder."""

    source: str
    settings: dict[str, Any]
    clips: int  # PNGs in the folder
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (source rel, reason)
    ignored: list[str] = field(default_factory=list)  # non-audio files in class folders


def is_audio_file(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS and not _is_hidden(path.name)


def _is_hidden(name: str) -> bool:
    return name in IGNORED_NAMES or name.startswith(".")


def fit_length(waveform: np.ndarray, n_samples: int) -> np.ndarray:
    """Centre the waveform in exactly n_samples: zero-pad both sides or crop both ends."""
    waveform = np.asarray(waveform, dtype=np.float32)
    extra = n_samples - len(waveform)
    if extra > 0:
        return np.pad(waveform, (extra // 2, extra - extra // 2))
    start = -extra // 2
    return waveform[start : start + n_samples]


def read_audio(path: str | Path, sr: int, max_seconds: float | None = None) -> np.ndarray:
    """Mono float32 samples at `sr` Hz (channels averaged, resampled when the file's rate
    differs). With max_seconds, only the centre max_seconds of a longer file are decoded.
    Raises UnreadableAudio with the reason for anything that is not decodable audio."""
    path = Path(path)
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        raise UnreadableAudio(
            f"unsupported audio format '{path.suffix or path.name}' "
            f"(readable: {', '.join(sorted(AUDIO_EXTENSIONS))})"
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadableAudio(f"cannot read file ({exc.strerror or exc})") from exc
    if size == 0:
        raise UnreadableAudio("empty file (0 bytes)")
    try:
        with soundfile.SoundFile(path) as handle:
            native_sr, frames = handle.samplerate, handle.frames
            wanted = -1
            if max_seconds is not None and handle.seekable():
                wanted = math.ceil(max_seconds * native_sr) + 1
                if 0 < wanted < frames:
                    handle.seek((frames - wanted) // 2)
                else:
                    wanted = -1
            data = handle.read(frames=wanted, dtype="float32", always_2d=True)
    except (RuntimeError, OSError, ValueError, EOFError, TypeError) as exc:
        raise UnreadableAudio(f"not audio that can be decoded ({exc})") from exc
    if data.size == 0:
        raise UnreadableAudio("no audio samples in the file")
    if not np.isfinite(data).all():
        raise UnreadableAudio("the file holds NaN or infinite samples")
    return resample(data.mean(axis=1, dtype=np.float32), native_sr, sr)


def resample(mono: np.ndarray, native_sr: int, sr: int) -> np.ndarray:
    """Mono float32 samples taken at native_sr Hz, at sr Hz (polyphase filter; a file and a
    live microphone go through the same one)."""
    if native_sr != sr:
        # imported here: scipy.signal takes 1.5-3 s to import, which every scan (the CLI's
        # `inspect` of an unchanged folder takes under a second otherwise) would pay
        from scipy.signal import resample_poly

        common = math.gcd(int(native_sr), int(sr))
        mono = resample_poly(mono, sr // common, native_sr // common)
    return np.ascontiguousarray(mono, dtype=np.float32)


@functools.lru_cache(maxsize=8)
def _mel_matrix(settings: SpectrogramSettings) -> np.ndarray:
    import tensorflow as tf  # deferred: importing this module must stay cheap for the pages

    matrix = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=settings.n_mels,
        num_spectrogram_bins=settings.n_fft // 2 + 1,
        sample_rate=settings.sample_rate,
        lower_edge_hertz=float(settings.fmin),
        upper_edge_hertz=settings.upper_hz,
        dtype=tf.float32,
    )
    weights: np.ndarray = matrix.numpy()  # (n_fft // 2 + 1, n_mels)
    return weights


def log_mel(waveform: np.ndarray, settings: SpectrogramSettings) -> np.ndarray:
    """(n_mels, n_frames) float32 dB of the mel power spectrogram, row 0 = lowest band,
    clipped to [peak - top_db, peak]. The waveform is first fitted to the clip length."""
    import tensorflow as tf

    clip = fit_length(waveform, settings.n_samples)
    half = settings.n_fft // 2
    padded = np.pad(clip, (half, half))
    spectrum = tf.signal.stft(
        tf.constant(padded),
        frame_length=settings.n_fft,
        frame_step=settings.hop_length,
        fft_length=settings.n_fft,
        window_fn=tf.signal.hann_window,
    )
    power = tf.math.square(tf.math.abs(spectrum)).numpy()  # (frames, n_fft // 2 + 1)
    mel = power @ _mel_matrix(settings)  # (frames, n_mels)
    db = 10.0 * np.log10(np.maximum(mel, AMIN))
    db = np.maximum(db, db.max() - settings.top_db)
    return np.ascontiguousarray(db.T, dtype=np.float32)


def to_image(log_mel_db: np.ndarray, top_db: float | None = None) -> Image.Image:
    """Grey RGB image, low frequencies at the bottom. [peak - top_db, peak] dB maps to 0..255
    (without top_db: [min, max]). A flat input (silence) gives a black image."""
    db = np.asarray(log_mel_db, dtype=np.float64)
    high = float(db.max())
    low = high - top_db if top_db is not None else float(db.min())
    if high - low <= 0 or np.ptp(db) == 0:
        grey = np.zeros(db.shape, dtype=np.uint8)
    else:
        grey = np.rint(np.clip((db - low) / (high - low), 0.0, 1.0) * 255.0).astype(np.uint8)
    grey = np.ascontiguousarray(grey[::-1])  # row 0 of an image is its top: highest band there
    return Image.fromarray(grey, mode="L").convert("RGB")


def spectrogram_for_file(path: str | Path, settings: SpectrogramSettings) -> Image.Image:
    """The image a model sees for one audio file (Predict uses this for uploads)."""
    waveform = read_audio(path, settings.sample_rate, max_seconds=settings.clip_seconds)
    return spectrogram_image(waveform, settings)


def spectrogram_image(waveform: np.ndarray, settings: SpectrogramSettings) -> Image.Image:
    """The image a model sees for mono samples at settings.sample_rate (a file's, or the last
    seconds of a live microphone's)."""
    return to_image(log_mel(waveform, settings), settings.top_db)


def waveform_preview(
    path: str | Path, settings: SpectrogramSettings, points: int = 2000
) -> tuple[np.ndarray, np.ndarray]:
    """(times in s, amplitudes) of the whole file at the settings' rate, reduced to about
    `points` samples for plotting: each bucket keeps its largest-magnitude sample so peaks
    survive."""
    if points < 2:
        raise ValueError("points must be at least 2")
    waveform = read_audio(path, settings.sample_rate)
    rate = float(settings.sample_rate)
    n = len(waveform)
    if n <= points:
        return np.arange(n, dtype=np.float64) / rate, waveform
    width = math.ceil(n / points)
    buckets = math.ceil(n / width)
    padded = np.zeros(buckets * width, dtype=np.float32)
    padded[:n] = waveform
    grid = padded.reshape(buckets, width)
    peak = np.abs(grid).argmax(axis=1)
    index = np.arange(buckets) * width + peak
    return index.astype(np.float64) / rate, grid[np.arange(buckets), peak]


def _class_files(root: Path) -> tuple[list[Path], list[str]]:
    """Audio files in subfolders of root (any depth >= 1), and the other files there."""
    audio, other = [], []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
        if Path(dirpath) == root:
            continue  # loose files at the top belong to no class
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if is_audio_file(path):
                audio.append(path)
            elif not _is_hidden(name):
                other.append(path.relative_to(root).as_posix())
    return audio, other


def first_clips(root: Path) -> dict[str, Path]:
    """The first clip of each class folder below root (class name -> clip), for previews."""
    clips: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and is_audio_file(path) and path.parent != root:
            clips.setdefault(path.parent.name, path)
    return clips


def spectrogram_of(clip: Path, audio_root: Path, images: Path) -> Path | None:
    """The spectrogram picture a clip below audio_root became in the images folder, if any."""
    rel = clip.relative_to(audio_root)
    for candidate in (images / rel.with_suffix(".png"), images / (rel.as_posix() + ".png")):
        if candidate.is_file():
            return candidate
    return None


def is_audio_dataset(root: str | Path) -> bool:
    """True when the files in root's subfolders are mostly audio (more audio than images)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        return False
    audio, other = _class_files(root)
    images = sum(1 for rel in other if Path(rel).suffix.lower() in IMAGE_EXTENSIONS)
    return len(audio) > images


def clip_shape(path: Path) -> tuple[int, int, str]:
    """A scan's check of one clip, from its header only (decoding happens when rendering):
    (frames, channels, "audio"); raises UnreadableAudio with the reason."""
    try:
        empty = path.stat().st_size == 0
        info = None if empty else soundfile.info(str(path))
    except (RuntimeError, OSError, ValueError, EOFError, TypeError) as exc:
        raise UnreadableAudio(f"not audio that can be decoded ({exc})") from exc
    if info is None:
        raise UnreadableAudio("empty file (0 bytes)")
    if info.frames <= 0:
        raise UnreadableAudio("no audio samples in the file")
    return int(info.frames), int(info.channels), "audio"


CLIPS = datasets.Media("audio", "audio clip", is_audio_file, clip_shape)


def scan_dataset(
    root: str | Path,
    val_dir: str | Path | None = None,
    edits: Sequence[Edit] = (),
    cache: ScanCache | None = None,
    progress: Callable[[datasets.ScanProgress], None] | None = None,
) -> datasets.Scan:
    """The one scan of a dataset folder for the CLI and the app: a folder whose class folders
    hold mostly sound (is_audio_dataset) is scanned as audio clips, any other as images. Runs on
    an audio folder render its spectrograms first (core.train.training.image_folders). `edits`: the
    dataset's overlay (core.data.overlay); `cache` and `progress` as in datasets.scan."""
    media = CLIPS if is_audio_dataset(root) else datasets.IMAGES
    return datasets.scan(root, val_dir, media=media, edits=edits, cache=cache, progress=progress)


def _targets(root: Path, files: list[Path]) -> dict[Path, str]:
    """source -> output rel path: clip.wav -> clip.png, or clip.wav.png when two sources in
    one folder share a stem (clip.wav and clip.flac)."""
    rels = {p: p.relative_to(root) for p in files}
    stems: dict[Path, int] = {}
    for rel in rels.values():
        stems[rel.with_suffix("")] = stems.get(rel.with_suffix(""), 0) + 1
    return {
        p: (
            rel.with_suffix(".png")
            if stems[rel.with_suffix("")] == 1
            else rel.with_name(rel.name + ".png")
        ).as_posix()
        for p, rel in rels.items()
    }


def _render(source: Path, target: Path, settings: SpectrogramSettings) -> str | None:
    """Writes target unless it exists; the reason when the clip is unreadable."""
    if target.exists():
        return None
    try:
        image = spectrogram_for_file(source, settings)
    except UnreadableAudio as exc:
        return str(exc)
    write_atomically(target, lambda tmp: image.save(tmp, format="PNG"), suffix=target.suffix)
    return None


def spectrogram_dataset(
    root: str | Path,
    settings: SpectrogramSettings | None,
    cache_root: str | Path,
    *,
    workers: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Render every clip under root's class folders into
    `cache_root/spectrograms/<key>/<same relative path>.png` and return that folder.

    The key hashes (relative path, content hash) of every clip plus `settings.key()`: the same
    data and settings give the same folder, and a complete folder is returned without rendering
    anything. Unreadable clips are skipped and listed in the folder's report
    (`spectrogram_report(folder)`); their class folders are still created so a class with no
    readable clip shows up in `core.data.datasets.scan`. settings None means the defaults;
    cache_root is normally `core.platform.settings.cache_dir(home)`; progress(done, total) is called
    after each clip. Raises DatasetError when root holds no audio in class folders."""
    settings = settings or SpectrogramSettings()
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    files, ignored = _class_files(root)
    if not files:
        raise DatasetError(
            f"no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}) in class folders of {root}"
        )
    digest = hashlib.sha256(settings.key().encode())
    for path in files:
        digest.update(f"\n{path.relative_to(root).as_posix()}\t{sha256_file(path)}".encode())
    folder = Path(cache_root).expanduser().resolve() / CACHE_SUBDIR / digest.hexdigest()[:20]
    if (folder / REPORT_FILE).is_file():
        return folder

    targets = _targets(root, files)
    for rel in targets.values():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
    done = 0

    def one(path: Path) -> tuple[Path, str | None]:
        return path, _render(path, folder / targets[path], settings)

    unreadable = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for path, reason in pool.map(one, files):
            if reason is not None:
                unreadable.append((path.relative_to(root).as_posix(), reason))
            done += 1
            if progress is not None:
                progress(done, len(files))
    report = SpectrogramReport(
        str(root), asdict(settings), len(files) - len(unreadable), unreadable, ignored
    )
    write_atomically(
        folder / REPORT_FILE, lambda tmp: tmp.write_text(json.dumps(asdict(report), indent=1))
    )
    return folder


def spectrogram_report(folder: str | Path) -> SpectrogramReport:
    """The report of a folder made by spectrogram_dataset (unreadable and ignored files)."""
    path = Path(folder) / REPORT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a complete spectrogram folder")
    data = json.loads(path.read_text())
    data["unreadable"] = [tuple(pair) for pair in data["unreadable"]]
    return SpectrogramReport(**data)
