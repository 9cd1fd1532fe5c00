"""Supplying the pretrained VGG16 weights from the browser: the uploader the Train page shows
first when the machine has none, and the sidebar shows on every page (so the weights can come
before any dataset is chosen). An upload is checked before it is kept (core.model.weights_file).
"""

from __future__ import annotations

import streamlit as st

from core.model import vgg16, weights_file
from core.reports import glossary
from ui import messages, session_keys, studio

UPLOADS = "_weights_uploads"  # upload file_id -> (verdict, saved path or None), once each


def use_weights(setting: str) -> None:
    """Make `setting` the weights runs use, and let the weights widgets show it."""
    st.session_state[session_keys.WEIGHTS] = setting
    session_keys.forget_kept("weights_kind", "weights_path")


def install(upload) -> None:
    """Check an uploaded weights file; keep it (and use it) only if VGG16 can load it."""
    home = studio.get_store().home
    (verdict, saved), new = session_keys.once_per_upload(
        UPLOADS,
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


def uploader(key: str, where=st) -> None:
    """The file uploader of the weights file, checked and installed once uploaded."""
    upload = where.file_uploader(
        f"Upload the VGG16 weights file ({vgg16.IMAGENET_NOTOP_FILE})",
        type=[suffix.lstrip(".") for suffix in weights_file.WEIGHTS_SUFFIXES],
        key=key,
        help=glossary.explain("pretrained weights"),
    )
    if upload is not None:
        install(upload)
