"""The sidebar on every page: device, weights, current dataset and run."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.model import device_facts
from core.model.backbone import keras_cache_location
from core.model.weights import WeightsSpec
from core.reports import report
from core.runs import store as store_mod
from core.runs.store import Run
from ui import messages, pretrained, session_keys, studio, weights_upload

# How often the sidebar's run status is redrawn. Each redraw costs the server ~0.2 s of CPU on
# this 2-core machine (measured with the browser test: 4.4% of a core idle at one per 5 s,
# 0.7% without), and the page's own live view already polls every second during a run.
ACTIVE_POLL_SECONDS = 2.0
IDLE_POLL_SECONDS = 10.0  # a run started in another tab or the CLI shows up within this
POLLED_ACTIVE = "_sidebar_polled_active"  # whether a run was active when the page was drawn
DEVICE_RECHECK_SECONDS = 30  # a worker that starts records its view; the line follows soon
NOT_MEASURED = "not measured yet (the first run measures it)"


@st.cache_data(ttl=DEVICE_RECHECK_SECONDS, show_spinner=False)
def _measured_device(home: str, recorded_at: float) -> str | None:
    view = device_facts.recorded_view(Path(home))
    return view.device if view else None


def _recorded_at(home: Path) -> float:
    """The record's modification time (0: none yet): part of the cache key, so the line
    changes on the rerun after a worker records, not up to DEVICE_RECHECK_SECONDS later."""
    try:
        return (home / device_facts.VIEW_FILE).stat().st_mtime
    except OSError:
        return 0.0


def device_line() -> str:
    """What the worker's TensorFlow found (recorded per studio home when a worker starts), not
    the driver's list: a GPU TensorFlow cannot use is not shown as the device runs train on.
    The app's own TensorFlow (Predict) hides the GPUs, so it cannot tell either."""
    home = Path(studio.get_store().home)
    return _measured_device(str(home), _recorded_at(home)) or NOT_MEASURED


def weights_status(spec: str) -> tuple[str, str]:
    """(streamlit message kind, sentence) about the pretrained weights runs will use."""
    source = WeightsSpec.parse(spec)
    if problem := source.problem():
        return "error", f"Weights: {problem}. Choose other weights on the Train page."
    if source.kind == "none":
        return "warning", (
            "No pretrained weights: VGG16 starts from random numbers, so "
            "accuracy on small datasets will be poor. Upload the weights file below to "
            "change that."
        )
    if source.kind == "file":
        return "info", f"Weights: local file {source.path.name}"
    if keras_cache_location().is_file():
        return "info", "Weights: ImageNet (on this machine)"
    return "warning", (
        "Weights: ImageNet, not downloaded yet: the first run needs internet to "
        "fetch them. Without internet, upload the weights file below."
    )


def render() -> None:
    with st.sidebar:
        messages.guarded(_render)


def _render() -> None:
    st.caption(f"Device: {device_line()}")
    kind, sentence = weights_status(pretrained.weights())
    getattr(st, kind)(sentence)
    if kind == "warning" and not pretrained.weights_here().any_pretrained:
        # on every page, before any dataset (the Train page's notice needs one)
        weights_upload.uploader("sidebar_weights_upload")
    folder = session_keys.current_dataset()
    if folder:
        label = st.session_state.get(session_keys.DATASET_LABEL) or Path(folder).name
        st.caption(f"Dataset: {messages.md(label)}")
    else:
        st.caption("Dataset: none chosen yet")
    active = bool(studio.active_runs(studio.get_store()))
    st.session_state[POLLED_ACTIVE] = active
    # Polled on its own, so the status is true on every page without redrawing the page.
    st.fragment(
        lambda: messages.guarded(run_status),
        run_every=ACTIVE_POLL_SECONDS if active else IDLE_POLL_SECONDS,
    )()


def run_status() -> None:
    """Which run, which phase, how far; or this session's last run."""
    store = studio.get_store()
    active = studio.active_runs(store)
    if active:
        studio.refresh_runs(store)  # a dead worker's run is not shown as running
        active = studio.active_runs(store)
    if bool(active) != st.session_state.get(POLLED_ACTIVE):
        # a run started or ended since the page was drawn: redraw it all (Start buttons,
        # results), which also sets this fragment's polling pace again
        st.rerun(scope="app")
    if active:
        live = [r for r in active if r.status in store_mod.LIVE]
        show_active((live or active)[0], waiting=len(active) - 1)
        return
    shown = st.session_state.get(session_keys.SHOWN_RUNS) or [
        st.session_state.get(session_keys.TRAIN_RUN)
    ]
    if len(shown) > 1:
        st.caption(f"Runs: {len(shown)} compared (see the Compare page)")
    elif shown[0]:
        try:
            st.caption(f"Run: {messages.md(report.run_label(store.get(shown[0])))}")
        except KeyError:
            pass


def show_active(run: Run, waiting: int) -> None:
    fraction, text = studio.progress_of(run)
    where = "Compare" if run.group_id else report.task_page(run)
    st.caption(f"Run: {messages.md(report.run_title(run))} (see the {where} page)")
    st.progress(fraction if fraction is not None else 0.0, text=messages.md(text))
    if waiting:
        st.caption(f"{waiting} more run(s) waiting")
