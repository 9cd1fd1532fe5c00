"""core.runs.strategies: the strategy table (data)."""

import pytest

from core.model import vgg16
from core.runs import strategies


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
