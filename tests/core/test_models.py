"""Models: preprocessing inside the model, the cached-feature fast path's equivalence, saving,
the linear model's folded scaler, trainable layers by name, and weights errors."""

import zipfile

import keras
import numpy as np
import pytest

from core.export import predict
from core.model import backbone, models, vgg16
from core.model.metrics import class_probabilities
from core.model.weights import WeightsSpec
from core.runs.advisor import fit_linear
from core.train import artifacts, features

SIZE = 32


@pytest.fixture(scope="module")
def base():
    return backbone.build_vgg16(SIZE, WeightsSpec.parse("none"), seed=0)


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (6, SIZE, SIZE, 3)).astype("float32")


@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_preprocessing_layer_is_vgg16_preprocess_input(images, dtype):
    batch = images.astype(dtype)
    expected = keras.applications.vgg16.preprocess_input(images.copy())
    got = np.asarray(models.vgg16_preprocessing()(keras.ops.cast(batch, "float32")))
    np.testing.assert_array_equal(got, expected)  # bit-identical, not merely close
    # caffe mode: BGR order, ImageNet means subtracted (not /255)
    np.testing.assert_allclose(
        got[0, 0, 0], images[0, 0, 0, ::-1] - vgg16.CAFFE_BGR_MEAN, atol=1e-3
    )
    assert not models.vgg16_preprocessing().trainable_weights  # training never moves it


def test_preprocessing_draws_no_random_numbers():
    """Seeded runs stay equal whether or not features came from the cache (which decides
    whether an extractor, with its preprocessing, was built before the head)."""

    def head_kernel(build_preprocessing: bool) -> np.ndarray:
        keras.utils.set_random_seed(0)
        if build_preprocessing:
            models.vgg16_preprocessing()
        dense = keras.layers.Dense(4)
        dense.build((None, 4))
        return np.asarray(dense.kernel)

    np.testing.assert_array_equal(head_kernel(True), head_kernel(False))


def test_saved_models_use_built_in_layers_only(base, tmp_path):
    model = models.image_model(base, models.dense_head(3))
    path = tmp_path / "model.keras"
    artifacts.save_model_atomically(model, path)
    with zipfile.ZipFile(path) as saved:
        config = saved.read("config.json").decode()
    assert "studio>" not in config and "VGGPreprocess" not in config


def test_an_older_runs_model_loads_and_converts_to_a_portable_one(base, images, tmp_path):
    """Runs saved before the built-in preprocessing carry the custom VGGPreprocess layer."""
    head = models.dense_head(3)
    inputs = keras.Input(shape=(SIZE, SIZE, 3), name="image")
    x = models.VGGPreprocess(name=models.PREPROCESS_LAYER)(inputs)
    for layer in [*models.base_layers_after(base, None), *head]:
        x = layer(x)
    old = keras.Model(inputs, x)
    path = tmp_path / "old.keras"
    artifacts.save_model_atomically(old, path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    converted = models.portable(reloaded)
    assert not any(isinstance(layer, models.VGGPreprocess) for layer in converted.layers)
    np.testing.assert_allclose(
        converted.predict(images, verbose=0), old.predict(images, verbose=0), atol=1e-6
    )
    assert models.portable(converted) is converted


@pytest.mark.parametrize("blocks", [0, 1, 2])
def test_top_model_on_cached_features_equals_the_image_model(base, images, blocks):
    head = models.dense_head(3)
    full = models.image_model(base, head)
    cut = vgg16.frozen_cut_layer(blocks)
    extractor = models.feature_extractor(base, [(cut, "map")])
    cached = np.asarray(extractor(images))
    top = models.top_model(base, cut, head)
    np.testing.assert_allclose(np.asarray(top(cached)), np.asarray(full(images)), atol=1e-5)


def test_set_trainable_unfreezes_exactly_the_named_blocks(base):
    head = models.dense_head(2)
    models.set_trainable(base, 1)
    top = models.top_model(base, "block4_pool", head)
    trainable = {w.path.split("/")[0] for w in top.trainable_weights}
    assert trainable == {
        "block5_conv1",
        "block5_conv2",
        "block5_conv3",
        "head_dense",
        "predictions",
    }
    models.set_trainable(base, 0)
    top = models.top_model(base, "block5_pool", head)
    assert {w.path.split("/")[0] for w in top.trainable_weights} == {"head_dense", "predictions"}
    models.set_trainable(base, 5)
    assert sum(layer.trainable for layer in base.layers if "_conv" in layer.name) == 13


def test_saved_model_predicts_like_the_in_memory_model(base, images, tmp_path):
    model = models.image_model(base, models.dense_head(4))
    path = tmp_path / "model.keras"
    artifacts.save_model_atomically(model, path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6
    )
    assert loaded.get_layer("vgg16_preprocess")  # preprocessing travels with the model
    assert not list(tmp_path.glob("*.tmp*"))


@pytest.mark.parametrize("classes", [2, 3])
def test_linear_model_reproduces_scikit_learn(base, classes):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (30, SIZE, SIZE, 3)).astype("float32")
    y = np.arange(30) % classes
    images[y == 0, :, :, 0] = 250  # make it learnable
    gap = np.asarray(models.feature_extractor(base, [("block4_pool", "gap")])(images))
    fit = fit_linear(gap[:20], y[:20], gap[20:], y[20:], classes)
    model = models.linear_image_model(
        base, "block4_pool", fit.coef, fit.intercept, fit.mean, fit.scale
    )
    got = class_probabilities(model.predict(images[20:], verbose=0))
    np.testing.assert_allclose(got, fit.val_probabilities, atol=1e-4)


