"""Data: choose a dataset, then see what is in it before training on it."""

from pathlib import Path

import streamlit as st

from core.data import datasets, keras_datasets
from ui import (
    data_checks,
    data_classes,
    data_sources,
    data_views,
    datafix,
    messages,
    record,
    scans,
    session_keys,
    studio,
)

SOURCES = (
    "Built-in sample",
    "Online sample",
    "Folder on the server",
    "Upload a zip",
    "Build classes here",
)


# -- showing ----------------------------------------------------------------------------------
def show_dataset(folder: str) -> None:
    st.divider()
    label = st.session_state.get(session_keys.DATASET_LABEL) or Path(folder).name
    st.header(f"Current dataset: {messages.md(label)}")
    st.caption(messages.md(folder))
    try:
        found = scans.read(folder)
    except datasets.DatasetError as exc:
        st.error(f"This folder cannot be used: {messages.md(exc)}")
        return
    if found is None:  # a long first scan: its progress is shown
        return
    data_views.show_summary(found)
    if note := keras_datasets.old_layout_note(folder):  # a sample written before test/
        st.info(messages.md(note))
    data_checks.offer_case_merge(found, folder)
    data_views.show_pictures(found)
    st.subheader("Checks")
    data_checks.show_problems(found)
    datafix.show_edits(found, folder)  # also when an edit left the dataset unusable: undo
    if found.ok:
        data_views.show_split(found)
        datafix.show(found, folder)
    audio_source = st.session_state.get(session_keys.AUDIO_SOURCE)
    if audio_source and Path(audio_source).is_dir():
        data_views.show_audio(Path(audio_source), Path(folder))
    record.section(folder, found, data_sources.convert_again)


def body() -> None:
    studio.page_header(
        "Data",
        "Choose the pictures the model will learn from: one folder of pictures per class "
        "(for example cats/ and dogs/).",
    )
    source = st.radio(
        "Where are your pictures?",
        SOURCES,
        horizontal=True,
        **session_keys.kept("data_source", SOURCES[0]),
    )
    {
        SOURCES[0]: data_sources.builtin_sample,
        SOURCES[1]: data_sources.online_sample,
        SOURCES[2]: data_sources.server_folder,
        SOURCES[3]: data_sources.zip_upload,
        SOURCES[4]: data_classes.build_classes,
    }[source]()
    data_sources.pending()
    folder = session_keys.current_dataset()
    if folder:
        show_dataset(folder)


messages.guarded(body)
