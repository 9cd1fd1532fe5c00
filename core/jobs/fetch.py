"""Work the app hands to a child process so that the app never imports TensorFlow and its
script thread never waits: downloading an online sample (Keras' downloader) and turning audio
clips into spectrograms (tf.signal), and preparing a finished run's model to take away (an
export, the bundle or the HTML report). The child prints the resulting folder on its last stdout
line (a take-away job: the CLI's JSON line), or a one-line reason on stderr.

`start_sample` / `start_spectrograms` / `start_export` return at once with a Job; a page polls
`poll(job)` (from an st.fragment with run_every) until it says done or failed; `wait(job)` blocks
(scripts, tests).

    python -m core.jobs.fetch spectrograms AUDIO_DIR CACHE_ROOT
    python -m core.jobs.fetch report HOME RUN      the run's HTML report, written in its folder
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from core.platform import settings

ROOT = settings.PROJECT_ROOT
SAMPLE_TIMEOUT = 1800.0
SPECTROGRAM_TIMEOUT = 1800.0
EXPORT_TIMEOUT = 3600.0  # int8 calibration and scoring on a slow CPU takes a while
EXPORT_KIND = "export"
REPORT_NAME = "{run_id}-report.html"
# what a run can be taken away as, besides core.export.export.FORMATS (same order as shown)
# what TensorFlow's C++ logging (absl/glog: "I0000 00:00:... file.cc:31] ...") and Python's
# warnings add to a child's stderr: not the CLI's summary
_LOG_NOISE = re.compile(
    r"^([IWEF]\d{4} |WARNING: All log messages before absl|INFO: |warning:|\s)|\.py:\d+: "
)
TAKE_AWAY_EXTRAS = {
    "bundle": "Reproducible bundle (.zip: model, labels, config, manifest, report)",
    "report": "HTML report (one page, opens in any browser)",
}


@dataclass(frozen=True)
class Job:
    """A child process working on a download or a conversion (JSON-able for session state)."""

    kind: str  # "sample" | "spectrograms" | "export"
    pid: int
    stdout: str
    stderr: str
    started: float
    timeout: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Prepared:
    """A take-away file ready to download, with the CLI's human summary lines (the export's
    check; for int8 also size, latency and accuracy next to float's)."""

    path: Path  # a file (a SavedModel folder comes back zipped)
    summary: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobState:
    status: str  # "running" | "done" | "failed"
    folder: Path | None = None
    reason: str | None = None
    seconds: float = 0.0
    detail: str | None = None  # a failed job's whole stderr (the technical text)
    prepared: Prepared | None = None  # a finished export job's file


_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}  # reaped by poll, so no zombie is left behind


def _start(kind: str, args: list[str], home: str | os.PathLike[str], timeout: float) -> Job:
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


def _outcome(kind: str, returncode: int, stdout: str, stderr: str) -> JobState:
    lines = [line for line in stdout.splitlines() if line.strip()]
    errors = [line for line in stderr.splitlines() if line.strip()]
    if returncode == 0 and lines:
        if kind == EXPORT_KIND:
            return _prepared(lines[-1], errors)
        return JobState("done", folder=Path(lines[-1].strip()))
    reason = errors[-1] if errors else f"exit code {returncode}"
    return JobState("failed", reason=reason.removeprefix("error: "), detail=stderr.strip() or None)


def _prepared(json_line: str, errors: list[str]) -> JobState:
    """The one place that reads the JSON line `export`, `bundle` and `report` end with."""
    try:
        path = Path(json.loads(json_line)["path"])
    except (ValueError, KeyError, TypeError) as exc:
        return JobState(
            "failed", reason="the export ended without saying where its file is", detail=str(exc)
        )
    summary = _summary(errors, str(path))
    if path.is_dir():  # a SavedModel is a folder: one download is one file
        path = _zipped(path)
    return JobState("done", folder=path.parent, prepared=Prepared(path, summary))


def _summary(errors: list[str], path: str) -> tuple[str, ...]:
    """The CLI's own lines: it prints them last, starting with the one that names the file
    (before it, the converters' own chatter); log lines are dropped either way."""
    start = next((k for k, line in enumerate(errors) if path in line), 0)
    return tuple(line for line in errors[start:] if not _LOG_NOISE.search(line))


