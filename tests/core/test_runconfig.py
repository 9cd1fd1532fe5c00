"""core.runs.config: the settings of one run, their problems, and RunConfig.default (the one
source of run defaults)."""

import pytest

from core.model.weights import NO_WEIGHTS
from core.runs.config import BOUNDS, RunConfig


def test_scratch_ignores_weights_setting(tmp_path):
    config = RunConfig(dataset=str(tmp_path), strategy="scratch", weights="imagenet")
    assert config.weights_for_run() == NO_WEIGHTS


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


def test_default_reads_the_field_defaults():
    assert RunConfig.default("epochs") == RunConfig(dataset="x").epochs
    assert RunConfig.default("finetune_epochs") == 5
    assert RunConfig.default("learning_rates") == {}


def test_the_default_split_is_70_15_15_and_no_test_side_is_allowed(tmp_path):
    assert (RunConfig.default("val_fraction"), RunConfig.default("test_fraction")) == (0.15, 0.15)
    assert RunConfig(dataset=str(tmp_path), weights="none", test_fraction=0.0).problems() == []


def test_default_returns_a_fresh_mutable_default():
    RunConfig.default("learning_rates")["head"] = 1.0
    assert RunConfig.default("learning_rates") == {}


@pytest.mark.parametrize("name", ["dataset", "no_such_setting"])
def test_default_refuses_settings_without_a_default(name):
    with pytest.raises(KeyError):
        RunConfig.default(name)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"image_size": 100_000}, "image size must be at most 512 px, got 100000 px"),
        ({"batch_size": 10**9}, "batch size must be at most 1024"),
        ({"epochs": 10**7}, "epochs must be at most 1000"),
        ({"batch_size": "64"}, "batch size must be a whole number, got '64'"),
        ({"image_size": 150.5}, "image size must be a whole number"),
        ({"learning_rates": {"head": float("nan")}}, "learning rates must be positive numbers"),
        ({"test_fraction": -0.1}, "test fraction must be at least 0 and below 1"),
        ({"test_fraction": "0.2"}, "test fraction must be at least 0 and below 1"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "must add up to less than 1"),
        ({"seed": 2**32}, "seed must be at most 4294967295"),
        ({"early_stopping_patience": 0}, "early-stopping patience must be at least 1 epochs"),
        ({"probe_max_per_class": 1}, "a measurement needs at least 2 pictures per class"),
    ],
)
def test_run_config_refuses_values_beyond_its_bounds(tmp_path, settings, message):
    config = RunConfig(dataset=str(tmp_path), weights="none", **settings)
    assert message in " | ".join(config.problems())


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_each_bounded_setting_is_accepted_at_its_bounds_and_refused_one_beyond(tmp_path, name):
    bounds = RunConfig.bounds(name)
    assert bounds.low <= RunConfig.default(name) <= (bounds.high or RunConfig.default(name))

    def problems(value: int) -> list[str]:
        config = RunConfig(dataset=str(tmp_path), weights="none", **{name: value})
        return [p for p in config.problems() if bounds.shown in p or "measurement" in p]

    assert problems(bounds.low) == [] and len(problems(bounds.low - 1)) == 1
    if bounds.high is not None:
        assert problems(bounds.high) == [] and len(problems(bounds.high + 1)) == 1


def test_bounds_refuses_a_setting_without_bounds():
    with pytest.raises(KeyError):
        RunConfig.bounds("learning_rates")
