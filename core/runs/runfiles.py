"""A finished run's files on disk: its split rebuilt from the saved manifest, the images it
trained and validated on, its TensorBoard logs, and the versions of the libraries in use.

Shared by export, the bundle, the shareable report and reproduce. No TensorFlow import here:
training imports `tensorboard_dir` from this module.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import shlex
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from core.data import datasets, overlay
from core.data.scan_cache import ScanCache
from core.platform import settings
from core.platform.refusal import Refusal
from core.runs.config import RunConfig
from core.runs.store import Run, Store

TENSORBOARD_DIR = "tensorboard"
PYPROJECT = settings.PROJECT_ROOT / "pyproject.toml"
VERSIONED = {  # what the bundle records: label -> distribution name
    "tensorflow": "tensorflow",
    "keras": "keras",
    "numpy": "numpy",
    "pillow": "pillow",
}


class RunFilesMissing(Refusal, ValueError):
    """A run's saved files (or its dataset) are not where the run left them."""


def tensorboard_dir(run_folder: Path) -> Path:
    """Where training writes TensorBoard event files: one subfolder per phase."""
    return Path(run_folder) / TENSORBOARD_DIR


def tensorboard_command(store: Store, run_id: str) -> str:
    """The line to type to watch a run's curves in TensorBoard (needs `pip install
    tensorboard`, which requirements.txt has)."""
    return f"tensorboard --logdir {shlex.quote(str(tensorboard_dir(store.run_dir(run_id))))}"


def read_json(folder: Path, name: str) -> Any:
    path = Path(folder) / name
    if not path.is_file():
        raise RunFilesMissing(f"{path} is missing: this run did not finish saving its files")
    return json.loads(path.read_text())


def image_roots(config: RunConfig, home: Path) -> tuple[str, str | None]:
    """The image folders a run trained on: the dataset itself, or for an audio dataset the
    spectrogram folders rendered from it (cached; the same clips and settings give the same
    folder, so the manifest's names match)."""
    from core.data import audio
    from core.platform import settings

    if not audio.is_audio_dataset(config.dataset):
        return config.dataset, config.val_dir
    spec = audio.SpectrogramSettings(**(config.audio or {}))
    cache = settings.cache_dir(home)
    train = audio.spectrogram_dataset(config.dataset, spec, cache)
    val = audio.spectrogram_dataset(config.val_dir, spec, cache) if config.val_dir else None
    return str(train), str(val) if val else None


def rebuild_split(config: RunConfig, manifest: dict[str, Any], home: Path) -> datasets.Split:
    """The run's split over the files as they are now (files gone since are left out)."""
    images, val_images = image_roots(config, home)
    try:  # with the edits the run trained under (relabelled files keep their new class)
        edits = overlay.recorded(manifest)
        scan = datasets.scan(images, val_images, edits=edits, cache=ScanCache(home))
    except datasets.DatasetError as exc:
        raise RunFilesMissing(f"the run's dataset cannot be read any more: {exc}") from None
    return datasets.split_from_manifest(scan, manifest)


def run_split(store: Store, run: Run) -> datasets.Split:
    """The split a finished run used, rebuilt from its saved manifest."""
    folder = store.run_dir(run.id)
    split = rebuild_split(run.config, read_json(folder, "manifest.json"), store.home)
    if not split.validation:
        raise RunFilesMissing(f"none of run {run.id}'s validation images can be found any more")
    return split


def hashed_manifest(
    split: datasets.Split, edits: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The split manifest with each file's class and content hash: file -> split, label,
    sha256 (what `reproduce` checks before it trains again), and the overlay's edits the run
    trained under (core.data.overlay), when there were any."""
    files = {
        item.rel: {"split": side, "label": item.label, "sha256": item.sha256}
        for side, items in split.sides().items()
        for item in items
    }
    out = {
        "classes": split.classes,
        "seed": split.seed,
        "val_fraction": split.val_fraction,
        "test_fraction": split.test_fraction,
        "files": files,  # in the split's order, which seeded shuffling depends on
    }
    return {**out, "edits": edits} if edits else out


def dataset_fingerprint(manifest: dict[str, Any]) -> str:
    """One hash for exactly what a run learned from: every file's name, side, class and
    content. Renaming, moving between sides, relabelling or editing any file changes it."""
    digest = hashlib.sha256()
    for rel, entry in sorted(manifest["files"].items()):
        digest.update(f"{rel}\t{entry['split']}\t{entry['label']}\t{entry['sha256']}\n".encode())
    if edits := overlay.recorded(manifest):  # without edits: the hash runs have always had
        digest.update(f"edits\t{overlay.fingerprint(edits)}\n".encode())
    return digest.hexdigest()


def plain_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """A hashed manifest back in RunConfig.manifest's form (file -> split)."""
    files = {rel: entry["split"] for rel, entry in manifest["files"].items()}
    plain = {
        "classes": manifest["classes"],
        "seed": manifest["seed"],
        "val_fraction": manifest["val_fraction"],
        "test_fraction": manifest.get("test_fraction", 0.0),  # old manifests: no test side
        "files": files,
    }
    return overlay.record(plain, overlay.recorded(manifest))


def sample(items: list[datasets.Item], limit: int, seed: int = 0) -> list[datasets.Item]:
    """Up to `limit` items, a seeded draw (the same on every call)."""
    if len(items) <= limit:
        return list(items)
    picked = np.random.default_rng(seed).choice(len(items), size=limit, replace=False)
    return [items[k] for k in sorted(picked)]


def studio_version() -> str:
    match = re.search(r'^version\s*=\s*"([^"]+)"', PYPROJECT.read_text(), re.MULTILINE)
    return match.group(1) if match else "unknown"


def library_versions() -> dict[str, str]:
    """Python, TensorFlow, Keras, numpy, Pillow and the studio's own version."""
    found = {"python": platform.python_version(), "studio": studio_version()}
    for label, distribution in VERSIONED.items():
        try:
            found[label] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            found[label] = "not installed"
    return found


def version_differences(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """One sentence per library whose version differs from the recorded one."""
    return [
        f"{name} {recorded[name]} when recorded, {current.get(name, 'not installed')} now"
        for name in sorted(recorded)
        if recorded[name] != current.get(name, "not installed")
    ]
