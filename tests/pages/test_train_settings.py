"""The Train page's "Training settings": defaults from the strategy table (reset when the
strategy changes), the settings reaching the run, and the learning-rate finder's button,
curve and "Use this rate"."""

from __future__ import annotations

from apptesting import WITHOUT_WEIGHTS, chart_titled, no_exceptions, page, queued_run, texts

from core.runs import store as store_mod
from core.runs import strategies
from core.runs.config import RunConfig
from core.runs.results import LrFindResult
from core.train import lr_finder
from ui import session_keys

RED_HERRING = {"head": "sgd"}  # anything but the table's rmsprop


def _page(dataset, **state):
    at = page(
        "3_train.py",
        **{
            session_keys.DATASET: str(dataset),
            session_keys.IMAGE_SIZE: 48,
            session_keys.WEIGHTS: "none",
            **state,
        },
        **WITHOUT_WEIGHTS,
    ).run()
    no_exceptions(at)
    return at


def _phase_values(at, strategy: str) -> dict:
    return {
        p.name: (
            at.selectbox(key=f"_w_opt_{strategy}_{p.name}").value,
            at.select_slider(key=f"_w_lr_{strategy}_{p.name}").value,
        )
        for p in strategies.get(strategy).keras_phases
    }


def _table(strategy: str) -> dict:
    return {p.name: (p.optimizer, p.learning_rate) for p in strategies.get(strategy).keras_phases}


def test_settings_start_at_the_strategy_tables_values(store, digits):
    for strategy in ("head", "finetune", "scratch"):
        at = _page(digits, **{session_keys.STRATEGY: strategy})
        assert _phase_values(at, strategy) == _table(strategy)
    assert at.number_input(key="_w_early_stopping_patience").value == RunConfig.default(
        "early_stopping_patience"
    )


def test_changing_the_strategy_resets_the_phase_settings_to_its_defaults(store, digits):
    at = _page(digits, **{session_keys.STRATEGY: "finetune"})
    at.selectbox(key="_w_opt_finetune_head").set_value("adam")
    at.select_slider(key="_w_lr_finetune_finetune").set_value(1e-3).run()
    assert _phase_values(at, "finetune")["head"][0] == "adam"
    at.selectbox(key="_w_strategy").set_value("head").run()
    no_exceptions(at)
    assert _phase_values(at, "head") == _table("head")
    at.selectbox(key="_w_strategy").set_value("finetune").run()
    assert _phase_values(at, "finetune") == _table("finetune")  # not the values chosen before


def test_chosen_settings_reach_the_queued_run(store, digits):
    at = _page(digits, **{session_keys.STRATEGY: "finetune"})
    at.selectbox(key="_w_opt_finetune_head").set_value("adam")
    at.select_slider(key="_w_lr_finetune_head").set_value(3e-4)
    at.number_input(key="_w_early_stopping_patience").set_value(9).run()
    at.button(key="train_start").click().run()
    no_exceptions(at)
    (run,) = store.list()
    assert run.config.optimizers == {"head": "adam"}
    assert run.config.learning_rates == {"head": 3e-4}
    assert run.config.early_stopping_patience == 9
    assert run.config.task == "train"


def test_the_finder_is_disabled_with_a_reason_while_a_run_is_under_way(store, digits):
    queued_run(store, digits)
    at = _page(digits)
    assert at.button(key="train_lr_find").disabled
    assert "one run at a time" in texts(at.caption)


def test_the_finder_button_queues_a_range_test_for_the_chosen_settings(store, digits):
    at = _page(digits, **{session_keys.STRATEGY: "finetune"})
    at.selectbox(key="_w_opt_finetune_head").set_value("adam").run()
    # issue 20 item 15: plain words on the page, the exact rule in the button's tooltip
    assert "N/2 steps" not in texts(at.caption)
    assert "N/2 steps" in at.button(key="train_lr_find").help
    at.button(key="train_lr_find").click().run()
    no_exceptions(at)
    (run,) = store.list()
    assert run.config.task == "lr_find" and run.config.optimizers == {"head": "adam"}
    assert at.button(key="train_lr_find").disabled  # a run is under way now
    assert at.button(key="train_start").disabled
    assert "The learning-rate finder" in texts(at.caption)


def _finished_finder(store, digits, suggestion: float | None = 2.3e-3):
    config = RunConfig(
        dataset=str(digits), strategy="head", image_size=48, weights="none", task="lr_find"
    )
    run = store.create(config)
    rates = tuple(float(r) for r in lr_finder.sweep_rates(1e-7, 1.0, 30))
    losses = tuple(2.0 - k * 0.05 for k in range(30))
    result = LrFindResult(
        strategy="head",
        phase="head",
        optimizer="rmsprop",
        current_rate=1e-3,
        learning_rates=rates,
        losses=losses,
        smoothed=losses,
        suggestion=suggestion,
        rule=lr_finder.RULE,
        trained_on="cached features of block5_pool",
        note=None if suggestion else "the loss never fell during the sweep",
    )
    store.finish(run.id, store_mod.DONE, result=result)
    return store.get(run.id)


def test_a_finished_range_test_shows_its_curve_and_its_rate_can_be_used(store, digits):
    run = _finished_finder(store, digits)
    at = _page(digits, **{session_keys.STRATEGY: "head"})
    curve = chart_titled(at, "Loss vs learning rate (range test)")
    assert curve["layout"]["xaxis"]["type"] == "log"
    names = [trace["name"] for trace in curve["data"]]
    assert "suggested: 2.3e-03" in names and "in your settings: 1.0e-03" in names
    assert "0.0023" in texts(at.success)
    assert "Training finished." not in texts(at.success)  # not mistaken for a training run
    at.button(key=f"train_lr_use_{run.id}").click().run()
    no_exceptions(at)
    assert at.select_slider(key="_w_lr_head_head").value == 2.3e-3
    at.button(key="train_start").click().run()
    (train,) = [r for r in store.list() if r.config.task == "train"]
    assert train.config.learning_rates == {"head": 2.3e-3}


def test_a_range_test_without_a_suggestion_says_why(store, digits):
    _finished_finder(store, digits, suggestion=None)
    at = _page(digits, **{session_keys.STRATEGY: "head"})
    assert "never fell" in texts(at.info)
    assert not [b for b in at.button if str(b.key).startswith("train_lr_use_")]
