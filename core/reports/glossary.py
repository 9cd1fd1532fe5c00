"""Plain explanations of the words of machine learning the studio uses, written for a teacher.

Data, in one place: the pages show them as tooltips (help=) where a word first appears, so no
page repeats or rewords them. Keys are lower-case; `explain` finds a term in any case.
"""

from __future__ import annotations

TERMS: dict[str, str] = {
    "pretrained weights": (
        "What VGG16 learned from 1.2 million ImageNet photos. Starting from them, a few "
        "hundred pictures are enough; starting from random numbers, they are not."
    ),
    "imagenet": (
        "A large collection of everyday photos (animals, objects, scenes) in 1,000 classes; "
        "VGG16 was trained on it."
    ),
    "image size": (
        "Every picture is resized to a square of this many pixels before VGG16 sees it. "
        "Larger keeps more detail but is slower (four times the pixels for twice the size)."
    ),
    "epoch": "One pass over all the training pictures. More epochs: more practice, more time.",
    "batch size": (
        "How many pictures the model looks at before it adjusts itself. Smaller uses less "
        "memory; larger is often faster."
    ),
    "learning rate": (
        "How big each adjustment is. Too large and learning jumps around; too small and it "
        "barely moves."
    ),
    "optimizer": (
        "The rule that turns each batch's mistakes into adjustments: SGD with momentum takes "
        "steady steps, Adam and RMSprop adapt the step size of every weight on their own."
    ),
    "early stopping": (
        "A phase ends by itself when the validation loss has not improved for this many "
        "epochs, and keeps its best epoch: more epochs would only memorise the pictures."
    ),
    "learning-rate finder": (
        "A short test run that raises the learning rate step by step and watches the loss: "
        "where it falls fastest is a good rate to start from."
    ),
    "augmentation": (
        "Showing slightly changed copies of the training pictures (flipped, turned, zoomed) so "
        "the model learns the subject, not the exact picture. Helps small datasets; slower."
    ),
    "seed": (
        "A number that fixes every random choice (which pictures validate, the starting "
        "point): the same seed repeats a run exactly."
    ),
    "fine-tune": (
        "Let some of VGG16's own layers keep learning on your pictures, gently, after a new "
        "classifier has been trained on top of them."
    ),
    "bottleneck": (
        "VGG16's output just before its own classifier: a summary of each picture. The "
        "studio computes it once and trains a small classifier on it."
    ),
    "block": (
        "VGG16 has five blocks of layers. Early blocks see edges and colours, later blocks "
        "see shapes and object parts (block5 the most ImageNet-specific)."
    ),
    "layer": (
        "Where the classifier reads VGG16: block3_pool (generic textures), block4_pool (parts) "
        "or block5_pool (ImageNet-like shapes), the output of block 3, 4 or 5."
    ),
    "logistic regression": (
        "A simple classifier that weighs the features linearly. It is fitted in one go, in "
        "seconds, and is hard to overfit."
    ),
    "strategy": (
        "How much of VGG16 to reuse as it is and how much to retrain on your pictures. The "
        "Strategy page measures which one suits them."
    ),
    "linear probe": (
        "A quick test: a simple classifier (logistic regression) on VGG16's features shows how "
        "well those features already tell your classes apart."
    ),
    "validation accuracy": (
        "The share of the validation pictures (never trained on) the model gets right. They "
        "decide when training stops and which epoch is kept, so this figure is a little "
        "optimistic: the test accuracy is the honest one."
    ),
    "test accuracy": (
        "The share of the test pictures the model gets right. They are kept aside until "
        "training ends (never trained on, never used to stop or pick an epoch): the honest "
        "estimate. Its 95% interval is wide when there are few."
    ),
    "test loss": (
        "How wrong the model is on the test pictures, counting how confident it was "
        "(lower is better)."
    ),
    "validation loss": (
        "How wrong the model is on the validation pictures, counting how confident it was "
        "(lower is better). Called val_loss in the charts."
    ),
    "from scratch": (
        "VGG16 trained from random numbers, without pretrained weights: the baseline that "
        "shows how much the pretrained weights help."
    ),
}


LAYER_WORDS = {  # VGG16's pooled layers, in plain words (the layer's name goes in a tooltip)
    "block3_pool": "middle features (textures)",
    "block4_pool": "upper features (parts of things)",
    "block5_pool": "top features (whole shapes)",
}


def layer_words(layer: str) -> str:
    """A pooled VGG16 layer in plain words ('top features (whole shapes)'); other names as
    they are."""
    return LAYER_WORDS.get(layer, layer)


def explain(term: str) -> str:
    """The plain explanation of `term` (KeyError for an unknown term: a typo in a page)."""
    return TERMS[term.lower()]
