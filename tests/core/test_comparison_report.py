"""The shareable page of a comparison (core/reports/comparison_report.py) and
`python -m core report`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from synthetic import write_colour_dataset

from core import cli
from core.data import datasets
from core.reports import comparison_report
from core.runs import store as store_mod
from core.runs import strategies
from core.runs.config import RunConfig
from core.runs.store import Store

HOSTILE = "<img src=x onerror=alert(1)>"


def _run(
    store: Store,
    dataset: Path,
    strategy: str,
    seed: int,
    accuracy: float,
    group: str,
    test: float | None = None,
    manifest_edits: list[dict] | None = None,
):
    """A finished run as the worker leaves it: curves in the store, manifest.json on disk."""
    config = RunConfig(dataset=str(dataset), strategy=strategy, seed=seed, weights="none")
    run = store.create(config, group_id=group)
    split = datasets.split(
        datasets.scan(str(dataset)), val_fraction=0.15, test_fraction=0.15, seed=0
    )
    folder = store.run_dir(run.id)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = split.manifest()
    if manifest_edits:
        manifest = {**manifest, "edits": manifest_edits}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    for epoch in (1, 2):
        store.add_metric(
            run.id, "epoch", "head", epoch, 2, {"val_accuracy": accuracy - 0.1 * (2 - epoch)}
        )
    per_class = [
        {"class": HOSTILE, "precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 5},
        {"class": "blue", "precision": 0.7, "recall": 0.9, "f1": 0.8, "support": 5},
    ]
    result = {
        "val_accuracy": accuracy,
        "val_loss": 0.4,
        "per_class": per_class,
        "epochs_run": 2,
        "train_seconds": 12.0,
        "strategy": strategy,
        "classes": [HOSTILE, "blue"],
    }
    if test is not None:
        result.update(test_accuracy=test, test_loss=1.0 - test, test_images=4, evaluated_on="test")
    store.finish(run.id, store_mod.DONE, result=result, progress={"stage": "finished"})
    return store.get(run.id)


@pytest.fixture
def comparison(tmp_path):
    store = Store(tmp_path / "home")
    dataset = write_colour_dataset(tmp_path / HOSTILE, ("red", "blue"), per_class=6, size=32)
    runs = [
        _run(store, dataset, "finetune", 0, 0.9, "g1"),
        _run(store, dataset, "head", 0, 0.8, "g1"),
        _run(store, dataset, "head", 1, 0.85, "g1"),  # a second seed of one strategy
        _run(store, dataset, "linear", 0, 0.7, "g1"),
    ]
    _run(store, dataset, "scratch", 0, 0.5, "other-group")
    return store, runs


def test_report_has_every_run_grouped_by_strategy(comparison):
    store, runs = comparison
    page = comparison_report.for_group(store, "g1")
    for run in runs:
        assert f'id="run-{run.id}"' in page and f'href="#run-{run.id}"' in page
    assert "From scratch" not in page  # another comparison's run is not in this one
    # strategies in the table's order: linear, head (both seeds), finetune
    order = [page.index(f'id="run-{r.id}"') for r in (runs[3], runs[1], runs[2], runs[0])]
    assert order == sorted(order)
    titles = [strategies.get(k).title for k in ("linear", "head", "finetune")]
    table = page[page.index("<h2>Strategies</h2>") : page.index("<h2>Every run</h2>")]
    assert [table.index(t) for t in titles] == sorted(table.index(t) for t in titles)
    assert "2 of 2" in table and "0.850" in table  # head: two runs, the better seed's score
    assert page.count("seed 1 ·") >= 1
    assert "Every run learned from exactly the same files" in page
    assert "the first phase of Fine-tune the top blocks is Feature extractor" in page


def test_report_opens_offline_and_escapes_hostile_names(comparison):
    store, _ = comparison
    page = comparison_report.for_group(store, "g1")
    assert not re.search(r"<script[^>]*\bsrc=", page)  # plotly.js inline, nothing fetched
    markup = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)  # plotly.js's own text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", markup)  # no remote file at all
    assert page.count("Plotly.newPlot") >= 2
    assert HOSTILE not in page  # the folder and the class names arrive escaped
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_report_found_from_any_member_run_and_refused_for_unknown(comparison):
    store, runs = comparison
    group, found = comparison_report.group_runs(store, runs[2].id)
    assert group == "g1" and {r.id for r in found} == {r.id for r in runs}
    with pytest.raises(comparison_report.ComparisonReportRefused, match="no comparison"):
        comparison_report.group_runs(store, "nope")


def test_cli_report_group_writes_the_page(comparison, tmp_path, capsys):
    store, runs = comparison
    out = tmp_path / "cmp.html"
    code = cli.main(["--home", str(store.home), "report", "--group", "g1", "--out", str(out)])
    assert code == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["path"] == str(out) and sorted(line["runs"]) == sorted(r.id for r in runs)
    assert all(f'id="run-{r.id}"' in out.read_text() for r in runs)
    assert cli.main(["--home", str(store.home), "report", "--group", "nope"]) == 2
    assert "no comparison 'nope'" in capsys.readouterr().err


def test_report_of_picked_runs_titles_by_their_group_and_survives_none(comparison):
    store, runs = comparison
    page = comparison_report.for_runs(store, runs[:2])
    assert "<h1>Comparison g1</h1>" in page and "2 runs" in page
    assert f'id="run-{runs[2].id}"' not in page  # only the picked ones
    gone = comparison_report.existing(store, ["no-such-run"])
    assert gone == [] and "pick at least one run" in comparison_report.for_runs(store, gone)


def test_a_comparison_over_seeds_shows_mean_and_std(comparison):
    store, _ = comparison
    page = comparison_report.for_group(store, "g1")  # head ran with seeds 0 and 1
    section = page[page.index("<h2>Over the seeds</h2>") : page.index("<h2>Every run</h2>")]
    assert "0.825 ± 0.035" in section  # head: 0.80 and 0.85
    assert "Feature extractor + small head" in section


def test_strategies_are_ranked_by_the_held_out_test_score_shown_for_every_run(tmp_path):
    store = Store(tmp_path / "home")
    dataset = write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=6, size=32)
    runs = [  # validation picked the checkpoint; the test side is the score
        _run(store, dataset, "head", 0, 0.95, "g", test=0.70),
        _run(store, dataset, "head", 1, 0.80, "g", test=0.90),
    ]
    page = comparison_report.for_runs(store, runs)
    table = page[page.index("<h2>Strategies</h2>") : page.index("<h2>Every run</h2>")]
    assert "best test accuracy" in table and "validation" not in table
    assert runs[1].id in table and runs[0].id not in table
    every = page[page.index("<h2>Every run</h2>") : page.index("<h2>Curves</h2>")]
    assert "<th>test accuracy</th>" in every and "0.700" in every and "0.900" in every
    # issue 20 item 5: the per-class table holds the test side's counts, and says so
    section = page[page.index("<h3>") :]
    assert "<th>test images</th>" in section and "validation images" not in section


def test_fingerprint_sees_the_files_through_the_runs_recorded_edits(tmp_path):
    from core.data import overlay
    from core.runs import runfiles

    store = Store(tmp_path / "home")
    dataset = write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=6, size=32)
    rel = sorted(str(p.relative_to(dataset)) for p in (dataset / "red").iterdir())[0]
    edit = overlay.Edit("e1", overlay.RELABEL, rel, "red", "blue")
    run = _run(store, dataset, "head", 0, 0.9, "g", manifest_edits=[edit.to_json()])
    manifest = runfiles.read_json(store.run_dir(run.id), "manifest.json")
    split = runfiles.rebuild_split(run.config, manifest, store.home)
    assert next(i.label for s in split.sides().values() for i in s if i.rel == rel) == "blue"
    # as core.export.bundle.report_input computes it
    as_bundled = runfiles.dataset_fingerprint(runfiles.hashed_manifest(split, manifest["edits"]))
    data = comparison_report.gather(store, [run], "t")
    assert data.entries[0].fingerprint == as_bundled


def test_the_machine_table_says_the_device_the_runs_recorded(tmp_path, monkeypatch):
    from core.model.device_facts import DeviceUse
    from core.platform import hostinfo
    from core.reports import comparison_report
    from core.runs import store as store_mod
    from core.runs.config import RunConfig
    from core.runs.results import RunResult
    from core.runs.store import Store

    monkeypatch.setattr(hostinfo, "quick_device", lambda *a: "GPU: NVIDIA A100")
    store = Store(tmp_path / "home")
    runs = []
    for use in (DeviceUse(("CPU:0",)), None):
        run = store.create(RunConfig(dataset=str(tmp_path), weights="none"))
        store.finish(run.id, store_mod.DONE, result=RunResult(val_accuracy=0.5, device=use))
        runs.append(store.get(run.id))
    assert comparison_report.trained_on(runs) == "CPU:0, float32, XLA off, 1 replica"
    assert "driver's view" in comparison_report.trained_on(runs[1:])


def test_a_linear_probe_is_reported_by_its_fit_not_by_epochs_it_ignores(tmp_path):
    """Issue 20 item 11: the report listed "epochs 8, 5" for a closed-form fit."""
    from core.reports import html_report
    from core.runs import advisor

    store = Store(tmp_path / "home")
    dataset = write_colour_dataset(tmp_path / "d", ("red", "blue"), per_class=6, size=32)
    run = _run(store, dataset, "linear", 0, 0.9, "g")
    page = comparison_report.for_runs(store, [run])
    section = page[page.index("<h3>") :]
    assert "epochs (head, fine-tuning)" not in section and "learning rates" not in section
    assert "L2 regularisation C = 1" in section and "512 averaged block5_pool" in section
    data = html_report.ReportInput(run.id, run.config, {}, [], {}, "", {})
    table = html_report._strategy(data)
    assert "epochs" not in table.replace("no epochs", "")
    assert advisor.closed_form_words("block3_pool").startswith("logistic regression on the 256")
