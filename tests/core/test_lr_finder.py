"""The learning-rate finder: the sweep, the smoothing, the divergence stop and the suggestion
rule on synthetic curves; optimizer overrides; the range test run by the worker."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from synthetic import write_colour_dataset

from core.jobs import runs, worker
from core.runs import live, strategies
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.results import LrFindResult, result_from_json
from core.runs.store import Store
from core.train import lr_finder


def test_the_sweep_is_exponential_and_rising_from_start_to_end():
    rates = lr_finder.sweep_rates(1e-7, 1.0, 100)
    assert len(rates) == 100
    assert rates[0] == pytest.approx(1e-7) and rates[-1] == pytest.approx(1.0)
    assert np.all(np.diff(rates) > 0)
    ratios = rates[1:] / rates[:-1]
    assert np.allclose(ratios, ratios[0])  # one constant factor: evenly spaced on a log axis
    assert ratios[0] == pytest.approx(10 ** (7 / 99))
    with pytest.raises(ValueError):
        lr_finder.sweep_rates(1.0, 1e-7, 100)


def test_smoothing_is_bias_corrected_and_averages():
    assert lr_finder.smooth([2.0, 2.0, 2.0]).tolist() == pytest.approx([2.0, 2.0, 2.0])
    smoothed = lr_finder.smooth([1.0, 3.0] * 200)
    assert smoothed[0] == pytest.approx(1.0)  # not pulled towards 0 by the empty average
    assert np.ptp(smoothed[-50:]) < 0.1  # the zigzag is averaged away...
    assert smoothed[-1] == pytest.approx(2.0, abs=0.05)  # ...to its mean
    # one moving average for the whole studio: the live loss curve smooths the same way
    assert smoothed.tolist() == pytest.approx(live.smoothed([1.0, 3.0] * 200, lr_finder.SMOOTHING))


def _valley(rates: np.ndarray) -> np.ndarray:
    """A range-test-like loss: flat at 2, falling fastest around 1e-3 (a sigmoid in
    log10(rate)), flat near 0.2, then blowing up above 1e-1."""
    x = np.log10(rates)
    fall = 2.0 - 1.8 / (1 + np.exp(-3 * (x + 3)))
    return fall + np.where(x > -1, 50 * (x + 1) ** 2, 0.0)


def _noisy_valley(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The valley with batch noise as measured on 849 emoji at batch 32 (sd 0.35), smoothed."""
    rates = lr_finder.sweep_rates(1e-7, 1.0, lr_finder.STEPS)
    noise = np.random.default_rng(seed).normal(0, 0.35, lr_finder.STEPS)
    return rates, lr_finder.smooth(_valley(rates) + noise)


@pytest.mark.parametrize("seed", range(5))
def test_the_suggestion_lies_in_the_valley_before_the_minimum(seed):
    rates, smoothed = _noisy_valley(seed)
    found = lr_finder.suggest(rates, smoothed)
    assert found.note is None
    # where the loss falls (around 1e-3), never the sweep's first rates nor past the minimum
    assert 5e-4 < found.rate < 5e-3, found
    assert found.rate < rates[int(np.argmin(smoothed))]


