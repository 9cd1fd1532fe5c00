"""The pages read top to bottom: each app_pages/ file stays short (its sections live in ui/
modules), and no function in app_pages/ or ui/ grows into a page of its own. Read from the
source (ast), so a page or a function that outgrows its shape fails here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_PAGE_LINES = 220
MAX_FUNCTION_LINES = 60


def long_pages(root: Path) -> list[tuple[str, int]]:
    """(file, lines) of each page file over MAX_PAGE_LINES."""
    found = []
    for path in sorted((root / "app_pages").glob("*.py")):
        lines = len(path.read_text().splitlines())
        if lines > MAX_PAGE_LINES:
            found.append((path.name, lines))
    return found


def long_functions(root: Path) -> list[tuple[str, str, int]]:
    """(file, function, lines) of each function in app_pages/ or ui/ over MAX_FUNCTION_LINES,
    counted from its first decorator to its last line."""
    found = []
    for path in sorted([*(root / "app_pages").glob("*.py"), *(root / "ui").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = node.end_lineno - start + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append((f"{path.parent.name}/{path.name}", node.name, lines))
    return found


def test_every_page_file_stays_short():
    pages = sorted((ROOT / "app_pages").glob("*.py"))
    assert len(pages) >= 7  # the scan sees the pages
    assert long_pages(ROOT) == [], "move a section of the page into a ui/ module"


def test_no_function_in_the_pages_or_ui_grows_long():
    assert long_functions(ROOT) == [], "split the function"


def test_the_checks_catch_a_long_page_and_a_long_function(tmp_path):
    (tmp_path / "app_pages").mkdir()
    (tmp_path / "ui").mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "ui" / "section.py").write_text(f"@decorated\ndef draw():\n{body}")
    (tmp_path / "app_pages" / "9_page.py").write_text("x = 1\n" * (MAX_PAGE_LINES + 1))
    assert long_pages(tmp_path) == [("9_page.py", MAX_PAGE_LINES + 1)]
    assert long_functions(tmp_path) == [("ui/section.py", "draw", MAX_FUNCTION_LINES + 2)]
