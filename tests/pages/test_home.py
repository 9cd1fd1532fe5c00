"""The Start here page (app_pages/0_home.py)."""

from __future__ import annotations

from pathlib import Path

from apptesting import (
    no_exceptions,
    page,
    texts,
)

from ui import session_keys


def test_home_use_the_sample_dataset(store):
    at = page("0_home.py").run()
    at.button(key="home_use_sample").click().run()
    no_exceptions(at)
    assert Path(at.session_state[session_keys.DATASET]).name == "digits-50"
    assert "sample is ready" in texts(at.success)


def test_home_about_this_machine_reads_the_workers_record_and_asks_on_demand(store, monkeypatch):
    import streamlit as st

    from core.model import device_facts
    from core.platform import hostinfo

    monkeypatch.setattr(hostinfo, "nvidia_gpus", lambda *a: [])
    asked = []
    view = device_facts.TensorflowView(device="CPU", installed=device_facts.install_signature())
    monkeypatch.setattr(device_facts, "probe_view", lambda: asked.append(1) or view)
    st.cache_data.clear()
    at = page("0_home.py").run()
    no_exceptions(at)
    assert at.expander[0].label == "About this machine"
    assert not asked  # the page never waits for TensorFlow unasked
    shown = at.table[0].value
    assert "GPUs (TensorFlow)" in shown.index and "Disk use" in shown.index
    at.button(key="home_ask_tensorflow").click().run()
    no_exceptions(at)
    assert asked == [1] and device_facts.recorded_view(store.home) == view
    assert at.table[0].value.loc["GPUs (TensorFlow)"].iloc[0] == "none"
