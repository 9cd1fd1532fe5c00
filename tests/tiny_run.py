"""One tiny finished run (2 classes, 32 px, no pretrained weights, 1 epoch), trained in-process
like the worker does: for tests of what happens after training (export, bundle, reproduce)."""

from __future__ import annotations

from pathlib import Path

from synthetic import write_colour_dataset

from core.runs.config import RunConfig
from core.runs.store import Run, Store
from core.train import training

TINY = dict(strategy="head", image_size=32, weights="none", batch_size=8, epochs=1, seed=0)


def train(store: Store, config: RunConfig) -> Run:
    run = store.create(config)
    store.claim_next(worker_pid=0)
    training.execute(store, run.id)
    return store.get(run.id)


def tiny_run(root: Path) -> tuple[Store, Run]:
    dataset = write_colour_dataset(root / "data", ("red", "blue"), per_class=10, size=32)
    store = Store(root / "home")
    return store, train(store, RunConfig(dataset=str(dataset), **TINY))


TINY_AUDIO = {"sample_rate": 8000, "clip_seconds": 1.0, "n_mels": 32, "hop_length": 128}


def tiny_sound_run(root: Path) -> tuple[Store, Run]:
    """The same tiny run on sounds: two pitch bands ("low", "high"), 1 s clips at 8 kHz."""
    import numpy as np
    import soundfile

    rng = np.random.default_rng(0)
    t = np.arange(8000) / 8000
    for name, band in (("low", (300, 500)), ("high", (2000, 3000))):
        folder = root / "tones" / name
        folder.mkdir(parents=True)
        for k in range(8):
            wave = np.sin(2 * np.pi * rng.uniform(*band) * t) + rng.normal(0, 0.2, t.size)
            soundfile.write(folder / f"{name}_{k}.wav", (0.3 * wave).astype("float32"), 8000)
    store = Store(root / "home")
    config = RunConfig(dataset=str(root / "tones"), audio=TINY_AUDIO, **TINY)
    return store, train(store, config)
