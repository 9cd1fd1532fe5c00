"""SpecAugment-style masking for spectrogram images, as a Keras layer.

During training, each image in a batch gets `num_masks` random vertical bands (time: a run of
columns) and `num_masks` random horizontal bands (frequency: a run of rows) replaced; at
inference the layer is the identity. Band widths are drawn uniformly from 0 up to
`max_time_mask` of the width and `max_freq_mask` of the height, per image.

Fill: the layer sits before VGG16's preprocessing, on raw 0..255 RGB. Masked pixels take the
image's own per-channel mean (the original paper masks normalised spectrograms with zero, i.e.
with the mean), so a mask looks neither like silence (black) nor like a loud band. A constant
in the 0..255 space can be chosen with `fill_value` instead.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="studio")
class TimeFrequencyMask(keras.layers.Layer):
    def __init__(
        self,
        max_time_mask: float = 0.15,
        max_freq_mask: float = 0.15,
        num_masks: int = 2,
        fill_value: float | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("max_time_mask", max_time_mask), ("max_freq_mask", max_freq_mask)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"{name} is a fraction of the image and must be in 0..1, got {value}"
                )
        if num_masks < 0:
            raise ValueError(f"num_masks must not be negative, got {num_masks}")
        self.max_time_mask = float(max_time_mask)
        self.max_freq_mask = float(max_freq_mask)
        self.num_masks = int(num_masks)
        self.fill_value = None if fill_value is None else float(fill_value)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def _bands(self, batch: Any, length: Any, fraction: float) -> Any:
        """(batch, length) bool: True inside any of num_masks random bands per image."""
        size = ops.cast(length, self.compute_dtype)
        positions = ops.cast(ops.arange(length), self.compute_dtype)[None, None, :]
        widths = ops.floor(
            keras.random.uniform(
                (batch, self.num_masks),
                0.0,
                1.0,
                dtype=self.compute_dtype,
                seed=self.seed_generator,
            )
            * (fraction * size + 1.0)
        )
        widths = ops.minimum(widths, size)
        starts = ops.floor(
            keras.random.uniform(
                (batch, self.num_masks),
                0.0,
                1.0,
                dtype=self.compute_dtype,
                seed=self.seed_generator,
            )
            * (size - widths + 1.0)
        )
        starts, widths = starts[:, :, None], widths[:, :, None]
        inside = ops.logical_and(positions >= starts, positions < starts + widths)
        return ops.any(inside, axis=1)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.num_masks == 0:
            return inputs
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        columns = self._bands(batch, width, self.max_time_mask)  # (B, W)
        rows = self._bands(batch, height, self.max_freq_mask)  # (B, H)
        mask = ops.logical_or(columns[:, None, :, None], rows[:, :, None, None])  # (B,H,W,1)
        if self.fill_value is None:
            fill = ops.mean(inputs, axis=(1, 2), keepdims=True)
        else:
            fill = ops.cast(self.fill_value, inputs.dtype)
        return ops.where(mask, fill, inputs)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "max_time_mask": self.max_time_mask,
            "max_freq_mask": self.max_freq_mask,
            "num_masks": self.num_masks,
            "fill_value": self.fill_value,
            "seed": self.seed,
        }
