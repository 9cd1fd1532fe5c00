"""The flags several commands take, each declared once.

RUN_FLAGS maps a RunConfig setting to its flag: a command adds the ones it takes with
add_run_flags(parser, "image_size", "seed", ...). The default is RunConfig.default(setting),
read when the parser is built, and the parsed value lands in args.<setting>; the bounds are
RunConfig's too (RunConfig.problems() checks them, in the same words as the pages).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.cli.common import CliError
from core.model import vgg16
from core.model.device import PRECISIONS
from core.runs import strategies
from core.runs.config import RunConfig


@dataclass(frozen=True)
class RunFlag:
    """The command-line face of one RunConfig setting."""

    flag: str
    help: str
    type: Callable[[str], Any] = str  # bool: a switch (store_true)
    metavar: str | None = None
    choices: Sequence[str] | None = None
    from_config: bool = True  # False: the default is None (the command fills it in itself)

    def options(self, setting: str) -> dict[str, Any]:
        """add_argument's keywords, with RunConfig's current default."""
        default = RunConfig.default(setting) if self.from_config else None
        if self.type is bool:
            return {"action": "store_true", "default": default, "help": self.help}
        return {
            "type": None if self.type is str else self.type,
            "default": default,
            "metavar": self.metavar,
            "choices": self.choices,
            "help": self.help,
        }


DEFAULT = "(default: %(default)s)"
RUN_FLAGS: dict[str, RunFlag] = {
    "val_dir": RunFlag("--val-dir", "a separate validation folder", metavar="DIR"),
    "strategy": RunFlag(
        "--strategy", f"what trains {DEFAULT}", choices=list(strategies.STRATEGIES)
    ),
    "layer": RunFlag(
        "--layer",
        f"linear only: the features it reads {DEFAULT}",
        choices=vgg16.FEATURE_LAYERS,
    ),
    "unfreeze_blocks": RunFlag(
        "--unfreeze-blocks",
        f"finetune only: top VGG16 blocks retrained in phase 2 {DEFAULT}",
        int,
        "N",
    ),
    "image_size": RunFlag("--image-size", f"images are resized to PX x PX {DEFAULT}", int, "PX"),
    "epochs": RunFlag("--epochs", f"head phase, or the only phase {DEFAULT}", int, "N"),
    "finetune_epochs": RunFlag(
        "--finetune-epochs", f"finetune/full: the second phase {DEFAULT}", int, "N"
    ),
    "batch_size": RunFlag("--batch-size", DEFAULT, int, "N"),
    "augment": RunFlag("--augment", "augment the training images", bool),
    "augment_kind": RunFlag(
        "--augment-kind",
        "flips/rotations, or time/frequency masks (default: %(default)s; audio: spectrogram)",
        choices=("image", "spectrogram"),
    ),
    # None: $VGG16_WEIGHTS decides before RunConfig's "imagenet" (common.weights_setting)
    "weights": RunFlag(
        "--weights",
        "imagenet | none | PATH (default: $VGG16_WEIGHTS, else imagenet)",
        metavar="SPEC",
        from_config=False,
    ),
    "seed": RunFlag("--seed", DEFAULT, int),
    "val_fraction": RunFlag(
        "--val-fraction", f"validation share of a single folder {DEFAULT}", float, "F"
    ),
    "test_fraction": RunFlag(
        "--test-fraction",
        "test share, scored once after training (default: %(default)s; 0: none; "
        "a test/ folder is used as it is)",
        float,
        "F",
    ),
    "precision": RunFlag(
        "--precision",
        f"auto: bfloat16 where the CPU/GPU runs it natively, else float32 {DEFAULT}",
        choices=PRECISIONS,
    ),
    "early_stopping_patience": RunFlag(
        "--patience",
        f"early stopping: epochs without a better validation loss {DEFAULT}",
        int,
        "N",
    ),
    "probe_max_per_class": RunFlag(
        "--max-per-class",
        f"measure on at most N pictures per class, a stratified sample {DEFAULT}",
        int,
        "N",
    ),
}


def add_run_flag(parser: argparse.ArgumentParser, setting: str, **override: Any) -> None:
    """One RUN_FLAGS flag; override: a keyword this command needs otherwise (say why there)."""
    flag = RUN_FLAGS[setting]
    parser.add_argument(flag.flag, dest=setting, **(flag.options(setting) | override))


def add_run_flags(parser: argparse.ArgumentParser, *settings: str) -> None:
    for setting in settings:
        add_run_flag(parser, setting)


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """DIR (RunConfig.dataset, read as args.dir) and --val-dir."""
    parser.add_argument("dir", metavar="DIR", help="dataset folder (images or audio clips)")
    add_run_flag(parser, "val_dir")


def add_phase_flags(parser: argparse.ArgumentParser, rates: bool = True) -> None:
    """Per-phase overrides of the strategy table (repeat the flag for several phases): the
    optimizer, and (rates) the learning rate. Read them back with per_phase."""
    names = ", ".join(strategies.OPTIMIZERS)
    parser.add_argument(
        "--optimizer",
        action="append",
        metavar="[PHASE=]NAME",
        help=f"a phase's optimizer: {names} (SGD with momentum {strategies.SGD_MOMENTUM}); "
        "PHASE defaults to the first (default: the strategy table's)",
    )
    if rates:
        parser.add_argument(
            "--lr",
            action="append",
            metavar="[PHASE=]RATE",
            help="a phase's learning rate, e.g. --lr 3e-4 or --lr finetune=1e-5; PHASE defaults "
            "to the first (default: the strategy table's)",
        )


def per_phase(
    values: list[str] | None, strategy: str, flag: str, convert: Callable[[str], Any]
) -> dict[str, Any]:
    """`--flag [PHASE=]VALUE` items as {phase: value}; a phase the strategy does not train
    with Keras is bad input."""
    phases = [p.name for p in strategies.get(strategy).keras_phases]
    out = {}
    for item in values or ():
        phase, given, value = item.rpartition("=")
        phase = phase if given else (phases[0] if phases else "")
        if phase not in phases:
            trained = ", ".join(phases) or "none: it fits in closed form"
            raise CliError(
                f"{flag}: strategy {strategy} has no phase {phase!r} (its phases: {trained})"
            )
        try:
            out[phase] = convert(value)
        except ValueError:
            raise CliError(f"{flag}: {value!r} is not a number") from None
    return out


def add_engine_arguments(command: argparse.ArgumentParser) -> None:
    """--engine, --ray-address, --ray-shared-data: where a command's runs execute (read them
    back with engine_from_args)."""
    from core.jobs import engines

    command.add_argument(
        "--engine",
        choices=engines.ENGINES,
        default=None,
        help=f"where runs execute: the local worker, or a Ray cluster (default: ray when "
        f"${engines.RAY_ADDRESS_ENV} is set, else local)",
    )
    command.add_argument(
        "--ray-address",
        metavar="ADDR",
        default=None,
        help="ray only: auto (a cluster started on this machine with `ray start --head`), "
        "local (a private one, for this session), or HOST:PORT / ray://HOST:10001 "
        f"(default: ${engines.RAY_ADDRESS_ENV}, else auto)",
    )
    command.add_argument(
        "--ray-shared-data",
        action="store_true",
        help="ray only: the dataset folder has the same path on every node (no copy is sent)",
    )


def engine_from_args(args: argparse.Namespace) -> Any:
    """The Engine the --engine options choose ($STUDIO_RAY_ADDRESS fills in what is not given);
    a contradiction is bad input."""
    from core.jobs import engines

    env = engines.Engine.from_environment()
    address = args.ray_address or (env.address if args.engine != engines.LOCAL else None)
    kind = args.engine or (engines.RAY if address else engines.LOCAL)
    try:
        return engines.Engine.choose(kind, address, args.ray_shared_data or env.shared_data)
    except ValueError as exc:
        raise CliError(str(exc)) from None
