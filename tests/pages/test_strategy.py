"""The Strategy page (app_pages/2_strategy.py): measurement, advice and override."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apptesting import (
    chart_titled,
    no_exceptions,
    page,
    queued_run,
    texts,
)

from core.runs import advisor, speed
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.store import Store
from ui import session_keys


def _result(run) -> dict:
    return run.probe_result.to_json()


def _probe(store: Store, dataset: Path, probe: dict[str, float]):
    run = queued_run(store, dataset, task="probe")
    advice = advisor.advise(50.0, probe)
    store.finish(
        run.id,
        store_mod.DONE,
        result={
            "probe": probe,
            "advice": advice.to_dict(),
            "weights": "ImageNet",
            "images_per_class": 50.0,
        },
    )
    return store.get(run.id), advice


def test_strategy_with_a_measurement_shows_the_numbers_and_the_advice(store, digits):
    probe = {"block3_pool": 0.91, "block4_pool": 0.84, "block5_pool": 0.62}
    _, advice = _probe(store, digits, probe)
    at = page(
        "2_strategy.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: 48,
            session_keys.WEIGHTS: "none",
        },
    ).run()
    no_exceptions(at)
    assert not at.error, texts(at.error)
    metrics = {m.label: m.value for m in at.metric}
    # issue 20 item 15: plain words first, the layer's name in the tooltip
    assert metrics == {
        "middle features (textures)": "91.0%",
        "upper features (parts of things)": "84.0%",
        "top features (whole shapes)": "62.0%",
    }
    assert [m.help.split(".")[0] for m in at.metric][0] == "VGG16 layer block3_pool"
    assert advice.strategy == "linear" and advice.layer == "block3_pool"
    assert "Recommended: **Linear probe** on VGG16's middle features" in texts(at.success)
    assert advice.why in texts(at.markdown)
    bars = chart_titled(at, "Validation accuracy of a linear classifier at each depth")
    assert bars["data"][0]["y"] == [0.91, 0.84, 0.62]
    matrix = chart_titled(at, "Dataset size x similarity to ImageNet")
    marker = matrix["data"][0]
    assert marker["y"] == [0.5] and marker["marker"]["symbol"] == "star"  # small, different
    # the advice became the choice, which the override box shows and the Train page reads
    assert at.selectbox(key="_w_strategy").value == "linear"
    assert at.session_state[session_keys.STRATEGY] == "linear"
    assert at.session_state[session_keys.LAYER] == "block3_pool"
    layers = chart_titled(at, "Which VGG16 layers train: Linear probe")
    assert "not used" in [trace["name"] for trace in layers["data"]]


def test_strategy_override_and_measure_button(store, digits):
    at = page(
        "2_strategy.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: 48,
            session_keys.WEIGHTS: "none",
        },
    ).run()
    no_exceptions(at)
    assert "similarity not measured yet" in json.dumps(
        chart_titled(at, "Dataset size x similarity to ImageNet")
    )
    at.selectbox(key="_w_strategy").set_value("finetune").run()
    assert at.session_state[session_keys.STRATEGY] == "finetune"
    layers = chart_titled(at, "Which VGG16 layers train: Fine-tune the top blocks")
    assert {t["name"] for t in layers["data"]} >= {"trains", "frozen (pretrained, kept as is)"}
    at.button(key="strategy_measure").click().run()
    no_exceptions(at)
    probes = [r for r in store.list() if r.config.task == "probe"]
    assert len(probes) == 1 and probes[0].config.image_size == 48
    assert probes[0].config.weights == "none"
    assert at.button(key="strategy_measure").disabled  # one measurement at a time
    assert "Measuring" in texts(at.info)


def test_strategy_says_how_long_a_measurement_takes_before_it_starts(store, digits):
    state = {session_keys.DATASET: str(digits), session_keys.WEIGHTS: "none"}
    at = page("2_strategy.py", **state).run()
    no_exceptions(at)
    shown = texts(at.caption)
    assert "It uses 500 of your 500 pictures (at most 60 per class)" in shown
    assert "a cautious guess" in shown  # nothing measured on this machine yet
    speed.record(store.home, 400, 20.0, 48, "float32", "probe")  # 20 images/s at 48 px
    at = page("2_strategy.py", **state).run()
    assert "about 25 s, from 20 images/s measured at 48 px" in texts(at.caption)


def test_strategy_measurement_says_how_many_pictures_it_used(store, digits):
    run, _ = _probe(store, digits, {"block3_pool": 0.9, "block4_pool": 0.8, "block5_pool": 0.7})
    store.update(run.id, result={**_result(run), "images_used": 120, "images_total": 500})
    at = page(
        "2_strategy.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: 48,
            session_keys.WEIGHTS: "none",
        },
    ).run()
    no_exceptions(at)
    assert "Measured on 120 of the 500 pictures (at most 60 per class" in texts(at.caption)


def test_strategy_without_pretrained_weights_warns_that_the_measurement_means_little(digits):
    at = page("2_strategy.py", **{session_keys.DATASET: str(digits)}).run()
    no_exceptions(at)
    assert at.session_state[session_keys.WEIGHTS] == "none"  # nothing on this machine
    assert "advice would mean little" in texts(at.warning)


def test_a_failed_measurement_says_what_to_do_and_folds_the_detail(store, digits):
    run = queued_run(store, digits, task="probe")
    error = "could not get the ImageNet weights (URLError: <urlopen error [Errno -3]>)"
    store.finish(run.id, store_mod.FAILED, error=error)
    at = page(
        "2_strategy.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: 48,
            session_keys.WEIGHTS: "none",
        },
    ).run()
    no_exceptions(at)
    shown = texts(at.error)
    assert "The measurement failed" in shown and "upload the weights file" in shown
    assert "URLError" not in shown
    (detail,) = [e for e in at.expander if e.label == "Technical detail"]
    assert "URLError" in texts(detail.get("code"))


def test_strategy_measurement_cap_is_a_setting_that_reaches_the_probe(store, digits):
    at = page(
        "2_strategy.py", **{session_keys.DATASET: str(digits), session_keys.WEIGHTS: "none"}
    ).run()
    no_exceptions(at)
    cap = at.number_input(key="_w_probe_max_per_class")
    assert cap.value == RunConfig.default("probe_max_per_class")
    cap.set_value(10).run()
    assert "It uses 100 of your 500 pictures (at most 10 per class)" in texts(at.caption)
    at.button(key="strategy_measure").click().run()
    no_exceptions(at)
    (probe,) = [r for r in store.list() if r.config.task == "probe"]
    assert probe.config.probe_max_per_class == 10


def test_a_measurement_inside_its_noise_says_so_with_intervals(store, digits):
    """Issue 20 item 16: each layer's mean and interval are shown; a tie inside the noise
    recommends the simpler choice, says it cannot tell, and what would settle it."""
    top = [0.86, 0.71, 0.93, 0.79, 0.86, 0.93, 0.71, 0.86, 0.79, 0.93]
    earlier = [0.79, 0.86, 0.86, 0.93, 0.71, 0.86, 0.79, 0.93, 0.86, 0.79]
    scores = {"block3_pool": earlier, "block4_pool": earlier, "block5_pool": top}
    noise = advisor.Noise(scores, test_share=0.2, per_class=20)
    probe = {name: sum(s) / len(s) for name, s in scores.items()}
    run = queued_run(store, digits, task="probe")
    advice = advisor.advise(50.0, probe, noise)
    store.finish(run.id, store_mod.DONE, result={"probe": probe, "advice": advice.to_dict()})
    at = page(
        "2_strategy.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: 48,
            session_keys.WEIGHTS: "none",
        },
    ).run()
    no_exceptions(at)
    low, high = advice.intervals["block5_pool"]
    assert f"95% interval: {low:.0%}–{high:.0%}" in texts(at.caption)
    assert "cannot tell" in texts(at.markdown)
    assert "Measuring more pictures per class would settle it" in texts(at.info)
    matrix = chart_titled(at, "Dataset size x similarity to ImageNet")
    assert matrix["data"][0]["text"] == ["this dataset (too close to tell)"]
    bars = chart_titled(at, "Validation accuracy of a linear classifier at each depth")
    assert bars["data"][0]["error_y"]["array"][2] == pytest.approx(high - probe["block5_pool"])
