"""core.model.augment_preview: what augmentation does to a picture, without TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.model import augment_preview


def _picture() -> Image.Image:
    pixels = np.zeros((60, 80, 3), dtype=np.uint8)
    pixels[:, :40] = (250, 10, 10)  # left half red
    pixels[:, 40:] = (10, 10, 250)
    return Image.fromarray(pixels)


def test_augmented_images_are_varied_and_reproducible():
    first = augment_preview.augmented(_picture(), count=4, size=48, seed=1)
    again = augment_preview.augmented(_picture(), count=4, size=48, seed=1)
    assert [im.size for im in first] == [(48, 48)] * 4
    assert all(im.mode == "RGB" for im in first)
    arrays = [np.asarray(im) for im in first]
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(arrays, again, strict=True))
    assert len({a.tobytes() for a in arrays}) == 4
    for a in arrays:  # reflected borders: no black corners appear
        assert a.reshape(-1, 3).max(axis=1).min() > 5


def test_spectrogram_augmentation_masks_bands_with_the_mean():
    versions = augment_preview.augmented(_picture(), count=6, size=40, kind="spectrogram", seed=3)
    base = np.asarray(_picture().resize((40, 40), Image.Resampling.BILINEAR)).astype(int)
    fill = np.rint(base.reshape(-1, 3).mean(axis=0))
    changed = [np.asarray(v).astype(int) for v in versions]
    assert any((c != base).any() for c in changed)
    for c in changed:
        differs = (c != base).any(axis=2)
        assert np.allclose(c[differs], fill, atol=1)
    with pytest.raises(ValueError):
        augment_preview.augmented(_picture(), kind="sepia")
