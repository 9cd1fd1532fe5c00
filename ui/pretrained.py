"""The pretrained weights: which ones this session uses, which are on this machine, and whether
ImageNet's could be downloaded now."""

from __future__ import annotations

import time

import streamlit as st

from core.model import weights_file
from ui import session_keys, studio


def weights_here() -> weights_file.WeightsOnMachine:
    """The pretrained weights on this machine (a few stat calls, no network)."""
    return weights_file.on_this_machine(studio.get_store().home)


def default_weights() -> str:
    """The weights a first run uses: $VGG16_WEIGHTS when set, else ones that work here offline
    (ImageNet's cached file, then an uploaded file, else none)."""
    return weights_file.default_setting(studio.get_store().home)


def weights() -> str:
    if session_keys.WEIGHTS not in st.session_state:
        st.session_state[session_keys.WEIGHTS] = default_weights()
    return st.session_state[session_keys.WEIGHTS]


REACHABLE = "_imagenet_reachable"  # (time asked, answer)
REACHABLE_SECONDS = 600


def imagenet_downloadable() -> bool:
    """Whether the ImageNet weights could be downloaded now. A network call, so it is asked
    only when ImageNet is chosen and not on the machine, and the answer is kept for ten
    minutes in this session."""
    asked, answer = st.session_state.get(REACHABLE, (0.0, False))
    if time.time() - asked > REACHABLE_SECONDS:
        answer = weights_file.download_reachable()
        st.session_state[REACHABLE] = (time.time(), answer)
    return answer
