"""Every widget default of the pages is RunConfig's default (or the strategy table's, for
per-strategy values): read from the rendered widgets, so a page that writes its own number
fails here."""

from __future__ import annotations

import dataclasses

import pytest
from apptesting import WITHOUT_WEIGHTS, no_exceptions, page
from synthetic import write_colour_dataset

from core.model import weights_file
from core.runs import strategies
from core.runs.config import RunConfig
from ui import pretrained, session_keys


@pytest.fixture
def colours(studio):
    """A dataset that is no built-in sample (samples bring their own image size)."""
    return write_colour_dataset(studio.parent / "colours", ("red", "blue"), per_class=6, size=32)


def train_page(dataset, **state):
    at = page(
        "3_train.py", **{session_keys.DATASET: str(dataset), **state}, **WITHOUT_WEIGHTS
    ).run()
    no_exceptions(at)
    return at


def test_train_widgets_start_at_runconfig_defaults(colours):
    at = train_page(colours, **{session_keys.STRATEGY: "finetune"})
    assert at.number_input(key="_w_epochs").value == RunConfig.default("epochs")
    assert at.number_input(key="_w_finetune_epochs").value == RunConfig.default("finetune_epochs")
    assert at.selectbox(key="_w_batch_size").value == RunConfig.default("batch_size")
    assert at.number_input(key="_w_image_size@train").value == RunConfig.default("image_size")
    assert at.number_input(key="_w_seed").value == RunConfig.default("seed")
    assert at.checkbox(key="_w_augment").value == RunConfig.default("augment")
    assert at.slider(key="_w_unfreeze_blocks").value == RunConfig.default("unfreeze_blocks")
    # weights: not RunConfig's "imagenet" but what works on this machine (nothing here)
    assert at.radio(key="_w_weights_kind").value == "None (random start)"
    for phase in strategies.get("finetune").phases:
        slider = at.select_slider(key=f"_w_lr_finetune_{phase.name}")
        assert slider.value == phase.learning_rate  # the strategy table's value


def test_train_strategy_and_layer_defaults(colours):
    at = train_page(colours)
    assert at.selectbox(key="_w_strategy").value == RunConfig.default("strategy")
    at = train_page(colours, **{session_keys.STRATEGY: "linear"})
    assert at.selectbox(key="_w_layer").value == RunConfig.default("layer")


def test_a_run_started_with_untouched_widgets_has_runconfig_defaults(colours, store):
    at = train_page(colours, **{session_keys.STRATEGY: "finetune"})
    at.button(key="train_start").click().run()
    no_exceptions(at)
    (run,) = store.list()
    expected = RunConfig(
        dataset=run.config.dataset, strategy="finetune", weights=pretrained.default_weights()
    ).to_dict()
    # edits are not a setting: the queue freezes the dataset's fixes into the run (none here)
    assert run.config.edits == []
    expected.pop("edits")
    assert {k: run.config.to_dict()[k] for k in expected} == expected


def test_train_weights_default_to_imagenet_once_its_file_is_on_the_machine(colours):
    cached = weights_file.keras_cache_location()
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")  # stat only: the page never reads it
    at = train_page(colours)
    assert at.radio(key="_w_weights_kind").value == "ImageNet"
    assert not at.warning  # no "no pretrained weights" notice


def test_strategy_page_widgets_start_at_runconfig_defaults(colours):
    at = page("2_strategy.py", **{session_keys.DATASET: str(colours)}).run()
    no_exceptions(at)
    assert at.number_input(key="_w_image_size@strategy").value == RunConfig.default("image_size")
    assert at.selectbox(key="_w_strategy").value == RunConfig.default("strategy")
    at.selectbox(key="_w_strategy").set_value("finetune").run()
    assert at.slider(key="_w_unfreeze_blocks").value == RunConfig.default("unfreeze_blocks")


def test_compare_epochs_start_at_runconfig_defaults(colours):
    at = page("5_compare.py", **{session_keys.DATASET: str(colours)}).run()
    no_exceptions(at)
    assert at.number_input(key="_w_compare_epochs").value == RunConfig.default("epochs")
    assert at.number_input(key="_w_compare_finetune_epochs").value == RunConfig.default(
        "finetune_epochs"
    )


def test_every_runconfig_default_is_readable():
    for field in dataclasses.fields(RunConfig):
        if field.name != "dataset":
            assert RunConfig.default(field.name) == getattr(RunConfig(dataset=""), field.name)
