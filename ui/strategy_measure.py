"""The Strategy page's measurement: the Measure button with its sample size and time estimate, the
measurement while it runs, and its accuracies at three depths once it is done."""

from __future__ import annotations

import streamlit as st

from core.data import datasets
from core.jobs import runs
from core.model.weights import WeightsSpec
from core.reports import charts, glossary, report
from core.runs import advisor, speed
from core.runs import store as store_mod
from core.runs.config import RunConfig
from ui import bounds, messages, pages, pretrained, session_keys, shared_settings, studio

SEEN_ACTIVE = "_probe_seen_active"


def measure(folder: str, image_size: int, weights: str, per_class: int) -> None:
    """Button callback: queue a probe (core.jobs.runs refuses a second one of this dataset)."""
    probe = runs.start_probe(
        studio.get_store(),
        folder,
        image_size,
        weights,
        owner=session_keys.session_id(),
        max_per_class=per_class,
    )
    messages.flash_refusal(probe, busy_kind="info")


def show_measurement(run) -> None:
    result = run.probe_result
    probe = result.probe if result else {}
    intervals = result.advice.intervals if result and result.advice else {}
    st.write(
        "Accuracy of a simple linear classifier reading VGG16's features at three depths "
        "(deeper layers know more ImageNet-specific shapes)"
        + (
            ", tried on several different splits of the measured pictures: the mean, and "
            "the range the true value is in with 95% confidence:"
            if intervals
            else ":"
        )
    )
    cols = st.columns(len(probe) or 1)
    for col, (layer, accuracy) in zip(cols, probe.items(), strict=False):
        col.metric(
            glossary.layer_words(layer),
            f"{accuracy:.1%}",
            help=f"VGG16 layer {layer}. " + glossary.explain("layer"),
        )
        if layer in intervals:
            low, high = intervals[layer]
            col.caption(f"95% interval: {low:.0%}–{high:.0%}")
    if result and result.images_used:
        st.caption(
            f"Measured on {result.images_used} of the {result.images_total} pictures "
            f"(at most {run.config.probe_max_per_class} per class, chosen at random)."
        )
    st.plotly_chart(charts.probe_accuracies(probe, intervals), key="strategy_probe_chart")


def measurement(store, folder: str, found: datasets.Scan) -> advisor.Advice | None:
    """Section 1: the Measure button, how long it will take, and the latest measurement at
    this image size and with these weights; returns its advice (None until one finished)."""
    size = shared_settings.image_size_input("strategy")
    weights = pretrained.weights()
    st.subheader("1. Measure how similar your pictures are to ImageNet")
    st.write(
        "Measuring fits a quick linear classifier on VGG16's features at three depths "
        "and sees which depth tells your classes apart best."
    )
    if not WeightsSpec.parse(weights).pretrained:
        no_weights_warning()
    per_class = per_class_setting()
    st.caption(estimate(store, found, size, per_class))
    probe = report.latest_probe(store.list(), folder, size, weights)
    under_way = probe is not None and probe.active
    st.button(
        "Measure",
        type="primary",
        icon=":material/science:",
        key="strategy_measure",
        disabled=under_way,
        help=glossary.explain("linear probe"),
        on_click=measure,
        args=(folder, size, weights, per_class),
    )
    if probe is None:
        return None
    show_probe_state(probe)
    finished = probe.status == store_mod.DONE and probe.probe_result
    return probe.probe_result.advice if finished else None


def no_weights_warning() -> None:
    st.warning(
        "There are no pretrained weights to measure with: the measurement would read "
        "random features and its advice would mean little. Get the weights on the Train "
        "page first."
    )
    pages.go_to("train", "Go to the Train page", icon=":material/arrow_forward:")


def per_class_setting() -> int:
    """How many pictures of each class the measurement reads."""
    return int(
        st.number_input(
            "Pictures per class to measure on",
            **bounds.of("probe_max_per_class"),
            help="A random sample of this many pictures from each class (fewer if a class has "
            "fewer). More makes the measurement surer and slower; the default ranks the three "
            "depths reliably.",
            **session_keys.kept("probe_max_per_class", RunConfig.default("probe_max_per_class")),
        )
    )


def estimate(store, found: datasets.Scan, size: int, cap: int) -> str:
    """How many pictures the measurement uses and how long it should take on this machine."""
    images = advisor.probe_images(found.counts(), cap)
    measured = speed.measured(store.home)
    return (
        f"It uses {images} of your {len(found.items)} pictures (at most {cap} per class). "
        f"Expected time: {speed.describe_estimate(images, size, measured)}; plus about half "
        "a minute to start, and much less when measured before (features are kept)."
    )


def show_probe_state(probe) -> None:
    if probe.active:
        studio.watch(SEEN_ACTIVE, probe.id)
        # once it ends the page is redrawn and shows the advice
        studio.poll(
            lambda: studio.side_run_progress(probe.id, "Measuring", SEEN_ACTIVE), active=True
        )
    elif probe.status == store_mod.DONE:
        show_measurement(probe)
        shared_settings.apply_advice(probe)
    elif probe.status in (store_mod.FAILED, store_mod.DIVERGED):
        plain, detail = report.failure_words(probe.error)
        messages.problem(f"The measurement failed. {plain}", detail)
    else:
        st.warning(f"The last measurement did not finish ({probe.status}): measure again.")
