"""Audio datasets train like image datasets: spectrograms are rendered in the run, the advisor
measures them like any images, and prediction accepts a clip."""

import json

import numpy as np
import pytest
import soundfile

from core.export import predict
from core.runs import advisor
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.store import Store
from core.train import training

pytestmark = pytest.mark.slow
AUDIO = {"sample_rate": 8000, "clip_seconds": 0.5, "n_mels": 32, "hop_length": 64, "n_fft": 256}


@pytest.fixture
def tones(tmp_path):
    """Two classes by pitch band, with noise: low (300-500 Hz) and high (2000-3000 Hz)."""
    rng = np.random.default_rng(0)
    t = np.arange(4000) / 8000
    for name, band in (("low", (300, 500)), ("high", (2000, 3000))):
        folder = tmp_path / "tones" / name
        folder.mkdir(parents=True)
        for k in range(8):
            wave = np.sin(2 * np.pi * rng.uniform(*band) * t) + rng.normal(0, 0.2, t.size)
            soundfile.write(folder / f"{name}_{k}.wav", (0.3 * wave).astype("float32"), 8000)
    return tmp_path / "tones"


def _run(store, dataset, **settings):
    config = RunConfig(dataset=str(dataset), weights="none", image_size=32, audio=AUDIO, **settings)
    run = store.create(config)
    store.claim_next(0)
    training.execute(store, run.id)
    return store.get(run.id)


def test_audio_trains_and_predicts_a_clip(tones, tmp_path):
    store = Store(tmp_path / "home")
    run = _run(store, tones, strategy="linear", layer="block3_pool")
    assert run.status == store_mod.DONE, run.error
    assert run.result.val_accuracy >= 0.75
    saved = json.loads((store.run_dir(run.id) / "audio.json").read_text())
    assert saved["n_mels"] == 32
    loaded = predict.load(store, run.id)
    image = predict.image_for(loaded, tones / "high" / "high_0.wav")
    assert image.size == (int(0.5 * 8000 / 64) + 1, 32)  # frames x mel bands, not a photo
    assert predict.top_k(loaded, [image], 1)[0][0]["class"] == "high"


def test_advisor_measures_spectrograms_like_any_images(tones, tmp_path):
    run = _run(Store(tmp_path / "home"), tones, task="probe")
    assert run.status == store_mod.DONE, run.error
    assert set(run.result.probe) == {"block3_pool", "block4_pool", "block5_pool"}
    advice = run.result.advice
    # measured, not assumed for audio: a verdict, or "unclear" when the layers tie inside the
    # folds' noise (these tones are easy: every layer may score 100%)
    assert advice.similarity in ("similar", "different", advisor.UNCLEAR)
    assert set(advice.intervals) == set(run.result.probe)
    if advice.similarity == advisor.UNCLEAR:
        assert advice.settle
    assert advice.probe == run.result.probe


def test_run_on_a_converted_spectrogram_folder_records_its_settings(tones, tmp_path):
    from core.data import audio

    spectrograms = audio.spectrogram_dataset(
        tones, audio.SpectrogramSettings(**AUDIO), tmp_path / "cache"
    )
    store = Store(tmp_path / "home")
    config = RunConfig(dataset=str(spectrograms), weights="none", image_size=32, strategy="linear")
    run = store.create(config)
    store.claim_next(0)
    training.execute(store, run.id)
    run = store.get(run.id)
    assert run.status == store_mod.DONE, run.error
    assert predict.audio_settings(run, store).n_mels == 32
