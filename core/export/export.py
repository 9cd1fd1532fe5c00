"""A finished run's model in formats that run without this studio: Keras, TensorFlow
SavedModel, TFLite (float and int8) and ONNX.

Every export is written to a temporary name, loaded back in the runtime that will run it
(Keras, tf.saved_model, the TFLite interpreter, onnxruntime) on a few of the run's validation
images, and its class probabilities are compared with the studio's own model: an export that
disagrees beyond its format's tolerance is refused (deleted, with the numbers), never kept.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from core.data.datasets import Item
from core.export import predict
from core.model.metrics import class_probabilities
from core.platform.refusal import Refusal
from core.runs import runfiles
from core.runs.store import Store

CHECK_IMAGES = 8  # validation images each export is checked on
REPRESENTATIVE_IMAGES = 100  # training images that calibrate int8 quantisation
QUANTISATION_IMAGES = 1000  # at most this many validation images score float vs int8
EXPORT_DIR = "export"


@dataclass(frozen=True)
class ExportFormat:
    name: str  # as typed on the command line
    filename: str  # default name in the run's export folder
    runtime: str  # the package that loads it back
    tolerance: float  # largest accepted |probability difference| from the studio's model
    title: str


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("keras", "model.keras", "keras", 1e-5, "Keras 3 model (.keras)"),
        ExportFormat("savedmodel", "saved_model", "tensorflow", 1e-5, "TensorFlow SavedModel"),
        ExportFormat("tflite", "model.tflite", "tensorflow", 1e-4, "TFLite, float32"),
        # int8 rounds every activation: its check is on the mean difference (see _compare)
        ExportFormat("tflite-int8", "model_int8.tflite", "tensorflow", 0.1, "TFLite, int8"),
        ExportFormat("onnx", "model.onnx", "onnxruntime", 1e-4, "ONNX"),
    )
}


class ExportRefused(Refusal, ValueError):
    """The export could not be made, or it predicts differently from the studio's model."""


@dataclass(frozen=True)
class ExportCheck:
    images: int
    max_difference: float  # largest |probability difference| from the studio's model
    mean_difference: float
    top1_agreement: float  # share of images with the same predicted class
    tolerance: float


@dataclass(frozen=True)
class QuantisationReport:
    """int8 next to float32 TFLite, both run by the TFLite interpreter, one image at a time."""

    validation_images: int
    float_bytes: int
    int8_bytes: int
    float_ms_per_image: float
    int8_ms_per_image: float
    float_accuracy: float
    int8_accuracy: float

    @property
    def size_ratio(self) -> float:
        return self.int8_bytes / self.float_bytes

    def describe(self) -> str:
        return (
            f"int8 {self.int8_bytes / 1e6:.1f} MB vs float {self.float_bytes / 1e6:.1f} MB; "
            f"{self.int8_ms_per_image:.1f} vs {self.float_ms_per_image:.1f} ms per image; "
            f"accuracy {self.int8_accuracy:.1%} vs {self.float_accuracy:.1%} "
            f"on {self.validation_images} validation images"
        )


@dataclass(frozen=True)
class Exported:
    format: str
    path: Path
    size_bytes: int
    check: ExportCheck
    quantisation: QuantisationReport | None = None  # tflite-int8 only


def default_path(store: Store, run_id: str, fmt: str) -> Path:
    return store.run_dir(run_id) / EXPORT_DIR / FORMATS[fmt].filename


def missing_runtime(fmt: str) -> str | None:
    """Why this format cannot be exported here (a package is missing), or None."""
    import importlib.util

    needed = {"onnx": ("tf2onnx", "onnx", "onnxruntime")}.get(fmt, ("tensorflow",))
    absent = [name for name in needed if importlib.util.find_spec(name) is None]
    if absent:
        return f"{fmt} export needs {', '.join(absent)}: pip install {' '.join(absent)}"
    return None


def export(store: Store, run_ref: str, fmt: str, out: str | Path | None = None) -> Exported:
    """Write one format, checked against the studio's model (ExportRefused otherwise)."""
    return Exporter(store, run_ref).export(fmt, out)


def export_many(
    store: Store, run_ref: str, formats: list[str], out_dir: str | Path | None = None
) -> list[Exported]:
    """Several formats of one run, sharing the loaded model and the intermediate SavedModel."""
    exporter = Exporter(store, run_ref)
    return [
        exporter.export(fmt, Path(out_dir) / FORMATS[fmt].filename if out_dir else None)
        for fmt in formats
    ]