def test_the_valley_rule_steps_back_half_the_falling_chain():
    rates = lr_finder.sweep_rates(1e-6, 1.0, 60)
    flat, falling, rising = [5.0] * 20, list(np.linspace(4.0, 1.0, 30)), [2.0] * 10
    found = lr_finder.suggest(rates, flat + falling + rising)
    assert found.rate == pytest.approx(rates[49 - 31 // 2])  # the chain: 5.0 then 30 falling


def test_no_suggestion_when_the_loss_never_falls_or_the_sweep_is_short():
    rates = lr_finder.sweep_rates(1e-7, 1.0, 50)
    found = lr_finder.suggest(rates, np.linspace(1.0, 5.0, 50))
    assert found.rate is None and "never fell" in found.note
    found = lr_finder.suggest(rates[:12], np.linspace(1.0, 0.5, 12))
    assert found.rate is None and "ended after 12 steps" in found.note


def test_divergence_is_past_four_times_the_best_smoothed_loss():
    averager = lr_finder.SmoothedLoss()
    for _ in range(200):
        averager.add(1.0)
    assert not averager.diverged
    steps = 0
    while not averager.diverged:
        averager.add(10.0)
        steps += 1
    assert averager.latest > 4 * averager.best
    assert steps > 1  # smoothed: one bad batch is not divergence...
    averager.add(float("nan"))
    assert averager.diverged  # ...but a NaN is


def test_an_unknown_optimizer_is_a_clear_problem(tmp_path):
    config = RunConfig(dataset=str(tmp_path), weights="none", optimizers={"head": "adamw"})
    assert (
        "the optimizer of phase 'head' must be one of sgd, adam, rmsprop, not 'adamw'"
        in config.problems()
    )
    ok = RunConfig(dataset=str(tmp_path), weights="none", optimizers={"head": "adam"})
    assert ok.problems() == []


def test_lr_find_needs_a_keras_phase_and_a_known_task(tmp_path):
    linear = RunConfig(dataset=str(tmp_path), weights="none", strategy="linear", task="lr_find")
    assert any("no learning rate to find" in p for p in linear.problems())
    odd = RunConfig(dataset=str(tmp_path), weights="none", task="dance")
    assert any("task must be one of" in p for p in odd.problems())


def test_the_table_gives_defaults_and_overrides_replace_them():
    head, finetune = strategies.get("finetune").phases
    config = RunConfig(dataset=".")
    assert config.optimizer_for(head) == strategies.OptimizerSetting("rmsprop", 1e-3, 0.0)
    assert config.optimizer_for(finetune) == strategies.OptimizerSetting(
        "sgd", strategies.FINETUNE_LR, strategies.SGD_MOMENTUM
    )
    config = RunConfig(
        dataset=".", optimizers={"head": "sgd", "finetune": "adam"}, learning_rates={"head": 0.05}
    )
    assert config.optimizer_for(head) == strategies.OptimizerSetting("sgd", 0.05, 0.9)
    assert config.optimizer_for(finetune).name == "adam"
    assert config.optimizer_for(finetune).momentum == 0.0


@pytest.mark.parametrize("name, cls", [("adam", "Adam"), ("sgd", "SGD"), ("rmsprop", "RMSprop")])
def test_the_optimizer_override_reaches_the_compiled_model(name, cls):
    import keras

    from core.train import phases

    phase = strategies.get("head").phases[0]
    config = RunConfig(dataset=".", optimizers={"head": name}, learning_rates={"head": 0.02})
    ctx = SimpleNamespace(config=config, num_classes=3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    phases.compile_phase(ctx, model, phase)
    assert type(model.optimizer).__name__ == cls
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(0.02)
    if name == "sgd":
        assert model.optimizer.momentum == pytest.approx(strategies.SGD_MOMENTUM)


def test_the_result_survives_the_store_round_trip():
    result = LrFindResult(
        strategy="head",
        phase="head",
        optimizer="adam",
        current_rate=1e-3,
        learning_rates=(1e-7, 1e-6),
        losses=(1.0, 0.9),
        smoothed=(1.0, 0.95),
        suggestion=3e-4,
        rule=lr_finder.RULE,
        trained_on="cached features of block5_pool",
    )
    assert result_from_json(result.to_json()) == result


@pytest.mark.slow
def test_the_range_test_runs_in_the_worker_and_stores_its_result(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "start_worker", lambda *args, **kwargs: None)  # served below
    dataset = write_colour_dataset(tmp_path / "data", ("red", "blue"), per_class=10, size=32)
    store = Store(tmp_path / "home")
    config = RunConfig(
        dataset=str(dataset),
        strategy="finetune",
        image_size=32,
        weights="none",
        batch_size=8,
        optimizers={"head": "adam"},
    )
    run = runs.start_lr_find(store, config, owner="tester")
    assert not isinstance(run, runs.Refused), run
    assert isinstance(runs.start_training(store, config), runs.Refused)  # one run at a time
    assert worker.serve(store.home, once=True) == 1
    run = store.get(run.id)
    assert run.status == store_mod.DONE, run.error
    assert run.config.task == "lr_find" and run.model_path is None  # no model is saved
    result = run.lr_find_result
    assert (result.strategy, result.phase, result.optimizer) == ("finetune", "head", "adam")
    assert result.trained_on == "cached features of block5_pool"
    assert len(result.learning_rates) == len(result.losses) == len(result.smoothed) > 10
    assert np.all(np.diff(result.learning_rates) > 0)
    assert result.diverged or len(result.learning_rates) == lr_finder.STEPS
    # the loss of two colours falls during the sweep: a suggestion, inside the swept range
    assert result.suggestion is not None, result.note
    assert result.learning_rates[0] <= result.suggestion <= result.learning_rates[-1]
    assert result.suggestion < result.learning_rates[int(np.argmin(result.smoothed))]
    assert all(math.isfinite(v) for v in result.smoothed)
    assert run.progress.stage == "finished"


def _cli(*args, home):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "STUDIO_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_phase_settings_that_do_not_fit_are_one_line(binary_dataset, tmp_path):
    wrong_phase = _cli(
        "train", str(binary_dataset), "--weights", "none", "--lr", "finetune=1e-3", home=tmp_path
    )
    assert wrong_phase.returncode == 2 and "Traceback" not in wrong_phase.stderr
    assert "strategy head has no phase 'finetune' (its phases: head)" in wrong_phase.stderr
    wrong_name = _cli(
        "lr-find", str(binary_dataset), "--weights", "none", "--optimizer", "adamw", home=tmp_path
    )
    assert wrong_name.returncode == 2
    assert "optimizer of phase 'head' must be one of sgd, adam, rmsprop" in wrong_name.stderr


def test_cli_flags_become_the_run_settings(binary_dataset):
    from core import cli
    from core.cli import training

    args = cli._parser().parse_args(
        ["train", str(binary_dataset), "--strategy", "finetune", "--weights", "none"]
        + ["--optimizer", "adam", "--lr", "3e-4", "--lr", "finetune=1e-5", "--patience", "7"]
    )
    config = training.config_from(args)
    assert config.optimizers == {"head": "adam"}
    assert config.learning_rates == {"head": 3e-4, "finetune": 1e-5}
    assert config.early_stopping_patience == 7


@pytest.mark.slow
def test_cli_lr_find_prints_the_suggested_rate_as_json(binary_dataset, tmp_path):
    import json

    result = _cli(
        "lr-find",
        str(binary_dataset),
        "--weights",
        "none",
        "--image-size",
        "32",
        "--batch-size",
        "8",
        "--json",
        home=tmp_path / "home",
    )
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert (line["status"], line["phase"], line["optimizer"]) == ("done", "head", "rmsprop")
    assert line["steps"] > 10 and line["rule"] == lr_finder.RULE
    assert line["suggested_learning_rate"] is not None, line  # two colours: the loss falls
    assert lr_finder.START_RATE <= line["suggested_learning_rate"] <= 1.0
