"""Fixtures of the page tests: a fresh studio home per test (no worker process is ever
started) and the built-in digits sample. Helpers live in tests/apptesting.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.data import samples
from core.jobs import worker
from core.model import weights_file
from core.runs.store import Store
from ui import scanning


@pytest.fixture(autouse=True)
def studio(tmp_path, monkeypatch) -> Path:
    """A fresh studio home; no worker process is ever started."""
    home = tmp_path / "home"
    monkeypatch.setenv("STUDIO_HOME", str(home))
    monkeypatch.delenv("VGG16_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no ImageNet file cached
    monkeypatch.setattr(weights_file, "download_reachable", lambda timeout=3.0: False)  # offline
    monkeypatch.setattr(worker, "start_worker", lambda *args, **kwargs: None)
    # a page waits for its (small) dataset's scan before drawing, however loaded the test
    # machine is; the background scan's own test shortens this
    monkeypatch.setattr(scanning, "QUICK_SECONDS", 60.0)
    return home


@pytest.fixture
def store(studio) -> Store:
    return Store(studio)


@pytest.fixture(scope="session")
def digits_source(tmp_path_factory) -> Path:
    """The built-in sample, written once for the whole session."""
    return samples.prepare("digits", tmp_path_factory.mktemp("samples-home"))


@pytest.fixture
def digits(studio, digits_source) -> Path:
    """The built-in sample inside this test's home (as 'Use the sample dataset' makes it)."""
    target = studio / "samples" / digits_source.name
    shutil.copytree(digits_source, target)
    return target