class Exporter:
    """One run's model, portable, with its check images and the studio's predictions on them."""

    def __init__(self, store: Store, run_ref: str, check_images: int = CHECK_IMAGES):
        from core.model import models

        try:
            self.loaded = predict.load(store, run_ref)
        except predict.ModelRefused as exc:
            raise ExportRefused(str(exc)) from None
        self.store = store
        self.run = self.loaded.run
        self.model = models.portable(self.loaded.model)
        try:
            self.split = runfiles.run_split(store, self.run)
        except runfiles.RunFilesMissing as exc:
            raise ExportRefused(f"cannot check the export: {exc}") from None
        self.check_items = runfiles.sample(self.split.validation, check_images)
        self.check_batch = self.batch(self.check_items)
        self.expected = predict.probabilities(self.loaded, self.check_batch)
        self._scratch = tempfile.TemporaryDirectory(prefix="studio-export-")
        self._tflite: dict[bool, bytes] = {}

    def batch(self, items: list[Item]) -> np.ndarray:
        """float32 RGB 0..255 at the run's size, decoded as training decoded them."""
        size = self.loaded.image_size
        return np.stack([predict.prepare(item.path, size) for item in items])

    # -- writing ----------------------------------------------------------------------------
    def export(self, fmt: str, out: str | Path | None = None) -> Exported:
        if fmt not in FORMATS:
            raise ExportRefused(f"unknown format {fmt!r} (choose {', '.join(FORMATS)})")
        if reason := missing_runtime(fmt):
            raise ExportRefused(reason)
        target = (
            Path(out).expanduser().resolve() if out else default_path(self.store, self.run.id, fmt)
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-export-", dir=target.parent))
        try:
            written = staging / FORMATS[fmt].filename
            got = self._write_and_load_back(fmt, written)
            check = _compare(fmt, self.expected, got)
            quantisation = self.quantisation_report(written) if fmt == "tflite-int8" else None
            _replace(written, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return Exported(fmt, target, _size(target), check, quantisation)

    def _write_and_load_back(self, fmt: str, path: Path) -> np.ndarray:
        """The export's probabilities on the check images; a converter or runtime error
        becomes a refusal that names the step."""
        try:
            self._write(fmt, path)
        except Exception as exc:  # noqa: BLE001 - converters raise anything; said in one line
            raise ExportRefused(
                f"the {fmt} conversion failed: {type(exc).__name__}: {exc}"
            ) from exc
        try:
            return predictions(fmt, path, self.check_batch)
        except Exception as exc:  # noqa: BLE001 - as above, for the runtime
            raise ExportRefused(
                f"the {fmt} export was written but {FORMATS[fmt].runtime} cannot run it: "
                f"{type(exc).__name__}: {exc}"
            ) from None

    def _write(self, fmt: str, path: Path) -> None:
        if fmt == "keras":
            self.model.save(path)
        elif fmt == "savedmodel":
            shutil.copytree(self.saved_model, path)
        elif fmt == "tflite":
            path.write_bytes(self.tflite(int8=False))
        elif fmt == "tflite-int8":
            path.write_bytes(self.tflite(int8=True))
        elif fmt == "onnx":
            self._onnx(path)

    def _onnx(self, path: Path) -> None:
        """tf2onnx's from_keras. Not Keras' own export(format="onnx") (measured with Keras
        3.15): it leaves the adapted Normalization's mean and variance as graph inputs that
        onnxruntime then demands."""
        import tensorflow as tf
        import tf2onnx

        size = self.loaded.image_size
        spec = (tf.TensorSpec((None, size, size, 3), tf.float32, name="image"),)
        with _quiet():
            tf2onnx.convert.from_keras(self.model, input_signature=spec, output_path=str(path))

    @cached_property
    def saved_model(self) -> Path:
        """The SavedModel (the TFLite converter's input too), written once per Exporter."""
        path = Path(self._scratch.name) / "saved_model"
        with _quiet():
            self.model.export(str(path), format="tf_saved_model", verbose=False)
        return path

    def tflite(self, int8: bool) -> bytes:
        """The converted model, converted once per Exporter (the int8 report needs float's)."""
        if int8 not in self._tflite:
            self._tflite[int8] = self._convert_tflite(int8)
        return self._tflite[int8]

    def _convert_tflite(self, int8: bool) -> bytes:
        import tensorflow as tf

        converter = tf.lite.TFLiteConverter.from_saved_model(str(self.saved_model))
        if int8:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = self._representative_images
            # every op in int8 (inputs and outputs stay float32 RGB 0..255, like the others)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        with _quiet():
            model: bytes = converter.convert()
        return model

    def _representative_images(self) -> Iterator[list[np.ndarray]]:
        """Calibration data for int8: a seeded sample of the run's training images."""
        for item in runfiles.sample(self.split.train, REPRESENTATIVE_IMAGES, seed=1):
            yield [self.batch([item])]

    # -- int8 next to float -------------------------------------------------------------------
    def quantisation_report(self, int8_path: Path) -> QuantisationReport:
        float_path = Path(self._scratch.name) / "float.tflite"
        float_path.write_bytes(self.tflite(int8=False))
        items = runfiles.sample(self.split.validation, QUANTISATION_IMAGES)
        index = {name: k for k, name in enumerate(self.split.classes)}
        labels = np.array([index[item.label] for item in items])
        images = self.batch(items)
        float_probs, float_ms = _timed_tflite(float_path, images)
        int8_probs, int8_ms = _timed_tflite(int8_path, images)
        return QuantisationReport(
            validation_images=len(labels),
            float_bytes=float_path.stat().st_size,
            int8_bytes=int8_path.stat().st_size,
            float_ms_per_image=float_ms,
            int8_ms_per_image=int8_ms,
            float_accuracy=float(np.mean(float_probs.argmax(axis=1) == labels)),
            int8_accuracy=float(np.mean(int8_probs.argmax(axis=1) == labels)),
        )


# -- loading back, each format in its own runtime ---------------------------------------------
def predictions(fmt: str, path: Path, batch: np.ndarray) -> np.ndarray:
    """Class probabilities from an exported file, run by the runtime that format is for."""
    batch = np.asarray(batch, dtype="float32")
    if fmt == "keras":
        import keras

        raw = keras.saving.load_model(path).predict(batch, verbose=0)
    elif fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))  # keep a reference: it owns the variables
        raw = loaded.serve(tf.constant(batch)).numpy()
    elif fmt in ("tflite", "tflite-int8"):
        raw = _timed_tflite(path, batch, probabilities=False)[0]
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        raw = session.run(None, {session.get_inputs()[0].name: batch})[0]
    return class_probabilities(np.asarray(raw))