def _zipped(folder: Path) -> Path:
    """folder.zip next to it, holding the folder (stored: weights do not compress)."""
    from core.platform.fileio import write_atomically

    target = folder.with_name(folder.name + ".zip")

    def write_zip(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for path in sorted(folder.rglob("*")):
                archive.write(path, path.relative_to(folder.parent).as_posix())

    write_atomically(target, write_zip, suffix=".zip")
    return target


def poll(job: Job | dict[str, Any]) -> JobState:
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
        state = _outcome(
            job.kind, returncode, Path(job.stdout).read_text(), Path(job.stderr).read_text()
        )
    _CHILDREN.pop(job.pid, None)
    for path in (job.stdout, job.stderr):
        Path(path).unlink(missing_ok=True)
    return replace(state, seconds=seconds)


def start_sample(name: str, home: str | os.PathLike[str], per_class: int | None = None) -> Job:
    """core.data.samples.prepare(name, per_class=...) in a child process (None: every image)."""
    cap = [] if per_class is None else ["--per-class", str(per_class)]
    return _start(
        "sample", ["-m", "core", "--home", str(home), "sample", name, *cap], home, SAMPLE_TIMEOUT
    )


def start_spectrograms(
    audio_dir: str | os.PathLike[str],
    cache_root: str | os.PathLike[str],
    home: str | os.PathLike[str],
) -> Job:
    """core.data.audio.spectrogram_dataset(audio_dir, defaults, cache_root) in a child process."""
    return _start(
        "spectrograms",
        ["-m", "core.jobs.fetch", "spectrograms", str(audio_dir), str(cache_root)],
        home,
        SPECTROGRAM_TIMEOUT,
    )


def take_away_choices() -> dict[str, str]:
    """What a run can be taken away as -> its title (export formats, the bundle, the report)."""
    from core.export.export import FORMATS

    titles = {name: fmt.title for name, fmt in FORMATS.items()}
    titles["savedmodel"] += " (the folder, zipped)"
    return {**titles, **TAKE_AWAY_EXTRAS}


def missing_runtime(what: str) -> str | None:
    """Why `what` cannot be prepared here (a package is missing), or None. The bundle and the
    report load the model with Keras, as the keras export does."""
    from core.export import export

    return export.missing_runtime(what if what in export.FORMATS else "keras")


def start_export(home: str | os.PathLike[str], run_id: str, what: str) -> Job:
    """`python -m core export|bundle` (or this module's `report`) for one run, in a child
    process; poll() gives a JobState whose `prepared` is the file to download."""
    if what == "bundle":
        args = ["-m", "core", "--home", str(home), "bundle", run_id]
    elif what == "report":
        args = ["-m", "core.jobs.fetch", "report", str(home), run_id]
    elif what in take_away_choices():
        args = ["-m", "core", "--home", str(home), "export", run_id, "--format", what]
    else:
        raise ValueError(f"unknown take-away {what!r} (choose {', '.join(take_away_choices())})")
    return _start(EXPORT_KIND, args, home, EXPORT_TIMEOUT)


def wait(job: Job, interval: float = 0.2) -> JobState:
    while (state := poll(job)).status == "running":
        time.sleep(interval)
    return state


def _report(home: str, run_ref: str) -> int:
    """Write the run's HTML report in its folder; stderr says so, stdout ends with JSON (as
    `python -m core bundle` does). Not a `python -m core` command: the app's own plumbing."""
    from core.export import bundle
    from core.platform.fileio import write_atomically
    from core.runs.store import Store

    store = Store(home)
    try:
        html = bundle.report(store, run_ref)
    except bundle.BundleRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run = store.find(run_ref)
    assert run is not None  # bundle.report found it
    target = store.run_dir(run.id) / REPORT_NAME.format(run_id=run.id)
    write_atomically(target, lambda tmp: Path(tmp).write_text(html), suffix=".html")
    print(f"{target}: the run's report, {target.stat().st_size / 1e6:.1f} MB", file=sys.stderr)
    print(json.dumps({"path": str(target)}))
    return 0


def _main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "report":
        return _report(argv[1], argv[2])
    if len(argv) != 3 or argv[0] != "spectrograms":
        print(
            "error: usage: python -m core.jobs.fetch spectrograms AUDIO_DIR CACHE_ROOT | "
            "report HOME RUN",
            file=sys.stderr,
        )
        return 2
    from core.data import audio
    from core.data.datasets import DatasetError

    try:
        print(audio.spectrogram_dataset(argv[1], None, argv[2]))
    except (DatasetError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
