"""What one executing run works with, prepared once: its settings, folder, split, weights and
feature cache, and how it reports progress into the store."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.data import datasets, overlay
from core.data.datasets import DatasetError, Split
from core.data.scan_cache import ScanCache
from core.model import device, device_facts
from core.model.weights import WeightsSpec
from core.platform import settings
from core.platform.fileio import atomic_write_text
from core.runs.config import RunConfig
from core.runs.results import Progress
from core.runs.store import Store
from core.train import features

CACHE_KEY_FILE = "cache_key.json"  # in the run folder: the images' content fingerprint


@dataclass
class Context:
    store: Store
    run_id: str
    config: RunConfig
    folder: Path
    split: Split
    scan: datasets.Scan
    weights: WeightsSpec  # checked: a file named here exists
    cache: features.FeatureCache
    replicas: int = 1  # MirroredStrategy replicas the run trains on (core.model.device)
    device_use: device_facts.DeviceUse | None = None  # measured when the conv base is built

    def progress(self, stage: str, message: str, **fields: Any) -> None:
        """Record where the run stands; `fields` are Progress fields (phase, epoch, step...)."""
        self.store.update(self.run_id, progress=Progress(stage, message, **fields))

    def should_stop(self) -> bool:
        return self.store.stop_requested(self.run_id)

    @property
    def num_classes(self) -> int:
        return len(self.split.classes)

    def cache_key(self) -> features.CacheKey:
        return features.CacheKey(
            self.scan.fingerprint(),
            self.weights.cache_id(self.config.seed),
            self.config.image_size,
            device.active_precision(),  # bfloat16 features differ from float32 ones
        )


def prepare(
    store: Store, run_id: str, config: RunConfig, folder: Path, resume: bool = False
) -> Context:
    """Scan and split the dataset (a resumed run reuses its saved split), write the run's
    manifest, config and labels, check the weights and seed every generator. The dataset's
    overlay (core.data.overlay: relabelled and excluded files) is applied, and recorded in the
    manifest; a resumed or reproduced run keeps the edits its manifest recorded."""
    images, val_images = image_folders(store, run_id, config, folder)
    store.update(run_id, progress=Progress("scanning", "reading the dataset"))
    manifest = _saved_manifest(config, folder / "manifest.json", resume)
    edits = _edits(store, config, manifest)
    known = ScanCache(store.home)  # files the page or the CLI read already are not read again
    scan = datasets.scan(
        images, val_images, edits=edits, cache=known, progress=_scan_progress(store, run_id)
    )
    if not scan.ok:
        raise DatasetError("; ".join(scan.errors))
    split = _split(scan, config, manifest)
    manifest_out = overlay.record(split.manifest(), scan.edits)
    atomic_write_text(folder / "manifest.json", json.dumps(manifest_out, indent=1))
    atomic_write_text(folder / "config.json", json.dumps(config.to_dict(), indent=1))
    atomic_write_text(folder / "labels.json", json.dumps(split.classes))
    # which cache entries this run's images have (`core cache prune --keep-runs` keeps them)
    atomic_write_text(folder / CACHE_KEY_FILE, json.dumps({"images": scan.fingerprint()}))
    weights = config.weights_for_run().checked()
    cache = features.FeatureCache(settings.cache_dir(store.home))
    _seed_everything(config.seed)
    return Context(store, run_id, config, folder, split, scan, weights, cache)


SCAN_PROGRESS_SECONDS = 1.0  # a long scan's progress is recorded at most this often


def _scan_progress(store: Store, run_id: str) -> Callable[[datasets.ScanProgress], None]:
    """Records a scan's files done / total and time left as the run's progress."""
    said = [0.0]

    def update(p: datasets.ScanProgress) -> None:
        if p.seconds - said[0] < SCAN_PROGRESS_SECONDS:
            return
        said[0] = p.seconds
        store.update(
            run_id,
            progress=Progress(
                "scanning",
                "reading the dataset",
                step=p.done,
                steps=p.total,
                eta_seconds=p.seconds_left,
            ),
        )

    return update


def _saved_manifest(config: RunConfig, saved: Path, resume: bool) -> dict[str, Any] | None:
    """The split to reuse: a resumed run's own, or one given with the settings (a comparison's,
    a reproduction's); None: draw one."""
    return json.loads(saved.read_text()) if resume and saved.exists() else config.manifest


def _edits(
    store: Store, config: RunConfig, manifest: dict[str, Any] | None
) -> tuple[overlay.Edit, ...]:
    """The edits a saved split was drawn under, else those frozen in the settings when the run
    was queued, else (settings made before edits were frozen) the dataset's overlay now."""
    if manifest is not None and "edits" in manifest:
        return overlay.recorded(manifest)
    if config.edits is not None:
        return tuple(overlay.Edit.from_json(e) for e in config.edits)
    return overlay.load(store.home, config.dataset)


def _split(scan: datasets.Scan, config: RunConfig, manifest: dict[str, Any] | None) -> Split:
    split = (
        datasets.split_from_manifest(scan, manifest)
        if manifest
        else datasets.split(
            scan,
            val_fraction=config.val_fraction,
            test_fraction=config.test_fraction,
            seed=config.seed,
        )
    )
    if not split.train or not split.validation:
        raise DatasetError("the split left no training or no validation image")
    return split


def image_folders(
    store: Store, run_id: str, config: RunConfig, folder: Path
) -> tuple[str, str | None]:
    """The image folders to train on: the dataset itself, or for audio clips their log-mel
    spectrograms (rendered once, cached). Either way, a run on spectrograms saves their
    settings (audio.json) so that Predict renders an uploaded clip exactly the same way."""
    from core.data import audio

    if not audio.is_audio_dataset(config.dataset):
        try:  # already spectrograms (the Data page converts audio uploads itself)
            made = audio.spectrogram_report(config.dataset)
            atomic_write_text(folder / "audio.json", json.dumps(made.settings))
        except (FileNotFoundError, ValueError, TypeError):
            pass
        return config.dataset, config.val_dir
    spec = audio.SpectrogramSettings(**(config.audio or {}))
    store.update(run_id, progress=Progress("spectrograms", "turning audio clips into spectrograms"))
    cache = settings.cache_dir(store.home)
    train = audio.spectrogram_dataset(config.dataset, spec, cache)
    val = audio.spectrogram_dataset(config.val_dir, spec, cache) if config.val_dir else None
    atomic_write_text(folder / "audio.json", json.dumps(dataclasses.asdict(spec)))
    config.augment_kind = "spectrogram"  # masking, never rotation, for spectrograms
    return str(train), str(val) if val else None


def _seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)
