"""Predictions from a finished run's model: top-k classes and Grad-CAM heatmaps.

Only models this studio wrote are loaded: a model file must belong to a run in the store and
match the SHA-256 recorded when it was saved. Loading always uses Keras' safe mode.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps

from core.data.imaging import load_pil_rgb, load_rgb, squash
from core.model.metrics import class_probabilities
from core.platform.refusal import Refusal
from core.runs.store import WITH_MODEL, Run, Store

if TYPE_CHECKING:
    from core.data.audio import SpectrogramSettings

SHOWN_SIZE = 224  # pictures are decoded at least this large for showing (the Grad-CAM overlay)
ONE_CALL = 32  # batches up to this size go through the model in one call (predict_on_batch)


class ModelRefused(Refusal, ValueError):
    """A model file this studio did not write, or one that changed since; or no such run."""


@dataclass
class LoadedModel:
    run: Run
    model: Any  # a keras.Model
    classes: list[str]

    @property
    def image_size(self) -> int:
        return int(self.model.input_shape[1])


def find_run(store: Store, model_or_run: str) -> Run:
    """A run id (or unique prefix), or the path of a run's model.keras."""
    candidate = Path(model_or_run).expanduser()
    if candidate.suffix in (".keras", ".h5", ".pkl", ".pickle") or candidate.exists():
        run = store.with_model(str(candidate.resolve()))
        if run is not None:
            return run
        raise ModelRefused(
            f"{model_or_run} is not a model this studio saved: only models "
            "of finished runs in the run store can be loaded"
        )
    run = store.find(model_or_run)
    if run is None:
        raise ModelRefused(f"no run matches {model_or_run!r}")
    return run


def load(store: Store, model_or_run: str) -> LoadedModel:
    import keras

    import core.model.models  # noqa: F401 - registers VGGPreprocess for deserialisation

    run = find_run(store, model_or_run)
    if run.status not in WITH_MODEL or not run.model_path or not Path(run.model_path).exists():
        raise ModelRefused(f"run {run.id} has no saved model (status: {run.status})")
    path = Path(run.model_path)
    data = path.read_bytes()  # hash and load the same bytes: no swap between check and load
    if hashlib.sha256(data).hexdigest() != run.model_sha256:
        raise ModelRefused(f"{path} changed since the studio saved it; refusing to load it")
    with tempfile.TemporaryDirectory() as private:
        copy = Path(private) / "model.keras"
        copy.write_bytes(data)
        model = keras.models.load_model(copy, safe_mode=True)
    classes = json.loads((path.parent / "labels.json").read_text())
    return LoadedModel(run, model, classes)


def audio_settings(run: Run, store: Store | None = None) -> SpectrogramSettings | None:
    """The spectrogram settings a run trained with (None: the run trained on pictures)."""
    from core.data.audio import SpectrogramSettings

    folder = store.run_dir(run.id) if store else Path(run.model_path or ".").parent
    saved = folder / "audio.json"
    if not saved.exists():
        return None
    try:
        return SpectrogramSettings(**json.loads(saved.read_text()))
    except (TypeError, ValueError):
        return None


def decode_box(image_size: int) -> tuple[int, int]:
    """The smallest upright size a file is decoded at for a model of this input size (a JPEG
    decodes faster at a reduced DCT scale): its input size, and enough for a sharp Grad-CAM
    overlay."""
    side = max(image_size, SHOWN_SIZE)
    return side, side


def image_for(loaded: LoadedModel, path: str | Path) -> Image.Image:
    """What the model sees for a file: the image itself, or an audio clip's spectrogram
    rendered with the run's own settings."""
    from core.data.audio import is_audio_file, spectrogram_for_file

    settings = audio_settings(loaded.run) if loaded.run is not None else None
    if settings is not None and is_audio_file(Path(path)):
        return spectrogram_for_file(path, settings)
    return load_pil_rgb(path, decode_box(loaded.image_size))


