"""ui.common.problem and the page guard: plain words first, the technical detail folded."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page():
    from ui import common

    def broken() -> None:
        raise KeyError("block4_pool")

    common.guarded(broken)


def test_an_unexpected_error_is_plain_words_with_the_detail_folded():
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception
    (error,) = at.error
    assert "Your data and runs are safe" in error.value and "block4_pool" not in error.value
    (detail,) = at.expander
    assert detail.label == "Technical detail"
    assert "KeyError: 'block4_pool'" in detail.get("code")[0].value
