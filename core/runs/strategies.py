"""The training strategies, as one table of data.

Training, the advisor and the pages all read this table: which layers train in which phase, with
which optimizer and learning rate, and what sits on top of the convolutional base. Adding a
strategy means adding a row, not another branch somewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.model import vgg16

CONFIGURED = -1  # a phase's unfreeze_blocks taken from the run's settings (--unfreeze-blocks)
# The optimizers a Keras phase may use instead of its table's one (the Train page's choices and
# the CLI's --optimizer), with the words shown for them.
OPTIMIZERS: dict[str, str] = {"sgd": "SGD with momentum", "adam": "Adam", "rmsprop": "RMSprop"}
SGD_MOMENTUM = 0.9  # the Keras blog's fine-tuning momentum; SGD chosen for any phase uses it


@dataclass(frozen=True)
class OptimizerSetting:
    """What a phase compiles with once a run's overrides are applied."""

    name: str  # a key of OPTIMIZERS
    learning_rate: float
    momentum: float


@dataclass(frozen=True)
class Phase:
    name: str
    unfreeze_blocks: int  # VGG16 blocks that train with the head: 0 = head only, 5 = all
    optimizer: str  # "rmsprop" | "sgd" | "adam" | "logistic" (scikit-learn, closed form)
    learning_rate: float
    momentum: float = 0.0
    epochs_setting: str = "epochs"  # which run setting gives this phase's epoch count
    closed_form: bool = False  # fitted in one go (scikit-learn): no learning rate, no epochs

    def blocks(self, configured: int) -> int:
        return configured if self.unfreeze_blocks == CONFIGURED else self.unfreeze_blocks

    def optimizer_setting(
        self, optimizers: Mapping[str, str], learning_rates: Mapping[str, float]
    ) -> OptimizerSetting:
        """This phase's optimizer and learning rate: the table's, unless the run overrides
        them (by phase name). SGD keeps the table's momentum, or SGD_MOMENTUM when the table
        used another optimizer for this phase."""
        name = optimizers.get(self.name, self.optimizer)
        momentum = self.momentum if name == self.optimizer else 0.0
        if name == "sgd" and self.optimizer != "sgd":
            momentum = SGD_MOMENTUM
        return OptimizerSetting(name, learning_rates.get(self.name, self.learning_rate), momentum)


@dataclass(frozen=True)
class Strategy:
    key: str
    title: str
    plain: str  # one sentence for someone who has never trained a network
    pretrained: bool  # False: VGG16 starts from random weights whatever the weights setting
    head: str  # "logistic": GAP + logistic regression; "dense": Flatten/Dense(256)/Dropout(0.5)
    phases: tuple[Phase, ...]
    uses_layer: bool = False  # the feature layer (block3/4/5_pool) is a setting

    @property
    def closed_form(self) -> bool:
        """Every phase is fitted in closed form: no Keras training loop at all."""
        return all(p.closed_form for p in self.phases)

    @property
    def keras_phases(self) -> tuple[Phase, ...]:
        """The phases trained by Keras: the ones with an optimizer and a learning rate."""
        return tuple(p for p in self.phases if not p.closed_form)

    def trainable_layers(self, configured_blocks: int) -> dict[str, tuple[str, ...]]:
        """VGG16 conv layers that train, per phase (the head always trains)."""
        return {p.name: vgg16.trainable_layers(p.blocks(configured_blocks)) for p in self.phases}


HEAD_PHASE = Phase("head", 0, "rmsprop", 1e-3)  # the Keras blog's bottleneck head: rmsprop
FINETUNE_LR = 1e-4  # the Keras blog's fine-tuning: SGD, lr 1e-4, momentum 0.9

STRATEGIES: dict[str, Strategy] = {
    s.key: s
    for s in (
        Strategy(
            "linear",
            "Linear probe",
            "Reads pretrained VGG16 features from one layer and fits a simple linear classifier "
            "on them: seconds to train, best for small datasets.",
            pretrained=True,
            head="logistic",
            uses_layer=True,
            phases=(Phase("fit", 0, "logistic", 0.0, closed_form=True),),
        ),
        Strategy(
            "head",
            "Feature extractor + small head",
            "Keeps all of VGG16 frozen and trains a small dense network on its last features "
            "(the classic 'bottleneck features' recipe).",
            pretrained=True,
            head="dense",
            phases=(HEAD_PHASE,),
        ),
        Strategy(
            "finetune",
            "Fine-tune the top blocks",
            "First trains the small head on frozen features, then gently retrains VGG16's top "
            "block(s) together with it so the features adapt to your images.",
            pretrained=True,
            head="dense",
            phases=(
                HEAD_PHASE,
                Phase("finetune", CONFIGURED, "sgd", FINETUNE_LR, SGD_MOMENTUM, "finetune_epochs"),
            ),
        ),
        Strategy(
            "full",
            "Fine-tune everything",
            "Warms up the head, then retrains every VGG16 layer at a low learning rate: for "
            "large datasets that look unlike everyday photos.",
            pretrained=True,
            head="dense",
            phases=(
                HEAD_PHASE,
                Phase("finetune", 5, "sgd", FINETUNE_LR, SGD_MOMENTUM, "finetune_epochs"),
            ),
        ),
        Strategy(
            "scratch",
            "From scratch (baseline)",
            "The same network trained from random weights: the baseline that shows what "
            "pretraining buys you.",
            pretrained=False,
            head="dense",
            phases=(Phase("train", 5, "adam", 1e-4),),
        ),
    )
}
DEFAULT_STRATEGY = "head"


def get(key: str) -> Strategy:
    try:
        return STRATEGIES[key]
    except KeyError:
        raise ValueError(
            f"unknown strategy {key!r}; choose one of {', '.join(STRATEGIES)}"
        ) from None
