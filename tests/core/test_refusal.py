"""One vocabulary for "no": every exception class of core/ that refuses something to a person
is a core.platform.refusal.Refusal and keeps its built-in base, so `except ValueError` still
catches it; control flow inside a run (a stop, an interrupted fit) is not a refusal."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import pytest

from core.data import archive, datasets, imaging, keras_datasets, session
from core.export import bundle, export
from core.jobs import engines, runs
from core.model import weights
from core.platform.refusal import Refusal

ROOT = Path(__file__).resolve().parents[2]
# exceptions that steer a run's own control flow: caught inside core, never shown to a person
INTERNAL = {"FitInterrupted", "ExtractionStopped"}
SKIPPED = INTERNAL | {"Refusal"}  # the base itself
BUILTIN_EXCEPTIONS = {
    name
    for name in dir(builtins)
    if isinstance(getattr(builtins, name), type) and issubclass(getattr(builtins, name), Exception)
}


def exception_classes_not_refusals(root: Path) -> list[str]:
    """'module.py:Class' for each class of core/ (the CLI aside: it has its own handler) whose
    bases name a built-in exception but not Refusal, other than the INTERNAL ones."""
    out = []
    for path in sorted((root / "core").rglob("*.py")):
        if "cli" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef) or node.name in SKIPPED:
                continue
            bases = {ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases}
            if bases & BUILTIN_EXCEPTIONS and "Refusal" not in bases:
                out.append(f"{path.relative_to(root)}:{node.name}")
    return out


def test_every_exception_that_says_no_is_a_refusal():
    assert exception_classes_not_refusals(ROOT) == []


def test_the_scan_sees_a_plain_exception(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "x.py").write_text(
        "class Bad(ValueError): ...\nclass Good(Refusal, ValueError): ...\n"
        "class FitInterrupted(Exception): ...\nclass Plain: ...\n"
    )
    assert exception_classes_not_refusals(tmp_path) == ["core/x.py:Bad"]


@pytest.mark.parametrize(
    "refusal, builtin",
    [
        (weights.WeightsError, RuntimeError),
        (engines.EngineUnavailable, ValueError),
        (export.ExportRefused, ValueError),
        (bundle.BundleRefused, ValueError),
        (datasets.DatasetError, ValueError),
        (imaging.UnreadableImage, ValueError),
        (keras_datasets.SampleUnavailable, RuntimeError),
        (archive.NotAZip, ValueError),
        (session.UploadsFull, ValueError),
    ],
)
def test_a_refusal_is_still_caught_as_its_builtin_base(refusal, builtin):
    with pytest.raises(builtin) as caught:
        raise refusal("the sentence for the person")
    assert isinstance(caught.value, Refusal)
    assert caught.value.words == "the sentence for the person"


def test_a_refused_start_is_a_refusal_with_its_reason_and_busy_flag():
    refused = runs.Refused("A run is already under way.", busy=True)
    assert isinstance(refused, Refusal)
    assert (refused.reason, refused.words, refused.busy) == (
        "A run is already under way.",
        "A run is already under way.",
        True,
    )
    assert not runs.Refused("wrong settings").busy
