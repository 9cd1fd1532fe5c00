"""bfloat16 compute: the setting, separate feature caches, float32 heads, and features that
classify as well as float32 ones (on CPUs that run bfloat16 natively)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.data import datasets, samples
from core.model import device, vgg16
from core.model.backbone import build_vgg16
from core.model.weights import NO_WEIGHTS
from core.platform import hostinfo
from core.runs import advisor
from core.runs.config import RunConfig
from core.train import features

SIZE = 32
NO_NATIVE_BF16 = (
    "this CPU has neither AMX nor AVX512-BF16 (or TF_ENABLE_ONEDNN_OPTS=0): bfloat16 would be "
    "emulated, slowly, and 'auto' keeps float32 here, so the comparison is not run"
)


def test_precision_setting(tmp_path):
    config = RunConfig(dataset=str(tmp_path))
    assert config.precision == "auto" and config.problems() == []
    for choice in ("bfloat16", "float32"):
        assert RunConfig(dataset=str(tmp_path), precision=choice).problems() == []
    problems = RunConfig(dataset=str(tmp_path), precision="float16").problems()
    assert problems == ["precision must be one of auto, bfloat16, float32, not 'float16'"]
    again = RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again.precision == "auto"
    old = {k: v for k, v in config.to_dict().items() if k != "precision"}  # saved before it
    assert RunConfig.from_dict(old).precision == "auto"


def test_cache_keys_keep_precisions_apart(tmp_path):
    f32 = features.CacheKey("images", "random-seed0", 150)
    bf16 = features.CacheKey("images", "random-seed0", 150, "bfloat16")
    plain = f"150px-{features.DECODER}"  # float32 keeps the name it had before precisions
    assert f32.folder(tmp_path) == tmp_path / "features" / "images" / "random-seed0" / plain
    assert bf16.folder(tmp_path) != f32.folder(tmp_path)
    assert bf16.folder(tmp_path).name == f"{plain}-bfloat16"


def test_heads_and_probe_features_stay_float32_under_bfloat16():
    import keras

    from core.model import models

    plan = device.plan_acceleration([], hostinfo.CpuFeatures("x", True, True, True))
    with device.run_precision("auto", plan):
        base = build_vgg16(SIZE, NO_WEIGHTS)
        top = models.top_model(base, vgg16.BOTTLENECK_LAYER, models.dense_head(3))
        extractor = models.feature_extractor(base, [("block3_pool", "gap")])
        x = np.zeros((2, *top.input.shape[1:]), "float32")
        assert base.get_layer("block5_conv3").compute_dtype == "bfloat16"
        assert top.get_layer("predictions").compute_dtype == "float32"
        assert keras.ops.convert_to_numpy(top(x)).dtype == np.float32
        assert extractor.outputs[0].dtype == "float32"  # symbolic: no slow bf16 convolution
    assert device.active_precision() == "float32"


def _probe_accuracies(scan, split, precision: str, weights) -> tuple[dict, dict]:
    """Per layer: (validation accuracy, validation predictions) of the advisor's linear probe
    on GAP features computed in `precision` (same weights for both precisions)."""
    import keras

    keras.mixed_precision.set_global_policy(device.POLICIES[precision])
    try:
        base = build_vgg16(SIZE, NO_WEIGHTS)
        base.set_weights(weights)
        outputs = [(layer, "gap") for layer in vgg16.FEATURE_LAYERS]
        key = features.CacheKey(scan.fingerprint(), "random-seed0", SIZE, precision)
        cache = features.FeatureCache(split["root"])
        table = features.extract(base, scan.items, outputs, key, cache, batch_size=32)
    finally:
        keras.mixed_precision.set_global_policy("float32")
        features.release_models()
    accuracy, predicted = {}, {}
    for output in outputs:
        fit = advisor.fit_linear(
            table.rows(output, split["train"]),
            split["y_train"],
            table.rows(output, split["val"]),
            split["y_val"],
            len(scan.classes),
        )
        accuracy[output[0]] = fit.val_accuracy
        predicted[output[0]] = fit.val_probabilities.argmax(1)
    return accuracy, predicted


@pytest.mark.slow
@pytest.mark.skipif(not hostinfo.cpu_features().bf16, reason=NO_NATIVE_BF16)
def test_bfloat16_features_classify_like_float32_ones(tmp_path):
    """300 real handwritten digits (scikit-learn's, 32 px), random VGG16 weights: the linear
    probe's accuracy on bfloat16 features matches float32's within 4 points on every layer,
    and the two agree on most individual predictions."""
    folder = samples.write_digits(tmp_path, per_class=30, size=SIZE)
    scan = datasets.scan(folder)
    parts = datasets.split(scan, val_fraction=0.3, test_fraction=0.15, seed=0)
    index = {name: k for k, name in enumerate(parts.classes)}
    split = {
        "root": tmp_path / "cache",
        "train": parts.train,
        "val": parts.validation,
        "y_train": np.array([index[i.label] for i in parts.train]),
        "y_val": np.array([index[i.label] for i in parts.validation]),
    }
    weights = build_vgg16(SIZE, NO_WEIGHTS, seed=0).get_weights()
    f32, f32_pred = _probe_accuracies(scan, split, "float32", weights)
    bf16, bf16_pred = _probe_accuracies(scan, split, "bfloat16", weights)
    assert max(f32.values()) > 0.5, f32  # the features carry the digits: chance is 0.1
    for layer in vgg16.FEATURE_LAYERS:
        assert abs(bf16[layer] - f32[layer]) <= 0.04, (layer, f32, bf16)
        assert (bf16_pred[layer] == f32_pred[layer]).mean() >= 0.85, layer


def test_the_head_adapts_to_batched_features_under_bfloat16():
    """A run in bfloat16 (auto on an AMX CPU, an Ampere GPU) adapts the head's standardisation
    batch by batch: it failed with a float32/bfloat16 dtype error before it stayed float32."""
    import keras

    from core.model import models

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return np.full((4, 2, 2, 3), float(index), "float32")

    with device.dtype_policy("bfloat16"):
        head = models.dense_head(2)
        models.adapt_head(head, Batches())
        assert head[0].compute_dtype == "float32" and head[2].compute_dtype == "bfloat16"
    assert float(np.asarray(head[0].mean).ravel()[0]) == pytest.approx(0.5)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["head", "finetune"])
def test_a_tiny_run_trains_in_bfloat16_when_asked_on_any_cpu(strategy, tmp_path):
    """precision="bfloat16" is forced, whatever this CPU runs natively: the worker's own loop
    trains it, its model computes in bfloat16 with a float32 output, and float32 is back after."""
    import keras
    from synthetic import write_colour_dataset
    from tiny_run import TINY

    from core.jobs import worker
    from core.runs import store as store_mod
    from core.runs.store import Store

    data = write_colour_dataset(tmp_path / "data", ("red", "blue"), per_class=10, size=32)
    store = Store(tmp_path / "home")
    settings = {**TINY, "strategy": strategy, "precision": "bfloat16"}
    if strategy == "finetune":
        settings["finetune_epochs"] = 1
    run = worker.submit(store, RunConfig(dataset=str(data), **settings), start=False)
    assert worker.serve(store.home, once=True) == 1
    finished = store.get(run.id)
    assert finished.status == store_mod.DONE, finished.error
    history = store.epoch_history(run.id)
    assert len(history) == (2 if strategy == "finetune" else 1)
    assert all(np.isfinite(h.loss) and np.isfinite(h.val_loss) for h in history)
    assert keras.mixed_precision.global_policy().name == "float32"  # the next run starts clean
    model = keras.saving.load_model(finished.model_path)
    conv = next(layer for layer in model._flatten_layers() if layer.name == "block5_conv3")
    assert conv.compute_dtype == "bfloat16"
    assert model.layers[-1].compute_dtype == "float32"  # the probabilities stay float32
