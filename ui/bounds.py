"""The range of a number widget that sets a run setting: RunConfig's bounds, never its own.

    st.number_input("Epochs", **bounds.of("epochs"), **session_keys.kept("epochs", ...))

tests/app/test_widget_bounds.py fails when a page draws a run setting with bounds of its own.
"""

from __future__ import annotations

from core.runs.config import RunConfig


def of(name: str) -> dict:
    """min_value and max_value for the widget of RunConfig setting `name` (None: no maximum)."""
    bounds = RunConfig.bounds(name)
    return {"min_value": bounds.low, "max_value": bounds.high}
