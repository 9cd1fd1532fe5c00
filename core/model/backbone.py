"""The VGG16 convolutional base, with weights from ImageNet, a local file, or none at all."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from core.model import vgg16
from core.model.weights import IMAGENET, WeightsError, WeightsSpec
from core.platform import settings

if TYPE_CHECKING:
    import keras

__all__ = ["WeightsError", "build_vgg16", "keras_cache_location"]


def keras_cache_location() -> Path:
    """Where Keras looks for (and caches) downloaded weights."""
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return keras_home / "models" / vgg16.IMAGENET_NOTOP_FILE


def build_vgg16(image_size: int, weights: WeightsSpec, seed: int = 0) -> keras.Model:
    """keras.applications.VGG16(include_top=False) at image_size, or WeightsError."""
    import keras

    vgg16.check_image_size(image_size)
    keras.utils.set_random_seed(seed)  # random weights are reproducible per seed
    try:
        return keras.applications.VGG16(
            include_top=False,
            weights=weights.keras_argument(),
            input_shape=(image_size, image_size, 3),
        )
    except Exception as exc:  # noqa: BLE001 - rewrapped with what the user should do
        raise _explain(weights, exc) from exc


def _explain(weights: WeightsSpec, exc: Exception) -> WeightsError:
    if weights.kind == IMAGENET:
        return WeightsError(
            f"could not get the ImageNet weights ({type(exc).__name__}: {exc}). Keras downloads "
            f"{vgg16.IMAGENET_NOTOP_FILE} from {vgg16.IMAGENET_NOTOP_URL} and caches it at "
            f"{keras_cache_location()}. Without internet, copy that file there, or point at a "
            f"local copy with --weights PATH (or {settings.WEIGHTS_ENV}=PATH)."
        )
    return WeightsError(
        f"the weights file {weights.path} does not fit VGG16 without its top "
        f"(include_top=False): {type(exc).__name__}: {exc}"
    )
