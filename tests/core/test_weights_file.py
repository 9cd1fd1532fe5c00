"""Weights files: found without a network call, checked by structure and md5 before any run."""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pytest

from core.model import vgg16, weights_file
from core.model.weights import WeightsSpec
from core.platform.fileio import hash_file


def write_h5(path, shapes, legacy: bool = True):
    """An HDF5 file with arrays of these shapes (zeros are never written: tiny on disk)."""
    with h5py.File(path, "w") as handle:
        names = []
        for k, shape in enumerate(shapes):
            group = f"layer{k // 2}"
            names.append(group)
            where = handle.require_group(group if legacy else f"layers/{group}/vars")
            where.create_dataset(f"{k % 2}", shape=shape, dtype="float32")
        if legacy:
            handle.attrs["layer_names"] = np.array(sorted(set(names)), dtype="S")
    return path


@pytest.fixture(autouse=True)
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("VGG16_WEIGHTS", raising=False)


def test_a_file_with_every_vgg16_conv_array_is_usable_but_not_official(tmp_path):
    for legacy in (True, False):
        verdict = weights_file.check(
            write_h5(tmp_path / f"w{legacy}.h5", vgg16.conv_weight_shapes(), legacy)
        )
        assert verdict.usable and not verdict.official
        assert "not the official" in verdict.message


def test_the_official_md5_is_recognised_and_named(tmp_path, monkeypatch):
    path = write_h5(tmp_path / "w.h5", vgg16.conv_weight_shapes())
    monkeypatch.setattr(vgg16, "IMAGENET_NOTOP_MD5", hash_file(path, "md5"))
    verdict = weights_file.check(path)
    assert verdict.usable and verdict.official and "official ImageNet" in verdict.message


def test_a_file_with_the_classifier_top_is_refused_with_the_right_file_named(tmp_path):
    shapes = [*vgg16.conv_weight_shapes(), (25088, 4096), (4096,), (4096, 4096), (4096,)]
    verdict = weights_file.check(write_h5(tmp_path / "top.h5", shapes))
    assert not verdict.usable and vgg16.IMAGENET_NOTOP_FILE in verdict.message


def test_other_networks_and_other_files_are_refused_with_a_reason(tmp_path):
    resnet_like = write_h5(tmp_path / "other.h5", [(7, 7, 3, 64), (64,)])
    verdict = weights_file.check(resnet_like)
    assert not verdict.usable and "do not fit VGG16" in verdict.message
    junk = tmp_path / "photo.h5"
    junk.write_bytes(b"\xff\xd8\xff not hdf5")
    verdict = weights_file.check(junk)
    assert not verdict.usable and "not a Keras weights file" in verdict.message


def test_what_keras_writes_for_vgg16_is_usable_and_loads(tmp_path):
    keras = pytest.importorskip("keras")
    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "mine.weights.h5"
    model.save_weights(path)
    assert weights_file.check(path).usable
    keras.applications.VGG16(include_top=False, weights=str(path), input_shape=(48, 48, 3))


def test_upload_keeps_usable_files_only_and_the_official_one_goes_to_keras_cache(
    tmp_path, monkeypatch
):
    home = tmp_path / "home"
    good = write_h5(tmp_path / "good.h5", vgg16.conv_weight_shapes()).read_bytes()
    verdict, saved = weights_file.install_upload(home, "../../evil name.h5", good)
    assert verdict.usable and saved is not None and saved.parent == home / "weights"
    assert saved.name == "evil_name.h5"
    verdict, saved = weights_file.install_upload(home, "x.h5", b"garbage")
    assert not verdict.usable and saved is None
    assert sorted(p.name for p in (home / "weights").iterdir()) == ["evil_name.h5"]
    monkeypatch.setattr(vgg16, "IMAGENET_NOTOP_MD5", hash_file(tmp_path / "good.h5", "md5"))
    verdict, saved = weights_file.install_upload(home, "whatever.h5", good)
    assert verdict.official and saved == weights_file.keras_cache_location()


def test_detection_prefers_what_works_offline(tmp_path, monkeypatch):
    home = tmp_path / "home"
    found = weights_file.on_this_machine(home)
    assert not found.any_pretrained and found.best_choice() == "none"
    (home / "weights").mkdir(parents=True)
    uploaded = write_h5(home / "weights" / "a.h5", vgg16.conv_weight_shapes())
    assert weights_file.on_this_machine(home).best_choice() == str(uploaded)
    cache = weights_file.keras_cache_location()
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"x")
    assert weights_file.on_this_machine(home).best_choice() == "imagenet"
    monkeypatch.setenv("VGG16_WEIGHTS", str(uploaded))
    assert weights_file.on_this_machine(home).env_file == uploaded
    monkeypatch.setenv("VGG16_WEIGHTS", str(tmp_path / "missing.h5"))
    assert weights_file.on_this_machine(home).env_file is None


def test_problems_known_before_a_run_starts(tmp_path):
    nothing = weights_file.on_this_machine(tmp_path / "home")
    offline, online = (lambda: False), (lambda: True)
    imagenet = WeightsSpec.parse("imagenet")
    assert weights_file.start_problems(imagenet, nothing, offline) == [
        weights_file.NO_INTERNET_FOR_IMAGENET
    ]
    assert weights_file.start_problems(imagenet, nothing, online) == []
    cached = dataclasses.replace(nothing, imagenet_cached=True)
    asked = []
    assert weights_file.start_problems(imagenet, cached, lambda: asked.append(1)) == []
    assert asked == []  # no network question when the file is on the machine
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    (problem,) = weights_file.start_problems(WeightsSpec.parse(str(junk)), nothing, offline)
    assert "not a Keras weights file" in problem
    good = write_h5(tmp_path / "good.h5", vgg16.conv_weight_shapes())
    assert weights_file.start_problems(WeightsSpec.parse(str(good)), nothing, offline) == []
    assert weights_file.start_problems(WeightsSpec.parse("none"), nothing, offline) == []


def test_a_session_starts_with_what_works_unless_the_environment_says_otherwise(
    tmp_path, monkeypatch
):
    home = tmp_path / "home"
    assert weights_file.default_setting(home) == "none"  # nothing here: not ImageNet
    cache = weights_file.keras_cache_location()
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"x")
    assert weights_file.default_setting(home) == "imagenet"
    monkeypatch.setenv("VGG16_WEIGHTS", "none")
    assert weights_file.default_setting(home) == "none"
    monkeypatch.setenv("VGG16_WEIGHTS", str(tmp_path / "missing.h5"))
    assert weights_file.default_setting(home) == str(tmp_path / "missing.h5")  # said, not hidden
