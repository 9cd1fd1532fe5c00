"""Run-setting widgets drawn on more than one page (Strategy and Train): the strategy, its
options, the measured advice that sets them, and the image size."""

from __future__ import annotations

import streamlit as st

from core.model import vgg16
from core.reports import glossary
from core.runs import strategies
from core.runs.config import RunConfig
from core.runs.store import Run
from ui import bounds, session_keys


def strategy_select(default: str) -> strategies.Strategy:
    """The Strategy dropdown shared by the Strategy and Train pages (one session value):
    `default` is the measured advice when there is one, else RunConfig's."""
    keys = list(strategies.STRATEGIES)
    if st.session_state.get(session_keys.STRATEGY) not in keys:
        session_keys.set_kept(session_keys.STRATEGY, default)
    key = st.selectbox(
        "Strategy",
        keys,
        format_func=lambda k: strategies.get(k).title,
        help=" ".join(glossary.explain(t) for t in ("strategy", "bottleneck", "fine-tune")),
        **session_keys.kept(session_keys.STRATEGY, default),
    )
    return strategies.get(key)


def strategy_options(spec: strategies.Strategy, layer_default: str) -> tuple[int, str]:
    """The settings a strategy takes besides epochs, shared by the Strategy and Train pages:
    VGG16 blocks to retrain (fine-tuning) and the layer a linear classifier reads."""
    blocks = int(session_keys.setting(session_keys.UNFREEZE))
    if any(p.unfreeze_blocks == strategies.CONFIGURED for p in spec.phases):
        blocks = st.slider(
            "VGG16 blocks to retrain in the fine-tuning phase",
            **bounds.of(session_keys.UNFREEZE),
            help=glossary.explain("fine-tune") + " " + glossary.explain("block"),
            **session_keys.kept(session_keys.UNFREEZE, RunConfig.default(session_keys.UNFREEZE)),
        )
    layer = session_keys.setting(session_keys.LAYER)
    if spec.uses_layer:
        layer = st.selectbox(
            "Layer the classifier reads",
            vgg16.FEATURE_LAYERS,
            format_func=lambda name: f"{glossary.layer_words(name)}: {name}",
            help=glossary.explain("layer"),
            **session_keys.kept(session_keys.LAYER, layer_default),
        )
    return blocks, layer


def apply_advice(run: Run) -> None:
    """The first time a measurement's advice is seen (on the Strategy or the Train page), it
    becomes the chosen strategy; after that the person's own choice stands."""
    advice = run.probe_result.advice if run.probe_result else None
    if advice is None or st.session_state.get(session_keys.APPLIED_ADVICE) == run.id:
        return
    st.session_state[session_keys.APPLIED_ADVICE] = run.id
    session_keys.set_kept(session_keys.STRATEGY, advice.strategy)
    if advice.layer in vgg16.FEATURE_LAYERS:
        session_keys.set_kept(session_keys.LAYER, advice.layer)
    if advice.unfreeze_blocks:
        session_keys.set_kept(session_keys.UNFREEZE, int(advice.unfreeze_blocks))


def image_size_input(page: str) -> int:
    """The image size: one setting, one session key, the same widget on every page that shows
    it (a new dataset sets it to its own default, see set_dataset)."""
    return int(
        st.number_input(
            "Image size (pixels)",
            **bounds.of(session_keys.IMAGE_SIZE),
            step=16,
            help=glossary.explain("image size"),
            **session_keys.kept(session_keys.IMAGE_SIZE, session_keys.image_size(), scope=page),
        )
    )
