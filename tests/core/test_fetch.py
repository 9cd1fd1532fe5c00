"""core.jobs.fetch: downloads and audio conversion in a child process."""

from __future__ import annotations

from core.jobs import fetch


def test_fetch_sample_failure_comes_back_as_one_line(tmp_path):
    state = fetch.wait(fetch.start_sample("no_such_sample", tmp_path))
    assert state.status == "failed" and "unknown sample" in state.reason


def test_fetch_spectrograms_bad_input_comes_back_as_one_line(tmp_path):
    state = fetch.wait(fetch.start_spectrograms(tmp_path, tmp_path / "cache", tmp_path))
    assert state.status == "failed" and "no audio files" in state.reason


def test_fetch_jobs_report_done_failed_and_timeout_without_blocking(tmp_path):
    import time

    from core.jobs import fetch

    done = fetch._start("sample", ["-c", f"print({str(tmp_path)!r})"], tmp_path, 60)
    failed = fetch._start(
        "sample",
        ["-c", "import sys; print('error: no internet', file=sys.stderr); sys.exit(2)"],
        tmp_path,
        60,
    )
    slow = fetch._start("sample", ["-c", "import time; time.sleep(60)"], tmp_path, 0.5)
    started = time.monotonic()
    assert fetch.poll(slow).status == "running"
    assert time.monotonic() - started < 1.0  # polling never waits for the child
    assert fetch.wait(done).folder == tmp_path
    state = fetch.wait(failed)
    assert (state.status, state.reason) == ("failed", "no internet")
    time.sleep(0.6)
    assert fetch.poll(slow.to_dict()).reason.startswith("gave up after")
    assert not list((tmp_path / "jobs").iterdir())  # output files are cleaned up


def test_fetch_job_of_a_restarted_app_is_reported_lost(tmp_path):
    from dataclasses import replace

    job = fetch._start("sample", ["-c", "print('x')"], tmp_path, 60)
    fetch.wait(job)
    ghost = replace(job, pid=job.pid + 1_000_000)  # not a child of this process
    state = fetch.poll(ghost.to_dict())
    assert state.status == "failed" and "restarted" in state.reason


def _export_child(tmp_path, made, lines: list[str], code: int = 0):
    """A stand-in for `python -m core export`: human lines on stderr, the JSON line last."""
    script = (
        "import json, sys\n"
        f"for line in {lines!r}: print(line, file=sys.stderr)\n"
        f"print(json.dumps({{'path': {str(made)!r}, 'format': 'x'}}))\n"
        f"sys.exit({code})\n"
    )
    return fetch._start(fetch.EXPORT_KIND, ["-c", script], tmp_path, 60)


def test_fetch_export_job_gives_the_file_and_the_summary_lines(tmp_path):
    made = tmp_path / "model_int8.tflite"
    made.write_bytes(b"tflite")
    lines = [f"tflite-int8: {made} (0.1 MB), checked on 8", "int8 1.0 MB vs float 4.0 MB"]
    noise = [  # TensorFlow's C++ logging and Python's warnings, as a real export prints them
        "fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32",
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1795947066.840086   25505 cudart_stub.cc:31] Could not find cuda drivers",
        "E0000 00:00:1795947078.111805   25505 cuda_platform.cc:52] failed call to cuInit",
        "/x/lib/python3.12/site-packages/keras/src/ops.py:12: UserWarning: something",
        "  warnings.warn(",
    ]
    state = fetch.wait(_export_child(tmp_path, made, [noise[0], lines[0], *noise[1:], lines[1]]))
    assert state.status == "done"
    assert state.prepared == fetch.Prepared(made, tuple(lines))


def test_fetch_export_job_of_a_folder_gives_it_zipped(tmp_path):
    import zipfile

    folder = tmp_path / "export" / "saved_model"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"graph")
    (folder / "variables" / "variables.index").write_bytes(b"index")
    state = fetch.wait(_export_child(tmp_path, folder, ["savedmodel: checked"]))
    assert state.prepared.path == tmp_path / "export" / "saved_model.zip"
    with zipfile.ZipFile(state.prepared.path) as archive:
        assert set(archive.namelist()) >= {
            "saved_model/saved_model.pb",
            "saved_model/variables/variables.index",
        }


def test_fetch_export_job_that_fails_gives_the_reason_and_the_technical_text(tmp_path):
    job = fetch._start(
        fetch.EXPORT_KIND,
        [
            "-c",
            "import sys; print('converter said: Traceback-ish detail', file=sys.stderr); "
            "print('error: the onnx conversion failed: ValueError: bad op', file=sys.stderr); "
            "sys.exit(1)",
        ],
        tmp_path,
        60,
    )
    state = fetch.wait(job)
    assert state.status == "failed" and state.prepared is None
    assert state.reason == "the onnx conversion failed: ValueError: bad op"
    assert "Traceback-ish detail" in state.detail


def test_fetch_start_export_runs_the_cli_and_refuses_unknown_choices(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="unknown take-away"):
        fetch.start_export(tmp_path, "run", "pdf")
    assert list(fetch.take_away_choices())[-2:] == ["bundle", "report"]
    # the real commands, on a run that is not there: three children at once, as the page may
    kinds = ("keras", "bundle", "report")
    jobs = {what: fetch.start_export(tmp_path, "nosuchrun", what) for what in kinds}
    for what, job in jobs.items():
        state = fetch.wait(job)
        assert state.status == "failed" and "nosuchrun" in state.reason, (what, state)
