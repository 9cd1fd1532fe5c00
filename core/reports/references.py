"""Published reference results, as data, to draw next to a run's curves.

Only results whose setting we can state exactly are kept. They are shown for the dataset they
were measured on; when a run differs in image size or weights they are still returned, flagged
`comparable=False`, so a page can grey them out instead of implying a like-for-like comparison.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from core.model import vgg16
from core.model.weights import FILE, IMAGENET, WeightsSpec

CATS_VS_DOGS_SMALL = "cats_vs_dogs_small"  # the id core.data.samples gives the 2,000-image subset
KERAS_BLOG = (
    "Keras blog, 'Building powerful image classification models using very little data' (2016)"
)
KERAS_BLOG_URL = (
    "https://blog.keras.io/"
    "building-powerful-image-classification-models-using-very-little-data.html"
)
_BLOG_NOTE = (
    "Measured on 2,000 training / 800 validation images at 150 px with ImageNet "
    "weights; holds only for that setting."
)


@dataclass(frozen=True)
class Reference:
    dataset_id: str
    strategy: str  # a key of core.runs.strategies.STRATEGIES
    accuracy: float  # validation accuracy, 0..1
    label: str
    source: str
    url: str = ""
    image_size: int = vgg16.DEFAULT_IMAGE_SIZE
    weights: str = "imagenet"
    unfreeze_blocks: int | None = None  # fine-tuning: top VGG16 blocks retrained
    note: str = ""
    comparable: bool = True  # False: the run's image size or weights differ from the setting


REFERENCES: list[Reference] = [
    Reference(
        CATS_VS_DOGS_SMALL,
        "head",
        0.90,
        "Bottleneck features + small dense head (Keras blog): ~0.90",
        KERAS_BLOG,
        KERAS_BLOG_URL,
        note=_BLOG_NOTE,
    ),
    Reference(
        CATS_VS_DOGS_SMALL,
        "finetune",
        0.94,
        "Fine-tuning block5 with SGD 1e-4 (Keras blog): ~0.94",
        KERAS_BLOG,
        KERAS_BLOG_URL,
        unfreeze_blocks=1,
        note=_BLOG_NOTE,
    ),
]


def _same_weights(run: WeightsSpec, published: WeightsSpec) -> bool:
    """Equal specs, or ImageNet and a local copy of Keras' ImageNet no-top file."""
    if published.kind == IMAGENET and run.kind == FILE:
        return run.path is not None and run.path.name == vgg16.IMAGENET_NOTOP_FILE
    return run == published


def references_for(
    dataset_id: str | None, image_size: int, weights: WeightsSpec | str
) -> list[Reference]:
    """References for a dataset; each flagged comparable only when the run uses the same
    image size and weights as the published setting (`weights`: a run's weights setting)."""
    if not dataset_id:
        return []
    spec = weights if isinstance(weights, WeightsSpec) else WeightsSpec.parse(weights)
    return [
        dataclasses.replace(
            ref,
            comparable=image_size == ref.image_size
            and _same_weights(spec, WeightsSpec.parse(ref.weights)),
        )
        for ref in REFERENCES
        if ref.dataset_id == dataset_id
    ]
