"""The Compare page (app_pages/5_compare.py): runs side by side, every strategy at once."""

from __future__ import annotations

import json

from apptesting import (
    chart_titled,
    finished_run,
    no_exceptions,
    page,
    texts,
)

from core.reports import report
from core.runs import strategies
from ui import messages, session_keys


def test_compare_two_runs_table_marks_the_best(store, digits):
    first = finished_run(store, digits, "head", accuracy=0.82, loss=0.5, group_id="g1")
    second = finished_run(store, digits, "linear", accuracy=0.91, loss=0.3, group_id="g1")
    at = page("5_compare.py", **{session_keys.DATASET: str(digits)}).run()
    no_exceptions(at)
    assert not at.error, texts(at.error)
    assert sorted(at.multiselect(key="_w_compare_runs").value) == sorted([first.id, second.id])
    table = at.dataframe[0].value
    best = table[table["best"] != ""]
    assert list(best["run"]) == [second.id] and list(best["strategy"]) == ["Linear probe"]
    assert "Best of the selected runs: Linear probe with 91.0%" in texts(at.success)
    curves = chart_titled(at, "Validation accuracy per epoch")
    assert len(curves["data"]) == 2
    download = at.get("download_button")[0]
    assert download.proto.label == "Download the table (CSV)"


def test_compare_ranks_by_test_accuracy_and_shows_the_interval(store, digits):
    test = {"test_accuracy": 0.88, "test_interval": [0.8, 0.93], "caution": "Only 30 test images"}
    flattered = {"test_accuracy": 0.7, "test_interval": [0.6, 0.8], "caution": None}
    finished_run(store, digits, "head", accuracy=0.99, group_id="g", test=flattered)
    best = finished_run(store, digits, "linear", accuracy=0.9, group_id="g", test=test)
    at = page("5_compare.py", **{session_keys.DATASET: str(digits)}).run()
    no_exceptions(at)
    table = at.dataframe[0].value
    assert list(table[table["best"] != ""]["run"]) == [best.id]
    # issue 20 item 4: the winner's sentence carries the winner's interval, and the caution
    # names the run it is about
    assert (
        "Best of the selected runs: Linear probe with 88.0% of the test pictures right "
        "(95% interval 80%–93%)."
    ) in texts(at.success)
    bars = chart_titled(at, "Test accuracy (95% interval)")
    assert bars["data"][0]["y"] == [0.88, 0.7]
    caution = messages.md(f"{report.series_name(best)}: Only 30 test images")
    assert caution in texts(at.warning)


def test_compare_run_every_strategy_queues_one_run_each_on_one_split(store, digits):
    at = page(
        "5_compare.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: 48,
            session_keys.WEIGHTS: "none",
        },
    ).run()
    at.button(key="compare_run_all").click().run()
    no_exceptions(at)
    runs = store.list()
    assert sorted(r.strategy for r in runs) == sorted(strategies.STRATEGIES)
    assert len({r.group_id for r in runs}) == 1 and runs[0].group_id
    manifests = {json.dumps(r.config.manifest, sort_keys=True) for r in runs}
    manifest = json.loads(manifests.pop())
    assert len(manifests) == 0 and len(manifest["files"]) == 500
    assert list(manifest["files"].values()).count("test") == 75  # one test side for all
    assert {(r.config.seed, r.config.image_size, r.config.weights) for r in runs} == {
        (0, 48, "none")
    }
    assert at.button(key="compare_run_all").disabled
    at.run()
    assert len(store.list()) == len(strategies.STRATEGIES)  # no second group


def test_run_every_strategy_follows_the_new_runs_live_and_stop_ends_them_all(store, digits):
    old = finished_run(store, digits, "head", accuracy=0.8, loss=0.5)
    at = page(
        "5_compare.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: 48,
            session_keys.WEIGHTS: "none",
        },
    ).run()
    assert at.multiselect(key="_w_compare_runs").value == [old.id]
    at.multiselect(key="_w_compare_strategies").set_value(["linear", "head"]).run()
    assert at.button(key="compare_run_all").label == "Run 2 strategies"
    at.button(key="compare_run_all").click().run()
    no_exceptions(at)
    queued = [r for r in store.list() if r.id != old.id]
    assert sorted(r.strategy for r in queued) == ["head", "linear"]
    # the overlay switched from the old run to the new ones (it used to keep the old choice,
    # so nothing on the page was active and it never refreshed)
    assert sorted(at.multiselect(key="_w_compare_runs").value) == sorted(r.id for r in queued)
    assert "2 run(s) still to finish" in texts(at.info)
    group = queued[0].group_id
    at.button(key=f"compare_stop_{group}").click().run()
    no_exceptions(at)
    assert {r.status for r in store.list(group_id=group)} == {"stopped"}
    assert store.get(old.id).status == "done"
    assert not at.button(key="compare_run_all").disabled


