"""AppTest helpers shared by the page tests (tests/pages/): open a page with session state,
read its charts and messages, and write runs into the store directly (so no page test trains,
starts a worker or imports TensorFlow)."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.store import Store

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "app_pages"
TIMEOUT = 60
CLASSES = [f"digit_{k}" for k in range(10)]


def page(name: str, **state) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    return at


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def chart_titled(at: AppTest, title: str) -> dict:
    for spec in plotly_specs(at):
        if spec["layout"].get("title", {}).get("text") == title:
            return spec
    raise AssertionError(
        f"no chart titled {title!r}; have "
        f"{[s['layout'].get('title', {}).get('text') for s in plotly_specs(at)]}"
    )


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def result_dict(strategy: str, accuracy: float, loss: float, seconds: float) -> dict:
    """A result as core.train.training._finish writes it (keys of evaluation() and _finish)."""
    classes = CLASSES[:3]
    return {
        "val_accuracy": accuracy,
        "val_loss": loss,
        "per_class": [
            {"class": c, "precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 10}
            for c in classes
        ],
        "confusion_matrix": [[8, 1, 1], [0, 9, 1], [1, 0, 9]],
        "epochs_run": 3,
        "train_seconds": seconds,
        "strategy": strategy,
        "classes": classes,
        "train_images": 120,
        "validation_images": 30,
        "weights": "ImageNet",
        "pretrained": True,
        "class_weights": None,
        "most_wrong": [],
        "feature_cache": {"hits": 0, "misses": 1},
    }


def finished_run(
    store: Store,
    dataset: Path,
    strategy: str = "head",
    accuracy: float = 0.9,
    loss: float = 0.3,
    seconds: float = 42.0,
    group_id: str | None = None,
    status: str = store_mod.DONE,
    most_wrong: list | None = None,
    error: str | None = None,
    test: dict | None = None,
):
    config = RunConfig(
        dataset=str(dataset), strategy=strategy, image_size=48, epochs=3, weights="none"
    )
    run = store.create(config, group_id=group_id)
    store.update(run.id, status=store_mod.RUNNING, started=run.created)
    for epoch in (1, 2, 3):
        store.add_metric(
            run.id,
            "epoch",
            "head",
            epoch,
            4,
            {
                "accuracy": 0.5 + 0.1 * epoch,
                "val_accuracy": accuracy - 0.1 * (3 - epoch),
                "loss": 1.0 / epoch,
                "val_loss": loss + 0.1 * (3 - epoch),
            },
        )
    result = result_dict(strategy, accuracy, loss, seconds)
    if most_wrong is not None:
        result["most_wrong"] = most_wrong
    if test is not None:  # test_accuracy, test_interval, caution...: scored on a test side
        result.update({"evaluated_on": "test", "test_images": 30, "test_loss": loss, **test})
    store.finish(
        run.id,
        status,
        error=error,
        result=result,
        progress={"stage": "finished", "message": status},
    )
    return store.get(run.id)


def queued_run(store: Store, dataset: Path, task: str = "train"):
    config = RunConfig(
        dataset=str(dataset), strategy="head", image_size=48, weights="none", task=task
    )
    return store.create(config)


# "Continue without pretrained weights" clicked (the Train page's WITHOUT_PRETRAINED): its
# Start waits for that choice on a machine without weights, as the tests' machine is
WITHOUT_WEIGHTS = {"without_pretrained": True}

HOSTILE_NAMES = ("**x**", "[click](javascript:alert(1))")  # user text that looks like markup


def _elements(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _elements(child)


def rendered_markdown(at: AppTest) -> list[str]:
    """Every text the page hands Streamlit as Markdown: message and caption bodies, widget
    and expander labels, image captions (not chart specs, tables or select options, which
    are shown as plain text)."""
    texts = []
    for element in _elements(at._tree):
        proto = getattr(element, "proto", None)
        if proto is None:
            continue
        fields = proto.DESCRIPTOR.fields_by_name
        texts += [getattr(proto, name) for name in ("body", "label") if name in fields]
        if "expandable" in fields:
            texts.append(proto.expandable.label)
        if "imgs" in fields:
            texts += [image.caption for image in proto.imgs]
    return [t for t in texts if t]


def assert_shown_escaped(at: AppTest, *names: str) -> None:
    """Each hostile name appears escaped (as ui.messages.md makes it) and never as raw markup."""
    from ui.messages import md

    shown = "\n".join(rendered_markdown(at))
    assert "](javascript:" not in shown and "**x**" not in shown, shown
    for name in names:
        assert md(name) in shown, (name, shown)
