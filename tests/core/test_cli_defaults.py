"""The CLI's flags take their defaults from RunConfig (and the worker's constant), never their own.

The parser is asked what it would fill in (parse_args with only the required arguments), so a
flag whose default is typed in again, and then drifts, fails here.
"""

from __future__ import annotations

import dataclasses

import pytest

from core import cli
from core.cli import flags
from core.jobs import worker
from core.runs.config import RunConfig

RUN_DEFAULTS = {
    f.name: f.default for f in dataclasses.fields(RunConfig) if f.default is not dataclasses.MISSING
}
# --weights falls back to $VGG16_WEIGHTS before RunConfig's "imagenet": None means "not given".
NOT_FROM_RUNCONFIG = {"weights"}


def parsed_defaults(*argv: str) -> dict:
    return vars(cli._parser().parse_args(list(argv)))


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            ("train", "DIR"),
            {
                "val_dir",
                "strategy",
                "layer",
                "unfreeze_blocks",
                "image_size",
                "epochs",
                "finetune_epochs",
                "batch_size",
                "augment",
                "augment_kind",
                "seed",
                "val_fraction",
                "test_fraction",
                "precision",
                "early_stopping_patience",
            },
        ),
        (
            ("compare", "DIR"),
            {
                "val_dir",
                "layer",
                "unfreeze_blocks",
                "image_size",
                "epochs",
                "finetune_epochs",
                "batch_size",
                "augment",
                "augment_kind",
                "seed",
                "val_fraction",
                "test_fraction",
                "precision",
                "early_stopping_patience",
            },
        ),
        (
            ("lr-find", "DIR"),
            {"val_dir", "strategy", "image_size", "batch_size", "seed", "precision"},
        ),
        (("advise", "DIR"), {"val_dir", "image_size", "seed", "probe_max_per_class"}),
        (("bench",), {"image_size", "batch_size", "precision"}),
    ],
)
def test_flag_defaults_are_runconfig_defaults(argv, expected):
    defaults = parsed_defaults(*argv)
    shared = (set(defaults) & set(RUN_DEFAULTS)) - NOT_FROM_RUNCONFIG
    assert shared == expected  # every run setting the command has is compared below
    assert {name: defaults[name] for name in shared} == {
        name: RUN_DEFAULTS[name] for name in shared
    }


def test_weights_flag_leaves_the_choice_to_the_environment():
    assert parsed_defaults("train", "DIR")["weights"] is None


def test_worker_idle_seconds_is_the_worker_constant():
    assert parsed_defaults("worker")["idle_seconds"] == worker.IDLE_SECONDS


def test_runconfig_default_refuses_a_required_setting():
    assert RunConfig.default("epochs") == RUN_DEFAULTS["epochs"]
    with pytest.raises(KeyError):
        RunConfig.default("dataset")  # required: no default to share


def test_flags_follow_a_changed_runconfig(monkeypatch):
    """The parser reads RunConfig when it is built: change a default there, the flag follows."""

    @dataclasses.dataclass
    class Changed(RunConfig):
        epochs: int = 7

    monkeypatch.setattr(flags, "RunConfig", Changed)
    assert parsed_defaults("train", "DIR")["epochs"] == 7