def seeded_run(store, digits, strategy, seed, accuracy, group_id="g"):
    """A finished run of a repeated comparison: training seed `seed`, a test score."""
    import dataclasses

    run = finished_run(store, digits, strategy, accuracy=accuracy, loss=1 - accuracy)
    result = dataclasses.replace(run.training_result, test_accuracy=accuracy, test_loss=0.2)
    store.update(run.id, config=dataclasses.replace(run.config, seed=seed), result=result)
    store.update(run.id, group_id=group_id)
    return store.get(run.id)


def test_seeds_setting_queues_each_strategy_once_per_seed_on_one_split(store, digits):
    at = page(
        "5_compare.py",
        **{
            session_keys.DATASET: str(digits),
            session_keys.IMAGE_SIZE: 48,
            session_keys.WEIGHTS: "none",
        },
    ).run()
    assert at.number_input(key="_w_compare_seeds").value == 1  # today's behaviour by default
    at.multiselect(key="_w_compare_strategies").set_value(["linear", "head"]).run()
    at.number_input(key="_w_compare_seeds").set_value(3).run()
    assert at.button(key="compare_run_all").label == "Run 2 strategies × 3 seeds"
    at.button(key="compare_run_all").click().run()
    no_exceptions(at)
    runs = store.list()
    assert sorted((r.strategy, r.config.seed) for r in runs) == sorted(
        (key, seed) for key in ("linear", "head") for seed in (0, 1, 2)
    )
    assert len({json.dumps(r.config.manifest, sort_keys=True) for r in runs}) == 1
    assert len({r.group_id for r in runs}) == 1
    assert "6 run(s) still to finish" in texts(at.info)


def test_a_repeated_comparison_shows_mean_curves_bars_and_the_verdict(store, digits):
    for seed, (head, linear) in enumerate(((0.90, 0.85), (0.93, 0.87), (0.95, 0.91))):
        seeded_run(store, digits, "head", seed, head)
        seeded_run(store, digits, "linear", seed, linear)
    at = page("5_compare.py", **{session_keys.DATASET: str(digits)}).run()
    no_exceptions(at)
    bands = chart_titled(
        at,
        "Validation accuracy per epoch: mean over seeds, shaded from the lowest to the "
        "highest seed",
    )
    assert len(bands["data"]) == 4  # a band and a mean line per strategy
    bars = chart_titled(at, "Test accuracy per strategy: mean, error bars ± 1 std across seeds")
    assert bars["data"][0]["error_y"]["array"][0] > 0
    assert "head beats linear by 5.0 points of test accuracy; with 3 seeds this is larger" in (
        texts(at.success)
    )
    table = at.dataframe[0].value
    assert list(table["seeds"]) == ["3 of 3", "3 of 3"]
    assert table["test accuracy"].iloc[0] == "0.927 ± 0.025"


def test_compare_says_why_head_and_finetune_curves_coincide(store, digits):
    finished_run(store, digits, "finetune", accuracy=0.9, loss=0.3, group_id="g1")
    finished_run(store, digits, "head", accuracy=0.8, loss=0.5, group_id="g1")
    at = page("5_compare.py", **{session_keys.DATASET: str(digits)}).run()
    no_exceptions(at)
    assert "the first phase of Fine-tune the top blocks is Feature extractor" in texts(at.caption)
    dashes = [t["line"]["dash"] for t in chart_titled(at, "Validation accuracy per epoch")["data"]]
    assert len(set(dashes)) == 2


def test_compare_offers_the_comparison_report(store, digits):
    finished_run(store, digits, "head", accuracy=0.8, loss=0.5, group_id="g1")
    at = page("5_compare.py", **{session_keys.DATASET: str(digits)}).run()
    no_exceptions(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download the comparison report (HTML)" in labels


def test_compare_defaults_to_the_latest_comparison_group(store, digits):
    """Issue 20 item 9: a newer comparison (another tab, the command line) is what Compare
    opens on, not the one this session remembered nor the two newest runs."""
    finished_run(store, digits, "head", accuracy=0.6, group_id="old")
    newer = [
        finished_run(store, digits, s, accuracy=a, group_id="new")
        for s, a in (("head", 0.7), ("linear", 0.9))
    ]
    finished_run(store, digits, "finetune", accuracy=0.5)  # the newest run, in no group
    at = page(
        "5_compare.py", **{session_keys.DATASET: str(digits), session_keys.COMPARE_GROUP: "old"}
    )
    at.run()
    no_exceptions(at)
    assert sorted(at.multiselect(key="_w_compare_runs").value) == sorted(r.id for r in newer)
