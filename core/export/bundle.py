"""One zip per run that travels: the model (built-in layers only, checked after writing), its
labels, the run config, the split manifest with content hashes, a dataset fingerprint, the
library versions, metrics and curves, TensorBoard logs, a shareable HTML report and a
`predict.py` that needs TensorFlow only. `python -m core reproduce BUNDLE` trains it again.
"""

from __future__ import annotations

import json
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.export import export
from core.platform.fileio import write_atomically
from core.platform.refusal import Refusal
from core.reports import html_report
from core.runs import runfiles
from core.runs.store import Run, Store

MODEL = "model.keras"
LABELS = "labels.txt"
CONFIG = "config.json"
MANIFEST = "manifest.json"
DATASET = "dataset.json"
VERSIONS = "versions.json"
METRICS = "metrics.json"
HISTORY = "history.json"
REPORT = "report.html"
EXAMPLE = "predict.py"
AUDIO = "audio.json"  # spectrogram settings, for runs on audio

PREDICT_EXAMPLE = '''"""Classify images with this bundle's model: TensorFlow only, no studio code.

    pip install tensorflow
    python predict.py IMAGE [IMAGE ...]

The model takes RGB pixels in 0..255 at its input size: VGG16's preprocessing is inside it.
"""

import sys
from pathlib import Path

import tensorflow as tf

HERE = Path(__file__).resolve().parent
model = tf.keras.models.load_model(HERE / "model.keras")
labels = (HERE / "labels.txt").read_text(encoding="utf-8").splitlines()
size = model.input_shape[1]


def load(path):
    data = tf.io.read_file(path)
    image = tf.io.decode_image(data, channels=3, expand_animations=False)  # RGB
    return tf.image.resize(image, (size, size), method="bilinear", antialias=True)


images = sys.argv[1:]
probabilities = model.predict(tf.stack([load(p) for p in images]), verbose=0)
if probabilities.shape[1] == 1:  # two classes: one sigmoid unit, P(second label)
    probabilities = tf.concat([1 - probabilities, probabilities], axis=1).numpy()
for path, row in zip(images, probabilities):
    best = int(row.argmax())
    print(f"{path}: {labels[best]} {row[best]:.3f}")
'''


class BundleRefused(Refusal, ValueError):
    """The run cannot be bundled; the message says why."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    files: tuple[str, ...]  # names inside the zip
    fingerprint: str
    size_bytes: int


def default_path(store: Store, run_id: str) -> Path:
    return store.run_dir(run_id) / f"{run_id}-bundle.zip"


def recorded_versions(folder: Path) -> dict[str, str]:
    """The versions the run trained with (saved by training), else the ones in use now."""
    try:
        versions: dict[str, str] = runfiles.read_json(folder, VERSIONS)
        return versions
    except runfiles.RunFilesMissing:  # a run from before versions were recorded
        return {**runfiles.library_versions(), "recorded": "when bundled, not when trained"}


def result_json(run: Run) -> dict[str, Any]:
    """The run's result as result.json holds it (empty for a run without one)."""
    return run.training_result.to_json() if run.training_result else {}


def report_input(store: Store, exporter: export.Exporter) -> html_report.ReportInput:
    run = exporter.run
    saved = runfiles.read_json(store.run_dir(run.id), MANIFEST)  # its edits, if any
    manifest = runfiles.hashed_manifest(exporter.split, saved.get("edits"))
    return html_report.ReportInput(
        run_id=run.id,
        config=run.config,
        result=result_json(run),
        history=store.epoch_history(run.id),
        manifest=manifest,
        fingerprint=runfiles.dataset_fingerprint(manifest),
        versions=recorded_versions(store.run_dir(run.id)),
    )


def report(store: Store, run_ref: str) -> str:
    """The run's shareable HTML page on its own (the bundle holds it too)."""
    try:
        return html_report.render(report_input(store, export.Exporter(store, run_ref)))
    except export.ExportRefused as exc:
        raise BundleRefused(str(exc)) from None


def write(store: Store, run_ref: str, out: str | Path | None = None) -> Bundle:
    """Write the run's bundle (default: its run folder). The model in it is exported through
    the same check as `export`: it must predict what the studio's model predicts."""
    try:
        exporter = export.Exporter(store, run_ref)
    except export.ExportRefused as exc:
        raise BundleRefused(str(exc)) from None
    run = exporter.run
    folder = store.run_dir(run.id)
    data = report_input(store, exporter)
    saved_manifest = runfiles.read_json(folder, MANIFEST)
    gone = sorted(set(saved_manifest["files"]) - set(data.manifest["files"]))
    texts = {
        LABELS: "\n".join(exporter.split.classes) + "\n",
        CONFIG: json.dumps(run.config.to_dict(), indent=1),
        MANIFEST: json.dumps(data.manifest, indent=1),
        DATASET: json.dumps(
            {
                "fingerprint": data.fingerprint,
                "dataset": run.config.dataset,
                "val_dir": run.config.val_dir,
                "classes": exporter.split.classes,
                "train_images": len(exporter.split.train),
                "validation_images": len(exporter.split.validation),
                "test_images": len(exporter.split.test),
                "missing_since_training": gone,
            },
            indent=1,
        ),
        VERSIONS: json.dumps(data.versions, indent=1),
        METRICS: json.dumps(result_json(run), indent=1),
        HISTORY: json.dumps([row.to_json() for row in data.history], indent=1),
        REPORT: html_report.render(data),
        EXAMPLE: PREDICT_EXAMPLE,
    }
    if (folder / AUDIO).is_file():
        texts[AUDIO] = (folder / AUDIO).read_text()
    target = Path(out).expanduser().resolve() if out else default_path(store, run.id)
    with tempfile.TemporaryDirectory(prefix="studio-bundle-") as scratch:
        model = Path(scratch) / MODEL
        try:
            exporter.export("keras", model)
        except export.ExportRefused as exc:
            raise BundleRefused(str(exc)) from None
        logs = runfiles.tensorboard_dir(folder)
        events = sorted(p for p in logs.rglob("*") if p.is_file()) if logs.is_dir() else []
        names = [MODEL, *texts, *(p.relative_to(folder).as_posix() for p in events)]

        def write_zip(tmp: Path) -> None:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.write(model, MODEL)
                for name, text in texts.items():
                    member = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
                    member.external_attr = 0o644 << 16  # readable once unzipped (default 0600)
                    archive.writestr(member, text, compress_type=zipfile.ZIP_DEFLATED)
                for path in events:
                    archive.write(path, path.relative_to(folder).as_posix())

        write_atomically(target, write_zip, suffix=".zip")
    return Bundle(target, tuple(names), data.fingerprint, target.stat().st_size)


def read_member(bundle: Path, name: str) -> str:
    """A text file from a bundle (BundleRefused when it is not a bundle or lacks the file)."""
    try:
        with zipfile.ZipFile(bundle) as archive:
            return archive.read(name).decode("utf-8")
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise BundleRefused(f"{bundle} is not a studio bundle ({exc})") from None