def prepare(image: Image.Image | str | Path, size: int) -> np.ndarray:
    """Decode (EXIF, colour modes) and squash to size x size, as training did (a file is
    decoded at reduced size, as in training)."""
    if not isinstance(image, Image.Image):
        return load_rgb(image, size).astype(np.float32)
    return np.asarray(squash(image.convert("RGB"), size), dtype=np.float32)


def probabilities(loaded: LoadedModel, batch: np.ndarray) -> np.ndarray:
    if len(batch) <= ONE_CALL:  # no dataset pipeline per call: twice as fast for one picture
        return class_probabilities(loaded.model.predict_on_batch(batch))
    return class_probabilities(loaded.model.predict(batch, verbose=0))


def top_k(
    loaded: LoadedModel, images: Sequence[Image.Image | str | Path], k: int = 3
) -> list[list[dict[str, Any]]]:
    batch = np.stack([prepare(image, loaded.image_size) for image in images])
    probs = probabilities(loaded, batch)
    k = min(k, len(loaded.classes))
    return [
        [{"class": loaded.classes[j], "probability": float(row[j])} for j in np.argsort(-row)[:k]]
        for row in probs
    ]


def gradcam(
    loaded: LoadedModel,
    image: Image.Image | str | Path,
    class_index: int | None = None,
    layer: str | None = None,
) -> tuple[np.ndarray, int]:
    """Grad-CAM heatmap (HxW in 0..1, at the conv layer's resolution) for class_index (default:
    the predicted class) at the last VGG16 conv layer (block5_conv3 normally)."""
    import tensorflow as tf

    from core.model.models import last_conv_layer

    model = loaded.model
    layer = layer or last_conv_layer(model)
    grad_model = _with_activation(model, layer)
    batch = tf.convert_to_tensor(prepare(image, loaded.image_size)[None])
    with tf.GradientTape() as tape:
        conv, output = grad_model(batch, training=False)
        if output.shape[-1] == 1:
            probs = tf.concat([1.0 - output, output], axis=-1)
        else:
            probs = output
        if class_index is None:
            class_index = int(tf.argmax(probs[0]))
        score = probs[:, class_index]
    grads = tape.gradient(score, conv)
    weights = tf.reduce_mean(grads, axis=(0, 1, 2))
    cam = tf.nn.relu(tf.reduce_sum(conv[0] * weights, axis=-1)).numpy()
    peak = cam.max()
    return (cam / peak if peak > 0 else cam), class_index


def _with_activation(model: Any, layer: str) -> Any:  # Keras models
    """The model replayed layer by layer, also returning `layer`'s activation. Our models are
    plain chains; replaying avoids `layer.output`, which is ambiguous for shared layers."""
    import keras

    inputs = keras.Input(shape=tuple(model.input_shape[1:]))
    x, activation = inputs, None
    for item in model.layers[1:]:
        x = item(x)
        if item.name == layer:
            activation = x
    if activation is None:
        raise ValueError(f"the model has no layer {layer!r}")
    return keras.Model(inputs, [activation, x])


def overlay(
    image: Image.Image | str | Path,
    heatmap: np.ndarray,
    size: int | None = None,
    alpha: float = 0.45,
) -> Image.Image:
    """The heatmap coloured (blue -> yellow -> red) and blended over the upright image."""
    pil = image if isinstance(image, Image.Image) else load_pil_rgb(image)
    pil = pil.convert("RGB")
    if size:
        pil = pil.resize((size, size), Image.Resampling.BILINEAR)
    gray = Image.fromarray(np.uint8(np.clip(heatmap, 0, 1) * 255), mode="L")
    gray = gray.resize(pil.size, Image.Resampling.BILINEAR)
    colored = ImageOps.colorize(gray, black="#1f3b99", mid="#ffd21f", white="#d7191c")
    return Image.blend(pil, colored, alpha)
