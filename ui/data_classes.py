"""The Data page's 'Build classes here': classes made in the browser from dropped files, webcam
snapshots and recorded bursts."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.data import session
from core.data.imaging import IMAGE_EXTENSIONS
from ui import data_sources, messages, record, scans, session_keys, studio

IMAGE_TYPES = sorted(ext.lstrip(".") for ext in IMAGE_EXTENSIONS)
SAVED_UPLOADS = "_data_saved_uploads"  # file ids of browser uploads already written


def _save_uploads(class_dir: Path, files, name: str | None = None) -> None:
    """Write browser uploads into a class folder, each upload once (reruns repeat them)."""
    saved = st.session_state.setdefault(SAVED_UPLOADS, set())
    for file in files:
        if file is None or file.file_id in saved:
            continue
        saved.add(file.file_id)
        with messages.refusals(kind="warning"):
            session.save_image(class_dir, name or file.name, file.getvalue())


def add_class_form(project: Path) -> None:
    with st.form("data_add_class", clear_on_submit=True):
        name = st.text_input("New class name", placeholder="e.g. cat")
        if st.form_submit_button("Add class", icon=":material/add:"):
            with messages.refusals("That name cannot be used"):
                session.add_class(project, name)


def class_pictures(class_dir: Path, name: str) -> None:
    """Drop files, take webcam snapshots or record bursts into one class; its latest pictures."""
    files = st.file_uploader(
        f"Pictures of {messages.md(name)}",
        type=IMAGE_TYPES,
        accept_multiple_files=True,
        key=f"data_tm_files_{name}",
    )
    _save_uploads(class_dir, files or [])
    if st.toggle("Use the webcam", key=f"data_tm_cam_on_{name}"):
        snapshot = st.camera_input(f"Snapshot for {messages.md(name)}", key=f"data_tm_cam_{name}")
        if snapshot is not None:
            suffix = Path(snapshot.name or "").suffix or ".jpg"
            _save_uploads(class_dir, [snapshot], name=f"snapshot{suffix}")
    if st.toggle("Record a burst (hold a button)", key=f"data_tm_burst_on_{name}"):
        record.burst_into(class_dir, name, f"data_tm_burst_{name}")
    pictures = sorted(
        str(p) for p in class_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if pictures:
        st.image(scans.thumbnails(pictures[-8:], 72), width=72)


def build_classes() -> None:
    st.write(
        "Make your own classes, like Teachable Machine: name a class, then add pictures "
        "by dropping files, taking webcam snapshots or holding a button to record a burst."
    )
    project = session.classes_dir(studio.get_store().home, session_keys.session_id())
    add_class_form(project)
    counts = session.class_counts(project)
    if not counts:
        st.caption("No class yet: add at least two.")
        return
    for name in counts:
        with st.expander(f"{messages.md(name)}: {counts[name]} picture(s)", expanded=True):
            class_pictures(project / name, name)
    counts = session.class_counts(project)
    ready = sum(1 for n in counts.values() if n > 0) >= 2
    if st.button(
        "Use these classes as the dataset",
        key="data_use_classes",
        type="primary",
        disabled=not ready,
    ):
        data_sources.choose(project, "classes built in the browser")
    if not ready:
        st.caption(
            "Two classes with at least one picture each are needed (more pictures, "
            "better results: aim for 20 or more per class)."
        )
