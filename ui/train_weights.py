"""The Train page's pretrained-weights section: the notice when this machine has none (upload the
file, or go on without), and the weights setting."""

from __future__ import annotations

import streamlit as st

from core.model import vgg16, weights_file
from core.model.weights import IMAGENET, NONE, WeightsSpec
from core.reports import glossary
from ui import messages, pretrained, session_keys, studio

WEIGHT_KINDS = ("ImageNet", "A local weights file", "None (random start)")
WITHOUT_PRETRAINED = "_train_without_pretrained"  # chose to go on without pretrained weights
NO_PRETRAINED_COST = (
    "Without pretrained weights VGG16 starts from random numbers and must learn everything "
    "from your pictures: on a few hundred pictures expect much lower accuracy, often little "
    "better than guessing. That is what the 'from scratch' baseline on the Compare page shows."
)


def use_weights(setting: str) -> None:
    """Make `setting` the weights runs use, and let the weights widgets show it."""
    st.session_state[session_keys.WEIGHTS] = setting
    session_keys.forget_kept("weights_kind", "weights_path")


def continue_without() -> None:
    """Button callback: go on without pretrained weights."""
    st.session_state[WITHOUT_PRETRAINED] = True
    use_weights("none")


def install(upload) -> None:
    """Check an uploaded weights file; keep it (and use it) only if VGG16 can load it."""
    home = studio.get_store().home
    (verdict, saved), new = session_keys.once_per_upload(
        "_train_weights_uploads",
        upload,
        lambda: weights_file.install_upload(home, upload.name, upload.getvalue()),
    )
    if saved is None:
        messages.problem(
            f"{verdict.message} Nothing was saved. Upload {vgg16.IMAGENET_NOTOP_FILE}"
            ", or continue without pretrained weights.",
            f"file {upload.name}, {upload.size:,} bytes, md5 {verdict.md5 or '-'}",
        )
    elif new:
        use_weights("imagenet" if verdict.official else str(saved))
        messages.flash("success", f"{verdict.message} Runs now start from these weights.")
        st.rerun()


def weights_notice() -> None:
    """When this machine has no pretrained weights: say so, in plain words, with the two ways
    on (upload the file, or go on without), before anything else on the page."""
    if pretrained.weights_here().any_pretrained:
        return
    if st.session_state.get(WITHOUT_PRETRAINED):
        st.info(NO_PRETRAINED_COST + " To change that, upload the weights file:")
    else:
        st.warning(
            "**There are no pretrained VGG16 weights on this machine.** They are what makes a "
            "few hundred pictures enough. Upload the weights file (58 MB, for example from a "
            "USB stick), or continue without them."
        )
    upload_col, without_col = st.columns(2)
    upload = upload_col.file_uploader(
        f"Upload the VGG16 weights file ({vgg16.IMAGENET_NOTOP_FILE})",
        type=[suffix.lstrip(".") for suffix in weights_file.WEIGHTS_SUFFIXES],
        key="train_weights_upload",
        help=glossary.explain("pretrained weights"),
    )
    if upload is not None:
        install(upload)
    if not st.session_state.get(WITHOUT_PRETRAINED):
        without_col.button(
            "Continue without pretrained weights",
            key="train_without_pretrained",
            on_click=continue_without,
            width="stretch",
            wrap=True,  # in a half-width column at 800 px the label was cut with an ellipsis
        )
        without_col.caption(NO_PRETRAINED_COST)


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
