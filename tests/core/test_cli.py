"""`python -m core`: the last stdout line of train is JSON; bad input is one line, exit != 0.
Run in-process but for one test of the real `python -m core` process."""

import contextlib
import io
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from synthetic import write_colour_dataset

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m core ARGS` run in this process (no second Python, no second TensorFlow):
    its exit code, stdout and stderr. The real process is test_home_may_follow_the_command's."""
    from core.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = {name: os.environ.get(name) for name in ("STUDIO_HOME", "VGG16_WEIGHTS")}
    os.environ["STUDIO_HOME"] = str(home)
    os.environ.pop("VGG16_WEIGHTS", None)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit:  # argparse's refusals
                code = exit.code if isinstance(exit.code, int) else 1
            except Exception:  # noqa: BLE001 - what the process would print, then exit 1
                traceback.print_exc()
                code = 1
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return subprocess.CompletedProcess(
        ["python", "-m", "core", *args], code, out.getvalue(), err.getvalue()
    )


@pytest.fixture
def worker_here(monkeypatch):
    """The worker the CLI starts serves its queue in this process, where TensorFlow is already
    loaded, before the CLI follows the run (a worker process is test_worker's and lr-find's)."""
    from core.jobs import worker

    def serve_now(home, idle_seconds=0.0, engine=None):
        worker.serve(home, once=True, engine=engine)

    monkeypatch.setattr(worker, "start_worker", serve_now)


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.slow
def test_train_prints_json_last_and_predict_uses_the_run(
    three_class_dataset, tmp_path, worker_here
):
    home = tmp_path / "home"
    result = cli(
        "train",
        str(three_class_dataset),
        "--strategy",
        "linear",
        "--weights",
        "none",
        "--image-size",
        "32",
        home=home,
    )
    assert result.returncode == 0, result.stderr
    last = json.loads(result.stdout.strip().splitlines()[-1])
    for key in (
        "run_id",
        "strategy",
        "test_accuracy",
        "test_interval",
        "val_accuracy",
        "val_loss",
        "epochs_run",
        "train_seconds",
        "model_path",
    ):
        assert last[key] is not None, key
    assert last["strategy"] == "linear" and last["weights"] == "no pretrained weights"
    assert Path(last["model_path"]).is_file()

    image = three_class_dataset / "green" / "green_00.png"
    predicted = cli("predict", last["run_id"], str(image), "--top-k", "2", "--json", home=home)
    assert predicted.returncode == 0, predicted.stderr
    entry = json.loads(predicted.stdout.strip().splitlines()[-1])
    assert len(entry["top"]) == 2
    assert entry["top"][0]["probability"] >= entry["top"][1]["probability"]

    foreign = tmp_path / "foreign.keras"
    foreign.write_bytes(Path(last["model_path"]).read_bytes())
    refused = cli("predict", str(foreign), str(image), home=home)
    assert_one_line_error(refused, "not a model this studio saved")


def test_missing_folder_is_one_line(tmp_path):
    result = cli("train", str(tmp_path / "nowhere"), "--weights", "none", home=tmp_path / "h")
    assert_one_line_error(result, "dataset folder not found")
    assert result.returncode == 2


def test_one_class_is_one_line(tmp_path):
    root = write_colour_dataset(tmp_path / "one", ("red",), per_class=2)
    result = cli("train", str(root), "--weights", "none", home=tmp_path / "h")
    assert_one_line_error(result, "at least two classes")


def test_no_readable_image_is_one_line(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "junk" / name).mkdir(parents=True)
        (tmp_path / "junk" / name / "x.jpg").write_bytes(b"garbage")
    result = cli("train", str(tmp_path / "junk"), "--weights", "none", home=tmp_path / "h")
    assert_one_line_error(result, "no readable image")


def test_huge_batch_size_is_refused_with_run_configs_message(binary_dataset, tmp_path):
    from core.runs.config import RunConfig

    settings = RunConfig(dataset=str(binary_dataset), weights="none", batch_size=10**9)
    (expected,) = settings.problems()  # the UI shows this same sentence
    result = cli(
        "train",
        str(binary_dataset),
        "--weights",
        "none",
        "--batch-size",
        "1000000000",
        home=tmp_path / "h",
    )
    assert_one_line_error(result, expected)


def test_missing_weights_file_is_one_line(binary_dataset, tmp_path):
    result = cli(
        "train", str(binary_dataset), "--weights", str(tmp_path / "no.h5"), home=tmp_path / "h"
    )
    assert_one_line_error(result, "weights file not found")


@pytest.mark.slow
def test_unusable_weights_file_fails_with_one_line(binary_dataset, tmp_path, worker_here):
    bad = tmp_path / "bad.weights.h5"
    bad.write_bytes(b"not hdf5")
    result = cli(
        "train",
        str(binary_dataset),
        "--weights",
        str(bad),
        "--image-size",
        "32",
        "--strategy",
        "linear",
        home=tmp_path / "h",
    )
    assert_one_line_error(result, "does not fit VGG16")
    assert json.loads(result.stdout.strip().splitlines()[-1])["status"] == "failed"


def test_inspect_json_reports_classes_and_unreadable(binary_dataset, tmp_path):
    (binary_dataset / "red" / "empty.png").write_bytes(b"")
    result = cli("inspect", str(binary_dataset), "--json", home=tmp_path / "h")
    assert result.returncode == 0
    summary = json.loads(result.stdout)
    assert summary["counts"] == {"blue": 12, "red": 12}
    assert summary["unreadable"] == [{"file": "red/empty.png", "reason": "empty file (0 bytes)"}]


def test_unknown_strategy_is_rejected_by_the_parser(binary_dataset, tmp_path):
    result = cli("train", str(binary_dataset), "--strategy", "magic", home=tmp_path / "h")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_home_may_follow_the_command(binary_dataset, tmp_path):
    home = tmp_path / "elsewhere"
    result = subprocess.run(
        [sys.executable, "-m", "core", "runs", "--home", str(home)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (home / "runs.sqlite3").exists()


def test_bench_with_bad_settings_is_one_line(tmp_path):
    result = cli("bench", "--image-size", "16", home=tmp_path / "h")
    assert_one_line_error(result, "--image-size >= 32")
    assert result.returncode == 2
    missing = cli("bench", "--weights", str(tmp_path / "no.h5"), home=tmp_path / "h")
    assert_one_line_error(missing, "weights file not found")


def test_advise_with_bad_settings_is_one_line(binary_dataset, tmp_path):
    result = cli(
        "advise",
        str(binary_dataset),
        "--image-size",
        "16",
        "--weights",
        "none",
        home=tmp_path / "h",
    )
    assert_one_line_error(result, "at least 32 px")
    assert result.returncode == 2


def test_advise_cap_below_two_is_one_line(binary_dataset, tmp_path):
    result = cli(
        "advise", str(binary_dataset), "--max-per-class", "1", "--weights", "none", home=tmp_path
    )
    assert_one_line_error(result, "at least 2 pictures per class")
    assert result.returncode == 2


def test_stop_and_resume_of_unknown_or_unfit_runs_are_one_line(
    binary_dataset, tmp_path, monkeypatch
):
    from core.jobs import worker
    from core.runs.config import RunConfig
    from core.runs.store import Store

    # the queued run below is never meant to train (a worker would, at 224 px)
    monkeypatch.setattr(worker, "start_worker", lambda *args, **kwargs: None)

    home = tmp_path / "h"
    assert_one_line_error(cli("stop", "nope", home=home), "no run matches 'nope'")
    run = Store(home).create(RunConfig(dataset=str(binary_dataset), weights="none"))
    refused = cli("resume", run.id, home=home)
    assert_one_line_error(refused, "only interrupted runs can be resumed")


def _tones(root: Path) -> Path:
    """Two classes of short synthetic tones (low, high), four clips each."""
    import numpy as np
    import soundfile

    rng = np.random.default_rng(0)
    t = np.arange(2000) / 8000
    for name, band in (("low", (300, 500)), ("high", (2000, 3000))):
        (root / name).mkdir(parents=True)
        for k in range(4):
            wave = np.sin(2 * np.pi * rng.uniform(*band) * t) + rng.normal(0, 0.2, t.size)
            soundfile.write(root / name / f"{name}_{k}.wav", (0.3 * wave).astype("float32"), 8000)
    return root


@pytest.mark.slow
def test_train_on_an_audio_folder_renders_spectrograms(tmp_path, worker_here):
    tones = _tones(tmp_path / "tones")
    args = ("--weights", "none", "--image-size", "32", "--epochs", "1", "--batch-size", "4")
    result = cli("train", str(tones), *args, home=tmp_path / "h")
    assert result.returncode == 0, result.stderr
    assert "8 audio clips, 2 classes" in result.stdout
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["status"] == "done" and last["epochs_run"] == 1
    run_dir = Path(last["model_path"]).parent
    assert (run_dir / "audio.json").is_file()  # trained on spectrograms, recorded how


def test_inspect_counts_audio_clips(tmp_path):
    tones = _tones(tmp_path / "tones")
    (tones / "low" / "broken.wav").write_bytes(b"RIFF not really")
    result = cli("inspect", str(tones), "--json", home=tmp_path / "h")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["kind"] == "audio" and summary["counts"] == {"high": 4, "low": 4}
    assert [u["file"] for u in summary["unreadable"]] == ["low/broken.wav"]


COMPARE_KEYS = {
    "test_accuracy_mean",
    "test_accuracy_std",
    "test_loss_mean",
    "test_loss_std",
    "seeds",
    "seconds_mean",
    "seconds_per_epoch_mean",
}


def test_compare_prints_a_table_and_ends_with_the_summary_json(
    binary_dataset, tmp_path, capsys, monkeypatch
):
    """In-process, the worker replaced by results written into the store: head leads linear
    by 5-6 points on each of 3 seeds, so the paired test finds the lead larger than noise."""
    from core import cli
    from core.jobs import worker
    from core.runs import store as store_mod
    from core.runs.results import RunResult
    from core.runs.store import Store

    store = Store(tmp_path / "home")
    scores = {("linear", 0): 0.80, ("linear", 1): 0.82, ("linear", 2): 0.85}
    scores |= {("head", s): scores[("linear", s)] + 0.05 + 0.005 * s for s in range(3)}

    def finish(store_, run_id, quiet, on_interrupt=None):
        run = store_.get(run_id)
        store_.update(run_id, status=store_mod.RUNNING, started=run.created)
        accuracy = scores[(run.strategy, run.config.seed)]
        result = RunResult(test_accuracy=accuracy, test_loss=1 - accuracy, val_accuracy=0.99)
        store_.finish(run_id, store_mod.DONE, result=result)

    monkeypatch.setattr(worker, "start_worker", lambda *args, **kwargs: None)
    monkeypatch.setattr(cli.common, "follow", finish)
    argv = ["compare", str(binary_dataset), "--home", str(store.home), "--weights", "none"]
    argv += ["--image-size", "32", "--strategies", "linear,head", "--seeds", "3", "--json"]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    last = json.loads(lines[-1])
    assert set(last) == {"strategies", "best", "significant", "p_value", "statement"}
    assert set(last["strategies"]) == {"linear", "head"}
    assert all(set(row) == COMPARE_KEYS for row in last["strategies"].values())
    head = last["strategies"]["head"]
    values = [scores[("head", s)] for s in range(3)]  # 0.85, 0.875, 0.91
    mean = sum(values) / 3
    assert head["seeds"] == 3 and head["test_accuracy_mean"] == pytest.approx(mean)
    sample_std = (sum((v - mean) ** 2 for v in values) / 2) ** 0.5  # ddof=1 over the 3 seeds
    assert head["test_accuracy_std"] == pytest.approx(sample_std)
    assert last["best"] == "head" and last["significant"] and last["p_value"] < 0.05
    assert last["statement"].startswith("head beats linear by 5.5 points of test accuracy")
    assert any(line.startswith("head ") and "3 of 3" in line for line in lines)
    assert sorted((r.strategy, r.config.seed) for r in store.list()) == sorted(scores)


def test_compare_with_an_unknown_strategy_is_one_line(binary_dataset, tmp_path):
    result = cli("compare", str(binary_dataset), "--strategies", "head,magic", home=tmp_path / "h")
    assert_one_line_error(result, "unknown strategies: magic")


@pytest.mark.slow
def test_compare_with_real_runs_ends_with_json(binary_dataset, tmp_path, worker_here):
    result = cli(
        "compare",
        str(binary_dataset),
        "--strategies",
        "linear",
        "--seeds",
        "2",
        "--weights",
        "none",
        "--image-size",
        "32",
        "--json",
        home=tmp_path / "home",
    )
    assert result.returncode == 0, result.stderr
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["strategies"]["linear"]["seeds"] == 2 and last["best"] == "linear"
    assert last["p_value"] is None and not last["significant"]
    assert "nothing to compare it with" in last["statement"]


def test_inspect_reads_an_unchanged_folder_once_per_home(binary_dataset, tmp_path):
    first = cli("inspect", str(binary_dataset), "--json", home=tmp_path / "h")
    assert (tmp_path / "h" / "cache" / "scan.sqlite3").is_file()
    (binary_dataset / "red" / "red_00.png").write_bytes(b"")  # changed: read again
    again = cli("inspect", str(binary_dataset), "--json", home=tmp_path / "h")
    assert json.loads(first.stdout)["unreadable"] == []
    assert json.loads(again.stdout)["unreadable"] == [
        {"file": "red/red_00.png", "reason": "empty file (0 bytes)"}
    ]


def test_a_long_scan_tells_its_progress_on_stderr():
    import io

    from core.cli.common import ScanLines
    from core.data.datasets import ScanProgress

    stream = io.StringIO()  # not a terminal: a line every LOG_SECONDS
    lines = ScanLines(stream)
    for done, seconds in ((0, 0.0), (10, 0.5), (40, 2.0), (50, 5.0), (90, 12.5), (100, 13.0)):
        lines(ScanProgress(done, 100, 0, seconds))
    assert stream.getvalue().splitlines() == [
        "reading the dataset: 40 of 100 files, about 3 s left",
        "reading the dataset: 90 of 100 files, about 1 s left",
        "reading the dataset: 100 of 100 files",
    ]
    quiet = io.StringIO()
    for done, seconds in ((0, 0.0), (100, 0.8)):  # done within a second: nothing said
        ScanLines(quiet)(ScanProgress(done, 100, 0, seconds))
    assert quiet.getvalue() == ""
