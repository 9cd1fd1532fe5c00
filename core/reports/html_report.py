"""One self-contained HTML page per run, to share: dataset, strategy, curves, confusion matrix,
per-class metrics, the most confidently wrong images and the versions used.

Opens without a network: plotly.js is embedded once, images are inline base64 thumbnails.
Everything that comes from users (class names, file names, paths) is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.data.imaging import UnreadableImage, load_pil_rgb
from core.model.device_facts import DeviceUse
from core.reports import charts
from core.runs import advisor, strategies
from core.runs.config import RunConfig
from core.runs.results import EpochRecord

WRONG_SHOWN = 6
THUMBNAIL_PX = 128
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.wrong { display: flex; flex-wrap: wrap; gap: 1em; }
.wrong figure { margin: 0; width: 140px; font-size: 0.85em; }
.wrong img { width: 128px; height: 128px; object-fit: contain; background: #eee; }
"""


@dataclass(frozen=True)
class ReportInput:
    """What the page shows, read from a run's files (core.export.bundle gathers it)."""

    run_id: str
    config: RunConfig
    result: Mapping[str, Any]
    history: Sequence[EpochRecord]
    manifest: Mapping[str, Any]  # runfiles.hashed_manifest
    fingerprint: str
    versions: Mapping[str, str]


def _e(value: object) -> str:
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{cell:.3f}</td>' if isinstance(cell, float) else f"<td>{_e(cell)}</td>"
            for cell in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _dataset(data: ReportInput) -> str:
    per_split = Counter((e["label"], e["split"]) for e in data.manifest["files"].values())
    sides = ["train", "validation"] + (["test"] if any(s == "test" for _, s in per_split) else [])
    rows = [
        (name, *(per_split[(name, side)] for side in sides)) for name in data.manifest["classes"]
    ]
    header = ("class", "training images", *(f"{side} images" for side in sides[1:]))
    return (
        "<h2>Dataset</h2>"
        f"<p>{_e(data.config.dataset)}: {len(data.manifest['files'])} images in "
        f"{len(rows)} classes. Fingerprint <code>{_e(data.fingerprint[:16])}</code> "
        "(names, sides, classes and contents of every file).</p>" + _table(header, rows)
    )


def _strategy(data: ReportInput) -> str:
    config = data.config
    spec = strategies.STRATEGIES.get(config.strategy)
    result = data.result
    settings = [
        ("strategy", spec.title if spec else config.strategy),
        ("weights", result.get("weights", config.weights)),
        ("image size", f"{config.image_size} px"),
        *(
            [("classifier", advisor.closed_form_words(config.layer))]
            if spec and spec.closed_form
            else [
                ("epochs (head, fine-tuning)", f"{config.epochs}, {config.finetune_epochs}"),
                ("epochs run", result.get("epochs_run", "-")),
            ]
        ),
        ("batch size", config.batch_size),
        ("augmentation", config.augment_kind if config.augment else "none"),
        ("seed", config.seed),
        ("device", _device(result)),
        *_scores(result),
    ]
    about = f"<p>{_e(spec.plain)}</p>" if spec else ""
    caution = f"<p><b>Caution:</b> {_e(result['caution'])}</p>" if result.get("caution") else ""
    return "<h2>Strategy</h2>" + about + _table(("setting", "value"), settings) + caution


def _device(result: Mapping[str, Any]) -> str:
    """What the worker measured the run on ('-' for a run recorded before it did)."""
    use = DeviceUse.from_json(result.get("device"))
    return use.summary if use else "-"


def _scores(result: Mapping[str, Any]) -> list[tuple[str, object]]:
    """Test accuracy (the reported score) with its 95% interval when the run has a test side;
    validation figures always, named as such."""
    rows: list[tuple[str, object]] = []
    if result.get("test_accuracy") is not None:
        low, high = result.get("test_interval") or (None, None)
        rows += [
            ("test accuracy", result["test_accuracy"]),
            ("test accuracy, 95% interval", f"{low:.1%} to {high:.1%}" if low is not None else "-"),
            ("test log loss", result.get("test_loss", "-")),
            ("test images", result.get("test_images", "-")),
        ]
    return rows + [
        ("validation accuracy (chose the epoch kept)", result.get("val_accuracy", "-")),
        ("validation log loss", result.get("val_loss", "-")),
    ]


def _side(result: Mapping[str, Any]) -> str:
    """The side per-class figures, confusion matrix and most-wrong images describe."""
    return str(result.get("evaluated_on", "validation"))


def _per_class(result: Mapping[str, Any]) -> str:
    rows = [
        (r["class"], float(r["precision"]), float(r["recall"]), float(r["f1"]), r["support"])
        for r in result.get("per_class", [])
    ]
    return f"<h2>Per-class metrics ({_e(_side(result))} images)</h2>" + _table(
        ("class", "precision", "recall", "F1", f"{_side(result)} images"), rows
    )


def thumbnail(path: str | Path) -> str | None:
    """A PNG data URI of the image, at most THUMBNAIL_PX on a side (None: unreadable now)."""
    try:
        image = load_pil_rgb(path)
    except (UnreadableImage, OSError):
        return None
    image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _most_wrong(result: Mapping[str, Any]) -> str:
    figures = []
    for wrong in result.get("most_wrong", [])[:WRONG_SHOWN]:
        uri = thumbnail(wrong["file"])
        picture = f'<img src="{uri}" alt="">' if uri else "<p>(file not found any more)</p>"
        figures.append(
            f"<figure>{picture}<figcaption>{_e(Path(wrong['file']).name)}<br>"
            f"true <b>{_e(wrong['true'])}</b>, predicted <b>{_e(wrong['predicted'])}</b> "
            f"({float(wrong['confidence']):.0%})</figcaption></figure>"
        )
    side = _e(_side(result))
    body = "".join(figures) or f"<p>No {side} image was misclassified.</p>"
    return f'<h2>Most confidently wrong ({side} images)</h2><div class="wrong">{body}</div>'


def render(data: ReportInput) -> str:
    """The whole page, as one string of HTML."""
    curves = charts.training_curves(list(data.history))
    plots = [curves.to_html(full_html=False, include_plotlyjs=True)]
    if matrix := data.result.get("confusion_matrix"):
        figure = charts.confusion_matrix(matrix, data.result.get("classes", []), _side(data.result))
        plots.append(figure.to_html(full_html=False, include_plotlyjs=False))
    versions = _table(("library", "version"), sorted(data.versions.items()))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>VGG16 studio run {_e(data.run_id)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Run {_e(data.run_id)}</h1>"
        + _dataset(data)
        + _strategy(data)
        + "<h2>Training and evaluation</h2>"
        + "".join(plots)
        + _per_class(data.result)
        + _most_wrong(data.result)
        + "<h2>Versions</h2>"
        + versions
        + "</body></html>"
    )