def tflite_interpreter(path: Path) -> Any:  # LiteRT's or TensorFlow's Interpreter
    """LiteRT's interpreter when installed, else TensorFlow's own (deprecated, still there)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806 - a class
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the deprecation notice, on every call
        interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    return interpreter


def _timed_tflite(
    path: Path, batch: np.ndarray, probabilities: bool = True
) -> tuple[np.ndarray, float]:
    """Outputs for each image (batch size 1, as on a device) and the mean ms per image."""
    interpreter = tflite_interpreter(path)
    source = interpreter.get_input_details()[0]
    target = interpreter.get_output_details()[0]
    outputs, seconds = [], 0.0
    for image in np.asarray(batch, dtype="float32"):
        interpreter.set_tensor(source["index"], image[None])
        start = time.perf_counter()
        interpreter.invoke()
        seconds += time.perf_counter() - start
        outputs.append(interpreter.get_tensor(target["index"])[0].copy())
    raw = np.stack(outputs)
    return (class_probabilities(raw) if probabilities else raw), 1000 * seconds / len(batch)


def _compare(fmt: str, expected: np.ndarray, got: np.ndarray) -> ExportCheck:
    tolerance = FORMATS[fmt].tolerance
    if got.shape != expected.shape:
        raise ExportRefused(
            f"the {fmt} export gives outputs of shape {got.shape}, the studio's model "
            f"{expected.shape}: not kept"
        )
    difference = np.abs(got - expected)
    check = ExportCheck(
        images=len(expected),
        max_difference=float(difference.max()),
        mean_difference=float(difference.mean()),
        top1_agreement=float(np.mean(got.argmax(axis=1) == expected.argmax(axis=1))),
        tolerance=tolerance,
    )
    # int8 rounding may move single outputs; on average it must stay close
    measured = check.mean_difference if fmt == "tflite-int8" else check.max_difference
    if not measured <= tolerance:  # `not <=` also refuses NaN
        which = "on average" if fmt == "tflite-int8" else "at most"
        raise ExportRefused(
            f"the {fmt} export disagrees with the studio's model on {check.images} validation "
            f"images (its probabilities differ by {measured:.2g} {which}, more than the "
            f"{tolerance:g} accepted): not kept"
        )
    return check


# -- files ------------------------------------------------------------------------------------
def _replace(written: Path, target: Path) -> None:
    """Move a checked export into place (a folder replaces a previous export of itself)."""
    if target.is_dir() and not target.is_symlink():
        old = target.with_name(f".tmp-old-{target.name}")
        os.replace(target, old)
        os.replace(written, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(written, target)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


@contextmanager
def _quiet() -> Iterator[None]:
    """No warnings from the converters (deprecations, numpy futures) on the CLI's output."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
