"""TimeFrequencyMask: identity at inference, row/column bands in training, saves and loads."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.model.spec_augment import TimeFrequencyMask

H, W = 24, 40


def batch(n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(1.0, 255.0, (n, H, W, 3)).astype("float32")  # no pixel equals a fill


def masked(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x != y).any(axis=-1)  # (B, H, W)


def test_identity_at_inference():
    layer = TimeFrequencyMask(0.5, 0.5, num_masks=3, seed=1)
    x = batch()
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)


def test_training_masks_whole_rows_and_columns_with_the_image_mean():
    layer = TimeFrequencyMask(0.3, 0.3, num_masks=2, seed=3)
    x = batch()
    y = np.asarray(layer(x, training=True))
    changed = masked(x, y)
    assert changed.any() and not changed.all()
    full_columns = changed.all(axis=1)  # (B, W): time bands span the height
    full_rows = changed.all(axis=2)  # (B, H): frequency bands span the width
    assert full_columns.any() and full_rows.any()
    for b in range(len(x)):
        # every changed pixel lies in a fully masked row or column: bands, not patches
        explained = full_columns[b][None, :] | full_rows[b][:, None]
        assert (changed[b] <= explained).all()
        # at most num_masks bands of at most 30 % each way
        assert full_columns[b].sum() <= 2 * int(0.3 * W)
        assert full_rows[b].sum() <= 2 * int(0.3 * H)
        mean = x[b].mean(axis=(0, 1))
        np.testing.assert_allclose(
            y[b][changed[b]], np.broadcast_to(mean, (changed[b].sum(), 3)), rtol=1e-5
        )
    # masks differ from one image to the next and from one call to the next
    assert len({masked(x, y)[b].tobytes() for b in range(len(x))}) > 1
    assert not np.array_equal(y, np.asarray(layer(x, training=True)))


def test_constant_fill_and_zero_masks():
    x = batch()
    y = np.asarray(TimeFrequencyMask(0.5, 0.0, 1, fill_value=0.0, seed=2)(x, training=True))
    changed = masked(x, y)
    assert (y[changed] == 0).all()
    assert not changed.all(axis=2).any()  # max_freq_mask 0: no row fully masked
    np.testing.assert_array_equal(np.asarray(TimeFrequencyMask(num_masks=0)(x, training=True)), x)
    with pytest.raises(ValueError):
        TimeFrequencyMask(max_time_mask=1.5)


def test_works_in_graph_mode_with_unknown_shapes():
    layer = TimeFrequencyMask(0.3, 0.3, 2, seed=0)
    fn = tf.function(
        lambda t: layer(t, training=True),
        input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32)],
    )
    x = batch(3)
    y = fn(tf.constant(x)).numpy()
    assert y.shape == x.shape and masked(x, y).any()


def test_save_and_load_round_trip(tmp_path):
    inputs = keras.Input((H, W, 3))
    hidden = TimeFrequencyMask(0.2, 0.25, num_masks=3, seed=7, name="mask")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(hidden))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    x = batch(4)
    model.fit(x, np.zeros((4, 2), "float32"), epochs=1, verbose=0)  # training=True path
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # safe_mode stays on
    layer = loaded.get_layer("mask")
    assert isinstance(layer, TimeFrequencyMask)
    assert (layer.max_time_mask, layer.max_freq_mask, layer.num_masks, layer.seed) == (
        0.2,
        0.25,
        3,
        7,
    )
    assert layer.get_config()["fill_value"] is None
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
