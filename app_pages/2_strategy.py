"""Strategy: where this dataset sits in the size x similarity matrix, measured, and the
strategy that follows (which the user may override)."""

import pandas as pd
import streamlit as st

from core.data import datasets
from core.jobs import runs
from core.model.weights import WeightsSpec
from core.reports import charts, glossary, report
from core.runs import advisor, speed, strategies
from core.runs import store as store_mod
from core.runs.config import RunConfig
from ui import bounds, common

SEEN_ACTIVE = "_probe_seen_active"


def measure(folder: str, image_size: int, weights: str, per_class: int) -> None:
    """Button callback: queue a probe (core.jobs.runs refuses a second one of this dataset)."""
    probe = runs.start_probe(
        common.get_store(),
        folder,
        image_size,
        weights,
        owner=common.session_id(),
        max_per_class=per_class,
    )
    common.flash_refusal(probe, busy_kind="info")


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


def size_only_sentence(images_per_class: float) -> str:
    line = advisor.LARGE_PER_CLASS
    if advisor.size_of(images_per_class) == "small":
        return (
            f"With fewer than {line} pictures per class this dataset is small: a linear "
            "classifier on VGG16's features is the likely choice. Measuring tells which "
            "depth of features to use."
        )
    return (
        f"With {line} or more pictures per class this dataset is large: fine-tuning is "
        "the likely choice. Measuring tells whether to retrain the top block or every "
        "layer."
    )


def choose_strategy(advice: advisor.Advice | None) -> strategies.Strategy:
    st.subheader("Your choice")
    st.write("Keep the recommendation or pick another strategy; the Train page uses this choice.")
    default = advice.strategy if advice else RunConfig.default("strategy")
    spec = common.strategy_select(default)
    st.write(spec.plain)
    if spec.key != default and advice:
        st.caption(f"The measurement recommended {strategies.get(default).title}.")
    layer = advice.layer if advice and advice.layer else RunConfig.default("layer")
    blocks, layer = common.strategy_options(spec, layer)
    show_phases(spec, blocks, layer)
    return spec


def show_phases(spec: strategies.Strategy, blocks: int, layer: str) -> None:
    """What trains in each phase of the chosen strategy, as a table and a diagram."""
    trainable = spec.trainable_layers(blocks)
    rows = [
        {
            "phase": p.name,
            "VGG16 layers that train": ", ".join(trainable[p.name]) or "none (frozen)",
            "optimizer": "none: solved in one go" if p.closed_form else p.optimizer,
            "learning rate": "none" if p.closed_form else f"{p.learning_rate:g}",
            "epochs setting": "none" if p.closed_form else p.epochs_setting.replace("_", " "),
        }
        for p in spec.phases
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        column_config={
            "optimizer": st.column_config.Column(help=glossary.explain("logistic regression")),
            "learning rate": st.column_config.Column(help=glossary.explain("learning rate")),
            "epochs setting": st.column_config.Column(help=glossary.explain("epoch")),
        },
    )
    st.plotly_chart(charts.vgg16_layers(spec, blocks, layer), key="strategy_layers_chart")


def measurement(store, folder: str, found: datasets.Scan) -> advisor.Advice | None:
    """Section 1: the Measure button, how long it will take, and the latest measurement at
    this image size and with these weights; returns its advice (None until one finished)."""
    size = common.image_size_input("strategy")
    weights = common.weights()
    st.subheader("1. Measure how similar your pictures are to ImageNet")
    st.write(
        "Measuring fits a quick linear classifier on VGG16's features at three depths "
        "and sees which depth tells your classes apart best."
    )
    if not WeightsSpec.parse(weights).pretrained:
        st.warning(
            "There are no pretrained weights to measure with: the measurement would read "
            "random features and its advice would mean little. Get the weights on the Train "
            "page first."
        )
        common.go_to("train", "Go to the Train page", icon=":material/arrow_forward:")
    per_class = int(
        st.number_input(
            "Pictures per class to measure on",
            **bounds.of("probe_max_per_class"),
            help="A random sample of this many pictures from each class (fewer if a class has "
            "fewer). More makes the measurement surer and slower; the default ranks the three "
            "depths reliably.",
            **common.kept("probe_max_per_class", RunConfig.default("probe_max_per_class")),
        )
    )
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
        common.watch(SEEN_ACTIVE, probe.id)
        # once it ends the page is redrawn and shows the advice
        common.poll(
            lambda: common.side_run_progress(probe.id, "Measuring", SEEN_ACTIVE), active=True
        )
    elif probe.status == store_mod.DONE:
        show_measurement(probe)
        common.apply_advice(probe)
    elif probe.status in (store_mod.FAILED, store_mod.DIVERGED):
        plain, detail = report.failure_words(probe.error)
        common.problem(f"The measurement failed. {plain}", detail)
    else:
        st.warning(f"The last measurement did not finish ({probe.status}): measure again.")


def recommendation(per_class: float, advice: advisor.Advice | None) -> None:
    st.subheader("2. The recommendation")
    st.plotly_chart(
        charts.strategy_matrix(per_class, advice.similarity if advice else None),
        key="strategy_matrix_chart",
    )
    if advice:
        st.success(
            f"Recommended: **{strategies.get(advice.strategy).title}**"
            + (f" on VGG16's {glossary.layer_words(advice.layer)}" if advice.layer else "")
        )
        st.write(advice.why)
        if advice.settle:
            st.info(advice.settle)
        st.caption(f"Evidence: {advice.evidence}")
    else:
        st.info(size_only_sentence(per_class))


def body() -> None:
    store = common.page_header(
        "Strategy",
        "Decide how much of VGG16 to reuse: it depends on how many pictures you have and "
        "how much they look like everyday photos.",
    )
    ready = common.ready_dataset()
    if ready is None:
        return
    folder, found = ready
    advice = measurement(store, folder, found)
    recommendation(found.images_per_class(), advice)
    choose_strategy(advice)
    common.go_to("train", "Next: Train with this strategy", icon=":material/model_training:")


common.guarded(body)
