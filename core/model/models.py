"""Keras models built from the VGG16 base: preprocessing, heads, top models and assembly.

The conv base's layers are shared by every model built here: training a "top model" on cached
features of a frozen layer updates the same weights the full image model uses, so nothing is
copied between them. The saved model always starts with VGG16's preprocess_input, so a
prediction can never skip it; it is built from Keras' own layers only, so plain Keras (or
TensorFlow, TFLite, ONNX) loads the model without this project's code.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from core.model import vgg16

PREPROCESS_LAYER = "vgg16_preprocess"


@keras.saving.register_keras_serializable(package="studio")
class VGGPreprocess(layers.Layer):
    """The former preprocessing layer: kept registered so that models saved by older runs
    still load in the studio. New models use `vgg16_preprocessing()`; `portable()` converts."""

    def call(self, inputs):
        return keras.applications.vgg16.preprocess_input(keras.ops.cast(inputs, "float32"))


def vgg16_preprocessing(name: str = PREPROCESS_LAYER) -> layers.Conv2D:
    """keras.applications.vgg16.preprocess_input (caffe: RGB->BGR, ImageNet means subtracted)
    as a fixed, non-trainable 1x1 convolution: a built-in layer, so any Keras loads it.

    The kernel is a channel permutation (weights exactly 0 or 1) and the bias the negated BGR
    means, so each output is x * 1 + y * 0 + z * 0 - mean: bit-identical to preprocess_input.
    float32 even under mixed precision: the means need the precision."""
    permutation = np.zeros((1, 1, 3, 3), dtype="float32")
    for out_channel in range(3):
        permutation[0, 0, 2 - out_channel, out_channel] = 1.0  # BGR out from RGB in
    bias = -np.asarray(vgg16.CAFFE_BGR_MEAN, dtype="float32")
    layer = layers.Conv2D(
        3,
        1,
        name=name,
        trainable=False,
        dtype="float32",
        # constant initial values: a random draw here would shift every later seeded draw
        # (the head's weights) depending on whether features came from the cache
        kernel_initializer="zeros",
        bias_initializer="zeros",
    )
    layer.build((None, None, None, 3))
    layer.set_weights([permutation, bias])  # saved with the model like any weights
    return layer


def output_units(num_classes: int) -> tuple[int, str]:
    """Binary problems use one sigmoid unit, others softmax (the Keras blog's two recipes)."""
    return (1, "sigmoid") if num_classes == 2 else (num_classes, "softmax")


def loss_for(num_classes: int) -> str:
    return "binary_crossentropy" if num_classes == 2 else "sparse_categorical_crossentropy"


def dense_head(num_classes: int, seed: int = 0) -> list[layers.Layer]:
    """Flatten / Dense(256, relu) / Dropout(0.5) / output: the bottleneck-features head, after
    a standardisation of block5_pool by one scalar mean and std (adapt it with `adapt_head`).

    Why the standardisation: the Keras blog's head assumes ImageNet's feature scale. Other
    weights files give other scales (the HED-trained proxy reaches 1,000+, random weights
    ~0.1), and then RMSprop either explodes or crawls. Standardised inputs make the head
    indifferent to the weights' scale; with ImageNet weights it changes little. Scalar, not
    per-channel: a channel that is dead when adapting would get a ~0 variance and explode as
    soon as fine-tuning wakes it up."""
    units, activation = output_units(num_classes)
    return [
        # float32: Keras' Normalization.adapt fails under a mixed bfloat16 policy (it adds a
        # bfloat16 batch mean to its float32 running mean)
        layers.Normalization(axis=None, name="head_normalize", dtype="float32"),
        layers.Flatten(name="head_flatten"),
        layers.Dense(256, activation="relu", name="head_dense"),
        layers.Dropout(0.5, seed=seed, name="head_dropout"),
        # float32 output keeps the loss stable under mixed precision
        layers.Dense(units, activation=activation, name="predictions", dtype="float32"),
    ]


def adapt_head(
    head: list[layers.Layer], bottleneck_features: np.ndarray | keras.utils.PyDataset
) -> None:
    """Fit the head's standardisation to block5_pool features of the training images: an
    array, or batches (a PyDataset yielding arrays) read one at a time, so that the training
    set never has to be in memory at once."""
    if not isinstance(bottleneck_features, keras.utils.PyDataset):
        head[0].adapt(np.asarray(bottleneck_features, dtype="float32"))
        return
    import tensorflow as tf

    batches = bottleneck_features
    shape = (None, *np.shape(batches[0])[1:])
    head[0].adapt(
        tf.data.Dataset.from_generator(
            lambda: (batches[k] for k in range(len(batches))),
            output_signature=tf.TensorSpec(shape, tf.float32),
        )
    )


def image_augmentation(kind: str, seed: int = 0) -> keras.Sequential:
    """Random transforms active only in training: image (flip, rotation, zoom, shift) or
    spectrogram (time/frequency masking: rotating a spectrogram would change its meaning)."""
    from core.model import augmentation as spec

    if kind == "spectrogram":
        from core.model.spec_augment import TimeFrequencyMask

        return keras.Sequential(
            [TimeFrequencyMask(spec.MAX_BAND, spec.MAX_BAND, spec.NUM_MASKS, seed=seed)],
            name="augment",
        )
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(spec.ROTATION, seed=seed),
            layers.RandomZoom(spec.ZOOM, seed=seed),
            layers.RandomTranslation(spec.SHIFT, spec.SHIFT, seed=seed),
        ],
        name="augment",
    )


