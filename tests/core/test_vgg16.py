"""core.model.vgg16: facts about VGG16 (layer names, blocks, sizes)."""

import pytest

from core.model import vgg16


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
