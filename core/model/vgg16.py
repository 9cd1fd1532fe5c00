"""Facts about VGG16, in one place.

Everything else asks this module which layers exist, which block they belong to, how big an
input may be and what the pretrained file is called: nothing else spells a VGG16 layer name.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_IMAGE_SIZE = 32  # five 2x2 poolings: below 32 px block5_pool would be empty
DEFAULT_IMAGE_SIZE = 150  # the Keras blog's cats-vs-dogs recipe
IMAGENET_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + IMAGENET_NOTOP_FILE
)
# The md5 Keras checks after downloading the official notop file (keras.applications.vgg16).
IMAGENET_NOTOP_MD5 = "6d6bbae143d832006294945121d1f1fc"
# caffe-style preprocessing (what keras.applications.vgg16.preprocess_input does): RGB -> BGR,
# then subtract the ImageNet channel means. core.model.models builds the model's preprocessing from
# these (built-in layers only, so the saved model loads anywhere); a test holds it equal to
# preprocess_input.
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


@dataclass(frozen=True)
class Block:
    number: int
    convs: int
    filters: int

    @property
    def name(self) -> str:
        return f"block{self.number}"

    @property
    def conv_layers(self) -> tuple[str, ...]:
        return tuple(f"{self.name}_conv{i}" for i in range(1, self.convs + 1))

    @property
    def pool_layer(self) -> str:
        return f"{self.name}_pool"

    @property
    def layers(self) -> tuple[str, ...]:
        return (*self.conv_layers, self.pool_layer)


BLOCKS: tuple[Block, ...] = (
    Block(1, 2, 64),
    Block(2, 2, 128),
    Block(3, 3, 256),
    Block(4, 3, 512),
    Block(5, 3, 512),
)
LAYER_NAMES: tuple[str, ...] = tuple(name for b in BLOCKS for name in b.layers)
# Layers whose pooled outputs the linear probe and the `linear` strategy may use.
FEATURE_LAYERS: tuple[str, ...] = ("block3_pool", "block4_pool", "block5_pool")
BOTTLENECK_LAYER = "block5_pool"
GRADCAM_LAYER = "block5_conv3"


def conv_weight_shapes() -> tuple[tuple[int, ...], ...]:
    """Shapes of every conv kernel (3x3xinxout) and bias of the notop network, in order."""
    shapes, channels = [], 3
    for block in BLOCKS:
        for _ in block.conv_layers:
            shapes += [(3, 3, channels, block.filters), (block.filters,)]
            channels = block.filters
    return tuple(shapes)


def block_of(layer_name: str) -> int:
    """Block number (1..5) a VGG16 layer belongs to."""
    for block in BLOCKS:
        if layer_name in block.layers:
            return block.number
    raise ValueError(f"{layer_name!r} is not a VGG16 layer")


def pool_output_size(image_size: int, block: int) -> int:
    """Spatial size of blockN_pool's output for a square input (floor division per pooling)."""
    size = image_size
    for _ in range(block):
        size //= 2
    return size


def frozen_cut_layer(unfreeze_blocks: int) -> str | None:
    """The last layer that stays frozen when the top `unfreeze_blocks` blocks train.

    Its output can be computed once and cached: that is what makes fine-tuning fast here.
    0 blocks means only the head trains, on block5_pool. None means nothing is frozen (all
    five blocks train from the image up).
    """
    if not 0 <= unfreeze_blocks <= len(BLOCKS):
        raise ValueError(f"unfreeze_blocks must be 0..{len(BLOCKS)}, got {unfreeze_blocks}")
    frozen = len(BLOCKS) - unfreeze_blocks
    return BLOCKS[frozen - 1].pool_layer if frozen else None


def trainable_layers(unfreeze_blocks: int) -> tuple[str, ...]:
    """VGG16 conv layers that train when the top `unfreeze_blocks` blocks are unfrozen."""
    if unfreeze_blocks == 0:
        return ()
    top = BLOCKS[len(BLOCKS) - unfreeze_blocks :]
    return tuple(name for b in top for name in b.conv_layers)


def check_image_size(image_size: int) -> None:
    if image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"image size {image_size} is below VGG16's minimum of {MIN_IMAGE_SIZE} px")


def activations_per_image(image_size: int) -> int:
    """Numbers in every conv and pool output for one square image: what training keeps in
    memory per image (with their gradients), so what limits the batch size on a GPU."""
    total, size = 0, image_size
    for block in BLOCKS:
        total += block.convs * size * size * block.filters
        size //= 2
        total += size * size * block.filters
    return total


def multiply_adds_per_block(image_size: int = 224) -> tuple[int, ...]:
    """Multiply-adds of each block's convolutions for one square image (3x3 kernels, 'same'
    padding): what a forward pass through that block costs."""
    costs, size, channels = [], image_size, 3
    for block in BLOCKS:
        total = 0
        for _ in block.conv_layers:
            total += size * size * 9 * channels * block.filters
            channels = block.filters
        costs.append(total)
        size //= 2
    return tuple(costs)


def compute_share(top_blocks: int, image_size: int = 224) -> float:
    """The share of VGG16's convolution work done in its top `top_blocks` blocks (0 to 1):
    blocks 1-4 hold about 91% of it, block 5 about 9%, so retraining only the top block on
    cached features is cheap and unfreezing everything is not."""
    costs = multiply_adds_per_block(image_size)
    return sum(costs[len(costs) - top_blocks :]) / sum(costs) if top_blocks else 0.0
