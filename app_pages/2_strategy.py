"""Strategy: where this dataset sits in the size x similarity matrix, measured, and the
strategy that follows (which the user may override)."""

import pandas as pd
import streamlit as st

from core.reports import charts, glossary
from core.runs import advisor, strategies
from core.runs.config import RunConfig
from ui import messages, pages, scans, shared_settings, strategy_measure, studio


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
    spec = shared_settings.strategy_select(default)
    st.write(spec.plain)
    if spec.key != default and advice:
        st.caption(f"The measurement recommended {strategies.get(default).title}.")
    layer = advice.layer if advice and advice.layer else RunConfig.default("layer")
    blocks, layer = shared_settings.strategy_options(spec, layer)
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
    store = studio.page_header(
        "Strategy",
        "Decide how much of VGG16 to reuse: it depends on how many pictures you have and "
        "how much they look like everyday photos.",
    )
    ready = scans.ready_dataset()
    if ready is None:
        return
    folder, found = ready
    advice = strategy_measure.measurement(store, folder, found)
    recommendation(found.images_per_class(), advice)
    choose_strategy(advice)
    pages.go_to("train", "Next: Train with this strategy", icon=":material/model_training:")


messages.guarded(body)
