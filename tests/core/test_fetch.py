"""core.fetch: downloads and audio conversion in a child process."""

from __future__ import annotations

from core import fetch


def test_fetch_sample_failure_comes_back_as_one_line(tmp_path):
    state = fetch.wait(fetch.start_sample("no_such_sample", tmp_path))
    assert state.status == "failed" and "unknown sample" in state.reason


def test_fetch_spectrograms_bad_input_comes_back_as_one_line(tmp_path):
    state = fetch.wait(fetch.start_spectrograms(tmp_path, tmp_path / "cache", tmp_path))
    assert state.status == "failed" and "no audio files" in state.reason


def test_fetch_jobs_report_done_failed_and_timeout_without_blocking(tmp_path):
    import time

    from core import fetch

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
