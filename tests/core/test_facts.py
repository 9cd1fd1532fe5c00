"""VGG16 facts, the strategy table, the advisor's matrix and the device plan: pure logic."""

import pytest

from core import advisor, device, strategies, vgg16
from core.runconfig import RunConfig


def test_layer_names_follow_vgg16():
    assert vgg16.LAYER_NAMES[:3] == ("block1_conv1", "block1_conv2", "block1_pool")
    assert vgg16.LAYER_NAMES[-1] == "block5_pool"
    assert len([n for n in vgg16.LAYER_NAMES if "_conv" in n]) == 13


@pytest.mark.parametrize(
    "blocks, cut, trainable",
    [
        (0, "block5_pool", ()),
        (1, "block4_pool", ("block5_conv1", "block5_conv2", "block5_conv3")),
        (
            2,
            "block3_pool",
            (
                "block4_conv1",
                "block4_conv2",
                "block4_conv3",
                "block5_conv1",
                "block5_conv2",
                "block5_conv3",
            ),
        ),
        (5, None, tuple(n for n in vgg16.LAYER_NAMES if "_conv" in n)),
    ],
)
def test_frozen_cut_and_trainable_layers(blocks, cut, trainable):
    assert vgg16.frozen_cut_layer(blocks) == cut
    assert vgg16.trainable_layers(blocks) == trainable


def test_pool_sizes_and_minimum():
    assert vgg16.pool_output_size(150, 5) == 4  # the Keras blog's 4x4x512 bottleneck
    assert vgg16.pool_output_size(32, 5) == 1
    with pytest.raises(ValueError, match="minimum of 32"):
        vgg16.check_image_size(31)


def test_strategy_table_phases():
    finetune = strategies.get("finetune")
    assert [p.name for p in finetune.phases] == ["head", "finetune"]
    layers = finetune.trainable_layers(configured_blocks=1)
    assert layers["head"] == ()  # warm start: only the head trains first
    assert layers["finetune"] == ("block5_conv1", "block5_conv2", "block5_conv3")
    second = finetune.phases[1]
    assert (second.optimizer, second.learning_rate, second.momentum) == ("sgd", 1e-4, 0.9)
    assert strategies.get("full").trainable_layers(1)["finetune"] == vgg16.trainable_layers(5)
    assert not strategies.get("scratch").pretrained
    with pytest.raises(ValueError, match="unknown strategy"):
        strategies.get("magic")


def test_scratch_ignores_weights_setting(tmp_path):
    config = RunConfig(dataset=str(tmp_path), strategy="scratch", weights="imagenet")
    assert config.weights_for_run() == "none"


def test_run_config_problems_are_sentences(tmp_path):
    config = RunConfig(
        dataset=str(tmp_path / "missing"),
        image_size=16,
        epochs=0,
        weights=str(tmp_path / "nope.h5"),
        strategy="head",
    )
    text = " | ".join(config.problems())
    assert "at least 32 px" in text
    assert "epochs must be at least 1" in text
    assert "weights file not found" in text
    assert "dataset folder not found" in text
    assert RunConfig(dataset=str(tmp_path), weights="none").problems() == []


@pytest.mark.parametrize(
    "per_class, probe, expected",
    [
        (
            50,
            {"block3_pool": 0.6, "block4_pool": 0.7, "block5_pool": 0.9},
            ("linear", "block5_pool"),
        ),
        (
            50,
            {"block3_pool": 0.9, "block4_pool": 0.8, "block5_pool": 0.7},
            ("linear", "block3_pool"),
        ),
        (
            50,
            {"block3_pool": 0.7, "block4_pool": 0.9, "block5_pool": 0.9},
            ("linear", "block4_pool"),
        ),
        (2000, {"block3_pool": 0.6, "block4_pool": 0.7, "block5_pool": 0.9}, ("finetune", None)),
        (2000, {"block3_pool": 0.9, "block4_pool": 0.7, "block5_pool": 0.8}, ("full", None)),
    ],
)
def test_advice_follows_the_matrix(per_class, probe, expected):
    advice = advisor.advise(per_class, probe)
    assert (advice.strategy, advice.layer) == expected
    assert advice.strategy in strategies.STRATEGIES
    assert "images per class" in advice.evidence


def test_matrix_covers_every_cell_once():
    cells = {(c.size, c.similarity) for c in advisor.MATRIX}
    assert cells == {(s, m) for s in ("small", "large") for m in ("similar", "different")}
    assert len(advisor.MATRIX) == 4


def test_acceleration_plan_selection():
    assert device.plan_acceleration([]) == device.AccelerationPlan("CPU", False, False, False)
    modern = device.plan_acceleration([device.Gpu("NVIDIA A100", (8, 0))])
    assert modern.memory_growth and modern.mixed_precision and modern.jit_compile
    assert modern.device == "GPU: NVIDIA A100"
    old = device.plan_acceleration([device.Gpu("Tesla K80", (3, 7)), device.Gpu("K80", (3, 7))])
    assert old.memory_growth and not old.mixed_precision
    assert old.device == "GPU: Tesla K80 (+1 more)"
    unknown = device.plan_acceleration([device.Gpu("GPU", None)])
    assert not unknown.mixed_precision
