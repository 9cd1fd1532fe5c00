"""ui.messages: markdown escaping of user text."""

from __future__ import annotations

from pathlib import Path


def test_markdown_escaping_of_user_text():
    from ui import messages

    assert messages.md("**bold** [x](javascript:alert(1)) :red[hi]") == (
        "\\*\\*bold\\*\\* \\[x\\]\\(javascript\\:alert\\(1\\)\\) \\:red\\[hi\\]"
    )
    assert messages.md(Path("a_b")) == "a\\_b"