def _apply(layer_list, x):
    for layer in layer_list:
        x = layer(x)
    return x


def base_layers_after(base: keras.Model, cut: str | None, upto: str | None = None) -> list:
    """The base's layers strictly after `cut` (None: from the first conv) up to `upto`."""
    names = [layer.name for layer in base.layers]
    start = names.index(cut) + 1 if cut else 1  # layer 0 is the InputLayer
    stop = names.index(upto) + 1 if upto else len(names)
    return base.layers[start:stop]


def top_model(base: keras.Model, cut: str, head: list) -> keras.Model:
    """Takes cached outputs of the frozen layer `cut` and runs the rest: blocks after it + head."""
    inputs = keras.Input(shape=tuple(base.get_layer(cut).output.shape[1:]), name=f"{cut}_features")
    outputs = _apply(head, _apply(base_layers_after(base, cut), inputs))
    return keras.Model(inputs, outputs, name=f"top_after_{cut}")


def image_model(
    base: keras.Model,
    head: list,
    augment: keras.Sequential | None = None,
    upto: str | None = None,
    name: str = "vgg16_transfer",
) -> keras.Model:
    """Raw RGB image (0..255) -> [augment] -> preprocess_input -> VGG16 layers -> head."""
    size = base.input.shape[1]
    inputs = keras.Input(shape=(size, size, 3), name="image")
    x = augment(inputs) if augment is not None else inputs
    x = vgg16_preprocessing()(x)
    outputs = _apply(head, _apply(base_layers_after(base, None, upto), x))
    return keras.Model(inputs, outputs, name=name)


def feature_extractor(base: keras.Model, outputs: list[tuple[str, str]]) -> keras.Model:
    """One forward pass giving several layers' outputs: mode "map" keeps the feature map,
    "gap" global-average-pools it (the linear probe's input)."""
    deepest = max((layer for layer, _ in outputs), key=vgg16.LAYER_NAMES.index)
    size = base.input.shape[1]
    inputs = keras.Input(shape=(size, size, 3), name="image")
    x = vgg16_preprocessing()(inputs)
    found = {}
    for layer in base_layers_after(base, None, deepest):
        x = layer(x)
        found[layer.name] = x
    results = []
    for layer, mode in outputs:
        tensor = found[layer]
        # float32 average: a bfloat16 mean of 100+ numbers would lose the probe's precision
        pool = layers.GlobalAveragePooling2D(dtype="float32")
        results.append(pool(tensor) if mode == "gap" else tensor)
    return keras.Model(inputs, results, name="feature_extractor")


def linear_image_model(
    base: keras.Model,
    layer: str,
    coef: np.ndarray,
    intercept: np.ndarray,
    mean: np.ndarray,
    scale: np.ndarray,
) -> keras.Model:
    """A fitted scaler + logistic regression on GAP(layer) features, as one Keras model.

    The standardisation is folded into the Dense weights: w' = w / scale,
    b' = b - sum(w * mean / scale), so the saved model gives exactly scikit-learn's probabilities.
    """
    num_classes = 2 if coef.shape[0] == 1 else coef.shape[0]
    units, activation = output_units(num_classes)
    kernel = (coef / scale).T.astype("float32")  # (features, units)
    bias = (intercept - (coef * mean / scale).sum(axis=1)).astype("float32")
    dense = layers.Dense(units, activation=activation, name="predictions", dtype="float32")
    head = [layers.GlobalAveragePooling2D(name="gap", dtype="float32"), dense]
    model = image_model(base, head, upto=layer, name=f"vgg16_linear_{layer}")
    dense.set_weights([kernel, bias])
    return model


def portable(model: keras.Model) -> keras.Model:
    """The same model without this project's custom layers: an older run's VGGPreprocess is
    replaced by the built-in `vgg16_preprocessing()`, other layers (and weights) are reused.
    A model that is already portable comes back unchanged."""
    if not any(isinstance(layer, VGGPreprocess) for layer in model.layers):
        return model
    inputs = keras.Input(shape=tuple(model.input_shape[1:]), name="image")
    x = inputs
    for layer in model.layers[1:]:  # our models are plain chains (see predict._with_activation)
        x = vgg16_preprocessing()(x) if isinstance(layer, VGGPreprocess) else layer(x)
    return keras.Model(inputs, x, name=model.name)


def last_conv_layer(model: keras.Model) -> str:
    """Grad-CAM's layer: block5_conv3 normally, the deepest conv present otherwise."""
    convs = [
        layer.name
        for layer in model.layers
        if layer.name in vgg16.LAYER_NAMES and "_conv" in layer.name
    ]
    if vgg16.GRADCAM_LAYER in convs:
        return vgg16.GRADCAM_LAYER
    if not convs:
        raise ValueError("this model has no VGG16 convolution layer")
    return max(convs, key=vgg16.LAYER_NAMES.index)


def set_trainable(base: keras.Model, unfreeze_blocks: int) -> None:
    """Freeze the base except the top `unfreeze_blocks` blocks."""
    train = set(vgg16.trainable_layers(unfreeze_blocks))
    base.trainable = True
    for layer in base.layers:
        layer.trainable = layer.name in train


def optimizer(name: str, learning_rate: float, momentum: float = 0.0):
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    raise ValueError(f"unknown optimizer {name!r}")
