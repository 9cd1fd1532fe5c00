"""The Train page's notice when the driver lists a GPU that TensorFlow does not see
(said once per session; Start works either way, on the CPU)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.model import device_facts
from ui import studio

GPU_MISMATCH_SEEN = "_train_gpu_mismatch_seen"  # the person read it and goes on (on the CPU)


@st.cache_data(ttl=60, show_spinner="Checking which GPUs TensorFlow sees...")
def gpu_mismatch(home: str) -> str | None:
    """A GPU the driver lists but TensorFlow does not see (from the worker's record, else a
    child process: this one never imports TensorFlow); None on a CPU host (nothing probed)."""
    return device_facts.mismatch_for(Path(home))


def gpu_notice() -> None:
    """Said once per session, before a run starts; Start works either way (on the CPU)."""
    if st.session_state.get(GPU_MISMATCH_SEEN):
        return
    mismatch = gpu_mismatch(str(studio.get_store().home))
    if mismatch is None:
        return
    st.warning(mismatch, icon=":material/memory:")
    if st.button("Understood: train on the CPU for now", key="train_gpu_mismatch_seen"):
        st.session_state[GPU_MISMATCH_SEEN] = True
        st.rerun()