def test_gradcam_heatmap_has_conv_resolution_peaks_at_one_and_follows_the_class(base):
    model = models.image_model(base, models.dense_head(2))
    loaded = predict.LoadedModel(run=None, model=model, classes=["a", "b"])
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[:, : SIZE // 2] = 255
    from PIL import Image

    heat, index = predict.gradcam(loaded, Image.fromarray(image))
    assert heat.shape == (vgg16.pool_output_size(SIZE, 4), vgg16.pool_output_size(SIZE, 4))
    assert heat.min() >= 0.0 and heat.max() == pytest.approx(1.0)  # scaled to its peak, not 0
    assert np.ptp(heat) > 0.1  # somewhere more than elsewhere
    probabilities = class_probabilities(model.predict(image[None].astype("float32"), verbose=0))
    assert index == int(probabilities[0].argmax())  # the predicted class's map by default
    # one sigmoid output: the other class's gradient is the opposite, so its map lights up
    # exactly where this one is dark
    other, _ = predict.gradcam(loaded, Image.fromarray(image), class_index=1 - index)
    assert other.max() == pytest.approx(1.0)
    assert np.all((heat == 0) | (other == 0)) and np.any(heat == 0)
    assert predict.overlay(Image.fromarray(image), heat).size == (SIZE, SIZE)


def test_feature_cache_is_keyed_and_reused(base, binary_dataset, tmp_path):
    from core.data import datasets

    scan = datasets.scan(binary_dataset)
    cache = features.FeatureCache(tmp_path / "cache")
    key = features.CacheKey(scan.fingerprint(), "random-seed0", SIZE)
    first = features.extract(
        base, scan.items, [("block5_pool", "map"), ("block3_pool", "gap")], key, cache, batch_size=8
    )
    assert (cache.hits, cache.misses) == (0, 2)
    again = features.extract(base, scan.items, [("block5_pool", "map")], key, cache)
    assert (cache.hits, cache.misses) == (1, 2)
    np.testing.assert_array_equal(
        first.rows(("block5_pool", "map"), scan.items),
        again.rows(("block5_pool", "map"), scan.items),
    )
    assert first.rows(("block3_pool", "gap"), scan.items).shape == (24, 256)


def test_unusable_weights_file_gives_a_clear_error(tmp_path):
    bad = tmp_path / "weights.h5"
    bad.write_bytes(b"definitely not hdf5")
    with pytest.raises(backbone.WeightsError, match="does not fit VGG16"):
        backbone.build_vgg16(SIZE, WeightsSpec.parse(str(bad)).checked())
    with pytest.raises(backbone.WeightsError, match="not found"):
        WeightsSpec.parse(str(tmp_path / "missing.h5")).checked()


def test_failed_imagenet_download_names_file_location_and_fix(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.setattr("keras.src.applications.vgg16.file_utils.get_file", offline)
    with pytest.raises(backbone.WeightsError) as error:
        backbone.build_vgg16(SIZE, WeightsSpec.parse("imagenet"))
    message = str(error.value)
    assert vgg16.IMAGENET_NOTOP_FILE in message
    assert str(backbone.keras_cache_location()) in message
    assert "--weights PATH" in message and "VGG16_WEIGHTS" in message


def test_saved_layer_names_do_not_depend_on_where_the_module_lives():
    """A .keras file names custom layers by their registered name: 'studio>Class', not the
    module path, so models saved before core/ moved into packages (or after any future move)
    still load."""
    from core.model.spec_augment import TimeFrequencyMask

    for layer in (models.VGGPreprocess, TimeFrequencyMask):
        name = keras.saving.get_registered_name(layer)
        assert name == f"studio>{layer.__name__}"
        assert keras.saving.get_registered_object(name) is layer
