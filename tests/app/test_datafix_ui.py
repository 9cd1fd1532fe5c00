"""The Data page's map: a clicked dot names its file (Streamlit's plotly selection event)."""

from __future__ import annotations

from types import SimpleNamespace

from ui import datafix


def _event(points):
    return SimpleNamespace(selection=SimpleNamespace(points=points))


def test_a_clicked_dot_gives_its_file_and_no_click_gives_none():
    assert datafix._clicked(_event([{"customdata": "red/a.png", "x": 1.0}])) == "red/a.png"
    assert datafix._clicked(_event([{"customdata": ["red/b.png"]}])) == "red/b.png"
    assert datafix._clicked(_event([])) is None
    assert datafix._clicked(None) is None  # the chart reported nothing
