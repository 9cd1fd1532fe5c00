"""Work the app hands to a child process so that the app never imports TensorFlow and its
script thread never waits: downloading an online sample (Keras' downloader) and turning audio
clips into spectrograms (tf.signal). The child prints the resulting folder on its last stdout
line, or a one-line reason on stderr.

`start_sample` / `start_spectrograms` return at once with a Job; a page polls `poll(job)` (from
an st.fragment with run_every) until it says done or failed; `wait(job)` blocks (scripts, tests).

    python -m core.fetch spectrograms AUDIO_DIR CACHE_ROOT
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_TIMEOUT = 1800.0
SPECTROGRAM_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Job:
    """A child process working on a download or a conversion (JSON-able for session state)."""

    kind: str  # "sample" | "spectrograms"
    pid: int
    stdout: str
    stderr: str
    started: float
    timeout: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class JobState:
    status: str  # "running" | "done" | "failed"
    folder: Path | None = None
    reason: str | None = None
    seconds: float = 0.0


_CHILDREN: dict[int, subprocess.Popen] = {}  # reaped by poll, so no zombie is left behind


def _start(kind: str, args: list[str], home: str | os.PathLike, timeout: float) -> Job:
    jobs = Path(home) / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex[:12]
    out, err = jobs / f"{name}.out", jobs / f"{name}.err"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with open(out, "w") as stdout, open(err, "w") as stderr:
        child = subprocess.Popen(
            [sys.executable, *args],
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            cwd=str(ROOT),
            env=env,
            start_new_session=True,
        )
    _CHILDREN[child.pid] = child
    return Job(kind, child.pid, str(out), str(err), time.time(), timeout)


def _outcome(returncode: int, stdout: str, stderr: str) -> JobState:
    lines = [line for line in stdout.splitlines() if line.strip()]
    if returncode == 0 and lines:
        return JobState("done", folder=Path(lines[-1].strip()))
    errors = [line for line in stderr.splitlines() if line.strip()]
    reason = errors[-1] if errors else f"exit code {returncode}"
    return JobState("failed", reason=reason.removeprefix("error: "))


def poll(job: Job | dict) -> JobState:
    """Where a job stands; never blocks."""
    job = Job(**job) if isinstance(job, dict) else job
    seconds = time.time() - job.started
    child = _CHILDREN.get(job.pid)
    if child is None:  # started by another process (the app was restarted): gone means lost
        return JobState(
            "failed", reason="the app restarted while this was running; try again", seconds=seconds
        )
    returncode = child.poll()
    if returncode is None and seconds <= job.timeout:
        return JobState("running", seconds=seconds)
    if returncode is None:
        child.kill()
        child.wait()
        state = JobState("failed", reason=f"gave up after {job.timeout:.0f} s")
    else:
        state = _outcome(returncode, Path(job.stdout).read_text(), Path(job.stderr).read_text())
    _CHILDREN.pop(job.pid, None)
    for path in (job.stdout, job.stderr):
        Path(path).unlink(missing_ok=True)
    return JobState(state.status, state.folder, state.reason, seconds)


def start_sample(name: str, home: str | os.PathLike, per_class: int | None = None) -> Job:
    """core.samples.prepare(name, per_class=...) in a child process (None: every image)."""
    cap = [] if per_class is None else ["--per-class", str(per_class)]
    return _start(
        "sample", ["-m", "core", "--home", str(home), "sample", name, *cap], home, SAMPLE_TIMEOUT
    )


def start_spectrograms(
    audio_dir: str | os.PathLike, cache_root: str | os.PathLike, home: str | os.PathLike
) -> Job:
    """core.audio.spectrogram_dataset(audio_dir, defaults, cache_root) in a child process."""
    return _start(
        "spectrograms",
        ["-m", "core.fetch", "spectrograms", str(audio_dir), str(cache_root)],
        home,
        SPECTROGRAM_TIMEOUT,
    )


def wait(job: Job, interval: float = 0.2) -> JobState:
    while (state := poll(job)).status == "running":
        time.sleep(interval)
    return state


def _main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "spectrograms":
        print(
            "error: usage: python -m core.fetch spectrograms AUDIO_DIR CACHE_ROOT", file=sys.stderr
        )
        return 2
    from core import audio
    from core.datasets import DatasetError

    try:
        print(audio.spectrogram_dataset(argv[1], None, argv[2]))
    except (DatasetError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
