"""The Train page's pretrained-weights section: the notice when this machine has none (upload the
file, or go on without), and the weights setting."""

from __future__ import annotations

import streamlit as st

from core.model.weights import IMAGENET, NONE, WeightsSpec
from core.reports import glossary
from ui import pretrained, session_keys, weights_upload

WEIGHT_KINDS = ("ImageNet", "A local weights file", "None (random start)")
WITHOUT_PRETRAINED = session_keys.WITHOUT_PRETRAINED
NO_PRETRAINED_COST = (
    "Without pretrained weights VGG16 starts from random numbers and must learn everything "
    "from your pictures: on a few hundred pictures expect much lower accuracy, often little "
    "better than guessing. That is what the 'from scratch' baseline on the Compare page shows."
)


def continue_without() -> None:
    """Button callback: go on without pretrained weights."""
    st.session_state[WITHOUT_PRETRAINED] = True
    weights_upload.use_weights("none")


def weights_notice() -> bool:
    """When this machine has no pretrained weights: say so, in plain words, with the two ways
    on (upload the file, or go on without), before anything else on the page. True while that
    choice is open (neither made): Start waits for it."""
    if pretrained.weights_here().any_pretrained:
        return False
    if st.session_state.get(WITHOUT_PRETRAINED):
        st.info(NO_PRETRAINED_COST + " To change that, upload the weights file:")
    else:
        st.warning(
            "**There are no pretrained VGG16 weights on this machine.** They are what makes a "
            "few hundred pictures enough. Upload the weights file (58 MB, for example from a "
            "USB stick), or continue without them."
        )
    upload_col, without_col = st.columns(2)
    weights_upload.uploader("train_weights_upload", upload_col)
    if not st.session_state.get(WITHOUT_PRETRAINED):
        without_col.button(
            "Continue without pretrained weights",
            key="train_without_pretrained",
            on_click=continue_without,
            width="stretch",
            wrap=True,  # in a half-width column at 800 px the label was cut with an ellipsis
        )
        without_col.caption(NO_PRETRAINED_COST)
    # open while no pretrained weights are chosen and going on without them was not either
    # (the weights setting stays "none" until a file is uploaded)
    chosen_none = WeightsSpec.parse(pretrained.weights()).kind == NONE
    return chosen_none and not st.session_state.get(WITHOUT_PRETRAINED)


def weights_setting() -> str:
    """ImageNet, a local file or none; the default comes from $VGG16_WEIGHTS."""
    current = pretrained.weights()
    default_kind = {IMAGENET: WEIGHT_KINDS[0], NONE: WEIGHT_KINDS[2]}.get(
        WeightsSpec.parse(current).kind, WEIGHT_KINDS[1]
    )
    chosen = st.radio(
        "Pretrained weights",
        WEIGHT_KINDS,
        horizontal=True,
        help=glossary.explain("pretrained weights"),
        **session_keys.kept("weights_kind", default_kind),
    )
    if chosen == WEIGHT_KINDS[0]:
        spec = "imagenet"
    elif chosen == WEIGHT_KINDS[2]:
        spec = "none"
        if pretrained.weights_here().any_pretrained:  # else the notice above already says it
            st.warning(NO_PRETRAINED_COST)
    else:
        spec = st.text_input(
            "Path of the weights file on the server (VGG16 without its top, .h5)",
            **session_keys.kept("weights_path", current if default_kind == WEIGHT_KINDS[1] else ""),
        ).strip()
    if spec:
        st.session_state[session_keys.WEIGHTS] = spec
    return spec
