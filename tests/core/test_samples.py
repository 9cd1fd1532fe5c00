"""Sample datasets: the built-in one works offline; downloads fail with a clear message."""

import keras
import numpy as np
import pytest
from PIL import Image

from core.data import datasets, samples


def test_digits_sample_is_an_offline_ten_class_folder(tmp_path):
    folder = samples.prepare("digits", tmp_path / "home")
    scan = datasets.scan(folder)
    assert scan.ok and len(scan.classes) == 10
    assert set(scan.counts().values()) == {50}
    assert samples.sample_id(folder) == "digits"
    image = np.asarray(Image.open(folder / "digit_0" / "0_000.png"))
    assert image.shape == (32, 32) and image.max() > 200 and image.min() < 60  # dark on white
    mtime = (folder / samples.MARKER).stat().st_mtime_ns
    assert samples.prepare("digits", tmp_path / "home") == folder  # written once
    assert (folder / samples.MARKER).stat().st_mtime_ns == mtime


def test_online_sample_without_internet_says_what_to_do(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(samples.SampleUnavailable) as error:
        samples.prepare("cats_vs_dogs_small", tmp_path / "home")
    assert "needs internet" in str(error.value) and "digits" in str(error.value)
    assert not (tmp_path / "home" / "samples" / "cats_vs_dogs_small").exists()


def test_unknown_sample_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown sample"):
        samples.prepare("imagenet", tmp_path)
