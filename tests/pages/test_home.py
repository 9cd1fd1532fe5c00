"""The Start here page (app_pages/0_home.py)."""

from __future__ import annotations

from pathlib import Path

from apptesting import (
    no_exceptions,
    page,
    texts,
)

from ui import session_keys


def test_home_use_the_sample_dataset(store):
    at = page("0_home.py").run()
    at.button(key="home_use_sample").click().run()
    no_exceptions(at)
    assert Path(at.session_state[session_keys.DATASET]).name == "digits-50"
    assert "sample is ready" in texts(at.success)
