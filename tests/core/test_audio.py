"""Audio -> spectrogram images: synthetic tones written with soundfile, nothing downloaded."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.data import audio, datasets
from core.data.audio import SpectrogramSettings, UnreadableAudio

SR = 16000
SETTINGS = SpectrogramSettings(clip_seconds=1.0)  # 63 frames: fast, still 128 mel bands
CLASSES = {"high": 4000.0, "low": 300.0, "mid": 1200.0}


def tone(freq: float, seconds: float = 0.75, sr: int = SR, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    noise = np.random.default_rng(seed).normal(0.0, 0.01, len(t))
    return (0.5 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def write(path: Path, data: np.ndarray, sr: int = SR, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sr, **kwargs)
    return path


def peak_band(path: Path, settings: SpectrogramSettings = SETTINGS) -> int:
    mel = audio.log_mel(audio.read_audio(path, settings.sample_rate), settings)
    return int(mel.mean(axis=1).argmax())


def make_dataset(root: Path, per_split: dict[str, int]) -> Path:
    for split, n in per_split.items():
        for name, freq in CLASSES.items():
            for k in range(n):
                # vary pitch and length a little so every clip has distinct content
                write(
                    root / split / name / f"clip{k}.wav",
                    tone(freq * (1 + 0.02 * k), 0.5 + 0.1 * k, seed=k),
                )
    return root


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = make_dataset(tmp_path_factory.mktemp("audio"), {"train": 3, "validation": 2})
    (root / "train" / "mid" / "broken.wav").write_bytes(os.urandom(300))  # garbage
    (root / "train" / "low" / "empty.wav").write_bytes(b"")
    (root / "train" / "low" / "notes.txt").write_text("recorded on a phone")
    cache = tmp_path_factory.mktemp("cache")
    folder = audio.spectrogram_dataset(root, SETTINGS, cache)
    return root, cache, folder


def test_audio_extensions_follow_libsndfile():
    assert {".wav", ".flac", ".ogg"} <= audio.AUDIO_EXTENSIONS
    assert (".mp3" in audio.AUDIO_EXTENSIONS) == ("MP3" in sf.available_formats())


def test_settings_are_checked_and_keyed():
    with pytest.raises(ValueError, match="fmax"):
        SpectrogramSettings(fmax=9000)
    with pytest.raises(ValueError):
        SpectrogramSettings(hop_length=0)
    assert SpectrogramSettings().key() == SpectrogramSettings().key()
    assert SpectrogramSettings().key() != SpectrogramSettings(n_mels=64).key()
    assert SpectrogramSettings().key() != SpectrogramSettings(top_db=60).key()
    assert SpectrogramSettings().upper_hz == 8000
    assert SpectrogramSettings().n_frames == 1 + 48000 // 256


def test_peak_mel_band_rises_with_pitch(tmp_path):
    bands = [peak_band(write(tmp_path / f"{f}.wav", tone(f))) for f in (300, 1200, 4000)]
    assert bands[0] < bands[1] < bands[2], bands
    assert bands[0] < SETTINGS.n_mels // 4 and bands[2] > SETTINGS.n_mels // 2


def test_image_puts_low_frequencies_at_the_bottom(tmp_path):
    rows = {}
    for freq in (300, 4000):
        image = audio.spectrogram_for_file(write(tmp_path / f"{freq}.wav", tone(freq)), SETTINGS)
        assert image.mode == "RGB" and image.size == (SETTINGS.n_frames, SETTINGS.n_mels)
        pixels = np.asarray(image)
        assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
        assert pixels.min() == 0 and pixels.max() == 255  # the full top_db range is used
        rows[freq] = int(pixels[..., 0].astype(float).mean(axis=1).argmax())
    assert rows[300] > SETTINGS.n_mels // 2  # bright row in the lower half
    assert rows[4000] < rows[300]


def test_silence_gives_a_black_image():
    mel = audio.log_mel(np.zeros(SR // 2, dtype=np.float32), SETTINGS)
    assert np.isfinite(mel).all()
    assert np.asarray(audio.to_image(mel, SETTINGS.top_db)).max() == 0


def test_log_mel_clips_to_top_db():
    mel = audio.log_mel(tone(1200), SETTINGS)
    assert mel.dtype == np.float32
    assert mel.max() - mel.min() == pytest.approx(SETTINGS.top_db, abs=1e-3)


@pytest.mark.parametrize("seconds", [0.2, 1.0, 2.7])
def test_pad_and_crop_give_the_fixed_frame_count(seconds):
    mel = audio.log_mel(tone(1200, seconds), SETTINGS)
    assert mel.shape == (SETTINGS.n_mels, SETTINGS.n_frames) == (128, 63)


def test_fit_length_centres_the_clip():
    padded = audio.fit_length(np.ones(4, dtype=np.float32), 10)
    assert padded.tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0]
    cropped = audio.fit_length(np.arange(10, dtype=np.float32), 4)
    assert cropped.tolist() == [3, 4, 5, 6]


def test_stereo_is_downmixed(tmp_path):
    left, right = tone(300), np.full(int(0.75 * SR), 0.2, dtype=np.float32)
    path = write(tmp_path / "stereo.flac", np.stack([left, right], axis=1), subtype="PCM_24")
    mono = audio.read_audio(path, SR)
    assert mono.ndim == 1 and mono.dtype == np.float32 and len(mono) == len(left)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-4)


def test_resampling_from_8k_keeps_the_pitch_band(tmp_path):
    native = write(tmp_path / "native.wav", tone(1200, 1.0, sr=16000))
    low_rate = write(tmp_path / "low.wav", tone(1200, 1.0, sr=8000), sr=8000)
    waveform = audio.read_audio(low_rate, SR)
    assert abs(len(waveform) - SR) <= 1  # 1 s at 16 kHz
    assert abs(peak_band(low_rate) - peak_band(native)) <= 1
    assert peak_band(low_rate) != peak_band(write(tmp_path / "300.wav", tone(300, 1.0)))


def test_max_seconds_reads_only_the_centre(tmp_path):
    ramp = np.linspace(-1, 1, 4 * SR, dtype=np.float32)
    path = write(tmp_path / "long.wav", ramp, subtype="FLOAT")
    middle = audio.read_audio(path, SR, max_seconds=1.0)
    assert SR <= len(middle) <= SR + 2
    assert abs(float(middle.mean())) < 0.01  # the centre of a symmetric ramp


def test_unreadable_files_raise_a_typed_error(tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(os.urandom(400))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    no_samples = write(tmp_path / "none.wav", np.zeros(0, dtype=np.float32))
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for path, reason in (
        (garbage, "decoded"),
        (empty, "empty"),
        (no_samples, "no audio"),
        (text, "unsupported"),
        (tmp_path / "missing.wav", "cannot read"),
    ):
        with pytest.raises(UnreadableAudio, match=reason):
            audio.read_audio(path, SR)
    assert issubclass(UnreadableAudio, ValueError)


def test_waveform_preview_keeps_peaks(tmp_path):
    signal = np.zeros(SR, dtype=np.float32)
    signal[12345] = -0.9
    path = write(tmp_path / "click.wav", signal, subtype="FLOAT")
    times, amps = audio.waveform_preview(path, SETTINGS, points=500)
    assert len(times) == len(amps) <= 500
    assert np.all(np.diff(times) > 0)
    assert amps.min() == pytest.approx(-0.9)
    assert times[amps.argmin()] == pytest.approx(12345 / SR)
    short = write(tmp_path / "short.wav", tone(300, 0.01), subtype="FLOAT")
    times, amps = audio.waveform_preview(short, SETTINGS, points=500)
    assert len(amps) == 160 and times[1] == pytest.approx(1 / SR)


def test_is_audio_dataset(tmp_path):
    sounds = make_dataset(tmp_path / "sounds", {"": 1})
    assert audio.is_audio_dataset(sounds)
    pictures = tmp_path / "pictures"
    for name in ("a", "b"):
        (pictures / name).mkdir(parents=True)
        (pictures / name / "x.png").write_bytes(b"")
        (pictures / name / "y.png").write_bytes(b"")
    (pictures / "a" / "z.wav").write_bytes(b"")
    assert not audio.is_audio_dataset(pictures)
    loose = tmp_path / "loose"
    write(loose / "top.wav", tone(300))  # no class folder
    assert not audio.is_audio_dataset(loose)
    assert not audio.is_audio_dataset(tmp_path / "missing")


def test_spectrogram_folder_keeps_the_layout(rendered):
    root, cache, folder = rendered
    assert folder.parent == cache.resolve() / "spectrograms"
    for split, n in (("train", 3), ("validation", 2)):
        for name in CLASSES:
            pngs = sorted(p.name for p in (folder / split / name).glob("*.png"))
            assert pngs == [f"clip{k}.png" for k in range(n)]
    assert not list(folder.rglob(".tmp-*"))


def test_unreadable_clips_are_reported_and_skipped(rendered):
    _, _, folder = rendered
    report = audio.spectrogram_report(folder)
    assert sorted(rel for rel, _ in report.unreadable) == [
        "train/low/empty.wav",
        "train/mid/broken.wav",
    ]
    assert all(reason for _, reason in report.unreadable)
    assert report.ignored == ["train/low/notes.txt"]
    assert report.clips == 15
    assert not (folder / "train" / "mid" / "broken.png").exists()


def test_scan_reads_the_spectrogram_folder(rendered):
    _, _, folder = rendered
    result = datasets.scan(folder)
    assert result.ok, result.errors
    assert result.layout == "split"
    assert result.classes == sorted(CLASSES)
    assert result.counts_by_split() == {
        "train": {c: 3 for c in CLASSES},
        "validation": {c: 2 for c in CLASSES},
    }
    assert not result.unreadable and not result.ignored
    assert set(result.sizes()) == {(SETTINGS.n_frames, SETTINGS.n_mels)}
    assert set(result.modes()) == {"RGB"}


def test_second_call_renders_nothing(rendered, monkeypatch):
    root, cache, folder = rendered
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*.png")}
    report_written = (folder / audio.REPORT_FILE).stat().st_mtime_ns
    calls = []
    original = audio.log_mel
    monkeypatch.setattr(audio, "log_mel", lambda *a: calls.append(1) or original(*a))
    assert audio.spectrogram_dataset(root, SETTINGS, cache) == folder
    assert calls == []
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*.png")} == before
    assert (folder / audio.REPORT_FILE).stat().st_mtime_ns == report_written  # marker: done
    other = audio.spectrogram_dataset(root, SpectrogramSettings(clip_seconds=1.0, n_mels=64), cache)
    assert other != folder and len(calls) == 15  # new settings, new folder, all re-rendered


def test_changed_audio_gets_a_new_folder(tmp_path):
    root = make_dataset(tmp_path / "data", {"": 1})
    seen = []
    first = audio.spectrogram_dataset(
        root,
        SETTINGS,
        tmp_path / "cache",
        workers=1,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]
    write(root / "low" / "clip0.wav", tone(350))
    second = audio.spectrogram_dataset(root, SETTINGS, tmp_path / "cache", workers=1)
    assert first != second
    assert datasets.scan(second).layout == "single"


def test_interrupted_render_resumes(tmp_path, monkeypatch):
    root = make_dataset(tmp_path / "data", {"": 2})
    folder = audio.spectrogram_dataset(root, SETTINGS, tmp_path / "cache")
    (folder / audio.REPORT_FILE).unlink()  # as if the process died before finishing
    (folder / "low" / "clip1.png").unlink()
    calls = []
    original = audio.log_mel
    monkeypatch.setattr(audio, "log_mel", lambda *a: calls.append(1) or original(*a))
    assert audio.spectrogram_dataset(root, SETTINGS, tmp_path / "cache") == folder
    assert len(calls) == 1 and (folder / "low" / "clip1.png").is_file()


def test_same_stem_different_format_both_kept(tmp_path):
    root = make_dataset(tmp_path / "data", {"": 1})
    write(root / "low" / "clip0.flac", tone(310))
    folder = audio.spectrogram_dataset(root, SETTINGS, tmp_path / "cache")
    assert sorted(p.name for p in (folder / "low").iterdir()) == ["clip0.flac.png", "clip0.wav.png"]


def test_class_with_no_readable_clip_shows_in_scan(tmp_path):
    root = make_dataset(tmp_path / "data", {"": 1})
    (root / "silent").mkdir()
    (root / "silent" / "bad.wav").write_bytes(b"RIFF....garbage")
    folder = audio.spectrogram_dataset(root, SETTINGS, tmp_path / "cache")
    result = datasets.scan(folder)
    assert "silent" in result.classes
    assert any("silent" in error for error in result.errors)


def test_folder_without_audio_is_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"")
    with pytest.raises(datasets.DatasetError, match="no audio"):
        audio.spectrogram_dataset(tmp_path, SETTINGS, tmp_path / "cache")


def test_scan_dataset_decides_between_sound_and_images(tmp_path, binary_dataset):
    sounds = make_dataset(tmp_path / "sounds", {"train": 2, "validation": 1})
    (sounds / "train" / "low" / "empty.wav").write_bytes(b"")
    found = audio.scan_dataset(sounds)
    assert found.media is audio.CLIPS and found.layout == "split"
    assert found.counts() == {"high": 3, "low": 3, "mid": 3}
    assert found.unreadable == [("train/low/empty.wav", "empty file (0 bytes)")]
    assert found.ok, found.errors
    images = audio.scan_dataset(binary_dataset)
    assert images.media is datasets.IMAGES and images.counts() == {"blue": 12, "red": 12}


def test_scan_of_a_class_without_readable_clips_names_clips(tmp_path):
    sounds = make_dataset(tmp_path / "sounds", {"": 2})
    for clip in (sounds / "mid").iterdir():
        clip.write_bytes(b"garbage")
    found = audio.scan_dataset(sounds)
    assert "class 'mid' has no readable audio clip" in found.errors


def test_first_clips_and_their_spectrograms(tmp_path):
    root = tmp_path / "sounds"
    for name in ("high", "low"):
        for k in (1, 0):
            write(root / name / f"{k}.wav", tone(440.0))
    write(root / "loose.wav", tone(440.0))  # not in a class folder
    clips = audio.first_clips(root)
    assert clips == {"high": root / "high" / "0.wav", "low": root / "low" / "0.wav"}
    images = tmp_path / "images"
    (images / "low").mkdir(parents=True)
    (images / "low" / "0.png").write_bytes(b"png")
    assert audio.spectrogram_of(clips["low"], root, images) == images / "low" / "0.png"
    assert audio.spectrogram_of(clips["high"], root, images) is None
