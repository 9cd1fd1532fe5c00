"""Every number widget of a run setting takes its range from RunConfig (ui.bounds.of), so the
pages can never offer a value RunConfig refuses, nor hide one it accepts (epochs stopped at 500
on Train and 200 on Compare while RunConfig allowed 1000; the seed at 2**31-1, not 2**32-1).

Read from the source (ast): a number_input or slider in app_pages/ or ui/ either spreads
`**bounds.of("<setting>")` for a setting RunConfig bounds, or is one of the few widgets that set
no run setting (listed below by label), so a run setting given bounds by hand fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.runs.config import BOUNDS, RunConfig
from ui import bounds

ROOT = Path(__file__).resolve().parents[2]
NUMBER_WIDGETS = {"number_input", "slider"}
# widgets that set no RunConfig setting, by label: their ranges are their own
NOT_RUN_SETTINGS = {
    "Training pictures per class (the test side keeps the official test share)",  # a download
    "Seeds per strategy",  # a comparison's, core.jobs.runs.MAX_SEEDS
    "Frames per second",  # a webcam recording's
    "At most this many frames",
    "Similarity threshold",  # the Data page's near-duplicate pairs shown
    "Classify at most this many frames a second",  # the Live tab's share of the CPU
}


def _label(call: ast.Call) -> str:
    first = call.args[0] if call.args else None
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    if isinstance(first, ast.JoinedStr | ast.BinOp):
        return ast.unparse(first)
    return "?"


def _bounds_setting(call: ast.Call, constants: dict[str, str]) -> str | None:
    """The setting named by a `**bounds.of(...)` argument of the call, or None."""
    for keyword in call.keywords:
        value = keyword.value
        if (
            keyword.arg is None
            and isinstance(value, ast.Call)
            and ast.unparse(value.func) == "bounds.of"
            and value.args
        ):
            name = value.args[0]
            if isinstance(name, ast.Constant):
                return name.value
            if isinstance(name, ast.Name):
                return constants.get(name.id, name.id)
            if isinstance(name, ast.Attribute):  # session_keys.UNFREEZE
                return constants.get(name.attr, name.attr)
    return None


def _module_constants(tree: ast.Module) -> dict[str, str]:
    """NAME = "text" at module level (the pages name their settings' keys so)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    out[target.id] = node.value.value
    return out


def number_widgets(root: Path) -> list[tuple[str, str, str | None, bool]]:
    """(file, label, the setting its bounds come from or None, has its own min/max) for every
    number_input and slider call under app_pages/ and ui/."""
    found = []
    for path in sorted([*(root / "app_pages").glob("*.py"), *(root / "ui").glob("*.py")]):
        tree = ast.parse(path.read_text())
        constants = _module_constants(tree)
        # the settings modules' names too (ui.session_keys.UNFREEZE, ui.train_settings.PATIENCE)
        for other in ("session_keys.py", "train_settings.py"):
            constants |= _module_constants(ast.parse((root / "ui" / other).read_text()))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in NUMBER_WIDGETS:
                continue
            own = len(node.args) > 1 or any(
                k.arg in ("min_value", "max_value") for k in node.keywords
            )
            found.append(
                (path.name, _label(node), _bounds_setting(node, constants), own),
            )
    return found


def test_every_number_widget_of_a_run_setting_reads_runconfigs_bounds():
    widgets = number_widgets(ROOT)
    assert len(widgets) >= 10  # the scan sees the pages' widgets
    hand_made = [
        (file, label)
        for file, label, setting, own in widgets
        if setting is None and label not in NOT_RUN_SETTINGS
    ]
    assert hand_made == [], "give these RunConfig's bounds: **bounds.of('<setting>')"
    named = [setting for _, _, setting, _ in widgets if setting is not None]
    assert set(named) <= set(BOUNDS), f"no RunConfig bounds for {set(named) - set(BOUNDS)}"
    assert {"epochs", "finetune_epochs", "seed", "image_size"} <= set(named)
    both = [(file, label) for file, label, setting, own in widgets if setting and own]
    assert both == [], "a widget with RunConfig's bounds and its own too"


def test_the_scan_catches_a_hand_written_bound(tmp_path):
    for folder in ("app_pages", "ui"):
        (tmp_path / folder).mkdir()
    for name in ("session_keys.py", "train_settings.py"):
        (tmp_path / "ui" / name).write_text("PATIENCE = 'early_stopping_patience'\n")
    (tmp_path / "app_pages" / "9_page.py").write_text(
        "import streamlit as st\n"
        "st.number_input('Epochs', 1, 500)\n"
        "st.slider('Patience', **bounds.of(PATIENCE))\n"
    )
    assert number_widgets(tmp_path) == [
        ("9_page.py", "Epochs", None, True),
        ("9_page.py", "Patience", "early_stopping_patience", False),
    ]


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_bounds_of_gives_runconfigs_range(name):
    wanted = RunConfig.bounds(name)
    assert bounds.of(name) == {"min_value": wanted.low, "max_value": wanted.high}
