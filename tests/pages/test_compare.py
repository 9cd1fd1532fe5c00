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

from core import strategies
from ui import common


def test_compare_two_runs_table_marks_the_best(store, digits):
    first = finished_run(store, digits, "head", accuracy=0.82, loss=0.5, group_id="g1")
    second = finished_run(store, digits, "linear", accuracy=0.91, loss=0.3, group_id="g1")
    at = page("5_compare.py", **{common.DATASET: str(digits)}).run()
    no_exceptions(at)
    assert not at.error, texts(at.error)
    assert sorted(at.multiselect(key="_w_compare_runs").value) == sorted([first.id, second.id])
    table = at.dataframe[0].value
    best = table[table["best"] != ""]
    assert list(best["run"]) == [second.id] and list(best["strategy"]) == ["Linear probe"]
    assert "Best so far: Linear probe with 91.0%" in texts(at.success)
    curves = chart_titled(at, "Validation accuracy per epoch")
    assert len(curves["data"]) == 2
    download = at.get("download_button")[0]
    assert download.proto.label == "Download the table (CSV)"


def test_compare_run_every_strategy_queues_one_run_each_on_one_split(store, digits):
    at = page(
        "5_compare.py",
        **{common.DATASET: str(digits), common.IMAGE_SIZE: 48, common.WEIGHTS: "none"},
    ).run()
    at.button(key="compare_run_all").click().run()
    no_exceptions(at)
    runs = store.list()
    assert sorted(r.strategy for r in runs) == sorted(strategies.STRATEGIES)
    assert len({r.group_id for r in runs}) == 1 and runs[0].group_id
    manifests = {json.dumps(r.config.manifest, sort_keys=True) for r in runs}
    assert len(manifests) == 1 and len(json.loads(manifests.pop())["files"]) == 500
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
        **{common.DATASET: str(digits), common.IMAGE_SIZE: 48, common.WEIGHTS: "none"},
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
