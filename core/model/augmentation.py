"""The training augmentations, as data: read by the Keras layers (core.model.models) and by the
TensorFlow-free preview the Train page shows (core.model.augment_preview)."""

from __future__ import annotations

KINDS = ("image", "spectrogram")

# "image": random horizontal flip, then rotation (fraction of a full turn, either way),
# zoom and shift (fractions of the size); borders are reflected (Keras' default fill).
ROTATION = 0.1
ZOOM = 0.1
SHIFT = 0.1

# "spectrogram": time and frequency bands, each up to this fraction of the axis, filled with
# the image's mean: masking, never rotation or flips, which would change what a sound means.
MAX_BAND = 0.15
NUM_MASKS = 2
