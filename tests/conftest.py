"""Shared fixtures: tiny synthetic image datasets in temp folders, a temporary studio home, one
tiny finished run for the tests that only read one, and the end of every worker a test started."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from synthetic import write_colour_dataset

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Many tests import TensorFlow directly; the page tests then import the Live tab's WebRTC stack,
# whose pylibsrtp crashes when first loaded after TensorFlow (the app loads it first through
# ui.model_loader.before_tensorflow; this process needs the same order).
from ui.model_loader import before_tensorflow  # noqa: E402

before_tensorflow()


@pytest.fixture
def binary_dataset(tmp_path) -> Path:
    return write_colour_dataset(tmp_path / "binary", ("red", "blue"))


@pytest.fixture
def three_class_dataset(tmp_path) -> Path:
    return write_colour_dataset(tmp_path / "three", ("red", "green", "blue"))


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("STUDIO_HOME", str(folder))
    return folder


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """One tiny finished run (tests/tiny_run.py) for the whole session: only for tests that read
    it (export, bundle, reproduce), never change it."""
    from tiny_run import tiny_run

    store, run = tiny_run(tmp_path_factory.mktemp("finished-run"))
    assert run.status == "done", run.error
    return store, run


# -- workers started by a test end with it ------------------------------------------------------
def _workers_under(folder: Path) -> list[int]:
    """Pids of studio workers (`python -m core --home H worker`, Ray drivers too) whose home is
    inside `folder`: started by tests, directly, through the CLI or through a Streamlit server."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "core" not in argv or "worker" not in argv or "--home" not in argv:
            continue
        home = argv[argv.index("--home") + 1] if argv.index("--home") + 1 < len(argv) else ""
        if home and Path(home).resolve().is_relative_to(folder.resolve()):
            found.append(int(entry.name))
    return found


def end_workers_under(folder: Path, grace: float = 10.0) -> None:
    """SIGTERM each worker of a home inside `folder` (SIGKILL after `grace` seconds): a worker
    otherwise idles on for two minutes, holding a TensorFlow process' memory."""
    pids = _workers_under(folder)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + grace
    while pids and time.time() < deadline:
        pids = [pid for pid in pids if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
        time.sleep(0.1)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] in ("Z", "X")
    except OSError:
        return True


@pytest.fixture(autouse=True)
def _end_the_tests_workers(request):
    """After each test that has a tmp_path: end the workers of homes inside it."""
    yield
    tmp_path = (request.node.funcargs or {}).get("tmp_path")
    if tmp_path is not None:
        end_workers_under(tmp_path)


@pytest.fixture(autouse=True, scope="session")
def _end_the_sessions_workers(tmp_path_factory):
    """At the end of the session: the workers of module- and session-scoped homes too."""
    yield
    end_workers_under(tmp_path_factory.getbasetemp())
