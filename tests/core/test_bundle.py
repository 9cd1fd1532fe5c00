"""The reproducible bundle, its shareable report, TensorBoard logs and `reproduce`."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from tiny_run import train

from core import cli
from core.export import bundle, predict, reproduce
from core.platform.fileio import sha256_file
from core.reports import html_report
from core.runs import runfiles
from core.runs.config import RunConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(finished_run):
    return finished_run


@pytest.fixture(scope="module")
def made(run, tmp_path_factory):
    store, finished = run
    return bundle.write(store, finished.id, tmp_path_factory.mktemp("out") / "run.zip")


def test_training_writes_tensorboard_logs_and_the_page_gets_the_command(run):
    store, finished = run
    logs = runfiles.tensorboard_dir(store.run_dir(finished.id))
    assert list((logs / "head").rglob("events.out.tfevents.*"))
    command = runfiles.tensorboard_command(store, finished.id)
    assert command.startswith("tensorboard --logdir ") and str(logs) in command


def test_bundle_holds_everything_to_reuse_and_reproduce_the_run(run, made):
    store, finished = run
    with zipfile.ZipFile(made.path) as archive:
        names = set(archive.namelist())
        labels = archive.read("labels.txt").decode().splitlines()
        manifest = json.loads(archive.read("manifest.json"))
        versions = json.loads(archive.read("versions.json"))
        dataset = json.loads(archive.read("dataset.json"))
        config = json.loads(archive.read("config.json"))
        metrics = json.loads(archive.read("metrics.json"))
    assert {"model.keras", "report.html", "predict.py", "history.json"} <= names
    assert any(name.startswith("tensorboard/head/") for name in names)
    assert labels == list(finished.result.classes)  # output order
    assert config["seed"] == 0 and metrics["val_accuracy"] == finished.result.val_accuracy
    assert metrics["device"]["placed_on"] == ["CPU:0"]  # where the run really ran
    assert {"python", "tensorflow", "keras", "numpy", "pillow", "studio"} <= set(versions)
    assert versions["studio"] == runfiles.studio_version() != "unknown"
    root = store.run_dir(finished.id)
    saved = json.loads((root / "manifest.json").read_text())
    assert {rel: e["split"] for rel, e in manifest["files"].items()} == saved["files"]
    rel, entry = next(iter(manifest["files"].items()))
    assert entry["sha256"] == sha256_file(os.path.join(finished.dataset, rel))
    assert dataset["fingerprint"] == runfiles.dataset_fingerprint(manifest) == made.fingerprint


def test_the_bundles_predict_py_needs_tensorflow_only(run, made, tmp_path):
    store, finished = run
    with zipfile.ZipFile(made.path) as archive:
        archive.extractall(tmp_path)
    loaded = predict.load(store, finished.id)
    images = sorted(str(p) for p in Path(finished.dataset).rglob("*.png"))[::5]
    done = subprocess.run(
        [sys.executable, "-I", "predict.py", *images],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    printed = [line.rsplit(" ", 2)[1] for line in done.stdout.strip().splitlines()]
    expected = [top[0]["class"] for top in predict.top_k(loaded, images, k=1)]
    assert printed == expected


def test_report_is_self_contained_and_escapes_user_text(run, made):
    with zipfile.ZipFile(made.path) as archive:
        page = archive.read("report.html").decode()
    assert "<script src=" not in page  # plotly.js is inline: opens without a network
    assert "Plotly.newPlot" in page and page.count("Confusion matrix") >= 1
    assert "Per-class metrics" in page and "Versions" in page
    assert "test accuracy, 95% interval" in page and "Confusion matrix (test images)" in page
    assert "<td>device</td><td>CPU:0, " in page.replace("\n", "")
    store, finished = run
    data = bundle.report_input(store, bundle.export.Exporter(store, finished.id))
    hostile = '<script>alert("x")</script>'
    result = {**data.result, "most_wrong": [], "classes": [hostile, "b"]}
    manifest = {**data.manifest, "classes": [hostile, "b"]}
    page = html_report.render(
        html_report.ReportInput(
            data.run_id,
            data.config,
            result,
            data.history,
            manifest,
            data.fingerprint,
            data.versions,
        )
    )
    assert hostile not in page and "&lt;script&gt;" in page


def test_thumbnails_are_inline_png(run):
    _, finished = run
    image = next(iter(Path(finished.dataset).rglob("*.png")))
    assert html_report.thumbnail(image).startswith("data:image/png;base64,")
    assert html_report.thumbnail(image.with_name("gone.png")) is None


def test_reproduce_trains_the_same_split_again_and_matches(run, made):
    store, finished = run
    plan = reproduce.plan(store, str(made.path))
    assert plan.warnings == ()
    assert plan.config.manifest["files"] == runfiles.plain_manifest(plan.recorded.manifest)["files"]
    again = train(store, plan.config)
    outcome = reproduce.compare(plan, again.id, again.result)
    assert outcome.matches, outcome.describe()
    assert again.result.validation_images == finished.result.validation_images


def test_reproduce_warns_when_versions_differ(run, made, monkeypatch):
    store, _ = run
    current = runfiles.library_versions()
    monkeypatch.setattr(runfiles, "library_versions", lambda: {**current, "numpy": "0.0"})
    plan = reproduce.plan(store, str(made.path))
    assert any("numpy" in line for line in plan.warnings)


def test_reproduce_refuses_changed_files_in_one_line(run, made, tmp_path, capsys):
    store, finished = run
    copy = tmp_path / "copy"
    for path in Path(finished.dataset).rglob("*.png"):
        target = copy / path.relative_to(finished.dataset)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    changed = sorted(copy.rglob("*.png"))[0]
    changed.write_bytes(changed.read_bytes() + b"\0")  # same picture, other bytes
    args = ["reproduce", str(made.path), "--dataset", str(copy), "--home", str(store.home)]
    assert cli.main(args) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "1 changed" in err and changed.name in err and err.count("\n") == 1


def test_reproduce_refuses_what_is_not_a_bundle(run, tmp_path):
    store, _ = run
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a studio bundle"):
        reproduce.plan(store, str(fake))


def test_recorded_config_round_trips(made):
    config = RunConfig.from_dict(json.loads(bundle.read_member(made.path, "config.json")))
    assert config.image_size == 32 and config.weights == "none"
    assert np.isfinite(json.loads(bundle.read_member(made.path, "metrics.json"))["val_loss"])
