"""The sidebar on every page: device, weights, current dataset and run."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core import hostinfo, report
from core.backbone import keras_cache_location
from core.weights import WeightsSpec
from ui import common, model_loader


@st.cache_resource(show_spinner=False)
def _tensorflow_device() -> str:
    return model_loader.device_line()


@st.cache_resource(show_spinner=False)
def _quick_device() -> str:
    return hostinfo.quick_device()


def device_line() -> str:
    """TensorFlow's own answer once this process has loaded it (Predict does, through
    ui.model_loader); until then a check that needs no TensorFlow, so the app starts fast."""
    if model_loader.loaded():
        try:
            return _tensorflow_device()
        except Exception:  # noqa: BLE001 - the quick answer is good enough for a sidebar
            pass
    return _quick_device()


def weights_status(spec: str) -> tuple[str, str]:
    """(streamlit message kind, sentence) about the pretrained weights runs will use."""
    source = WeightsSpec.parse(spec)
    if problem := source.problem():
        return "error", f"Weights: {problem}. Choose other weights on the Train page."
    if source.kind == "none":
        return "warning", (
            "No pretrained weights: VGG16 starts from random numbers, so "
            "accuracy on small datasets will be poor. Upload the weights file on the Train "
            "page to change that."
        )
    if source.kind == "file":
        return "info", f"Weights: local file {source.path.name}"
    if keras_cache_location().is_file():
        return "info", "Weights: ImageNet (on this machine)"
    return "warning", (
        "Weights: ImageNet, not downloaded yet: the first run needs internet to "
        "fetch them. Without internet, upload the weights file on the Train page."
    )


def render() -> None:
    with st.sidebar:
        common.guarded(_render)


def _render() -> None:
    st.caption(f"Device: {device_line()}")
    kind, sentence = weights_status(common.weights())
    getattr(st, kind)(sentence)
    folder = common.current_dataset()
    if folder:
        label = st.session_state.get(common.DATASET_LABEL) or Path(folder).name
        st.caption(f"Dataset: {common.md(label)}")
    else:
        st.caption("Dataset: none chosen yet")
    store = common.get_store()
    active = common.active_runs(store)
    shown = active[0] if active else None
    if shown is None and st.session_state.get(common.TRAIN_RUN):
        try:
            shown = store.get(st.session_state[common.TRAIN_RUN])
        except KeyError:
            shown = None
    if shown is not None and shown.active:  # the sidebar is not polled: no stale status
        what = (
            "similarity measurement"
            if report.is_probe(shown)
            else report.strategy_title(shown.strategy)
        )
        st.caption(
            f"Run: {common.md(what)} on {common.md(Path(shown.dataset).name)}, in "
            "progress (see the Train page)"
        )
    elif shown is not None:
        st.caption(f"Run: {common.md(report.run_label(shown))}")
    if len(active) > 1:
        st.caption(f"{len(active) - 1} more run(s) waiting")
