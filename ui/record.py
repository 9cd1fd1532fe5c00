"""The Data page's "Record" section: grow a class of the current dataset from the browser, with
webcam bursts (ui.burst; single photos with st.camera_input as the fallback) or, for sound
datasets, microphone clips (st.audio_input). core.data.capture checks and saves; this only draws."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from core.data import capture, datasets
from ui import burst, messages, session_keys, studio

MODES = ("Burst: hold to record", "One photo per click")
SAVED_CLIPS = "_record_saved_clips"  # upload id -> outcome, so a clip is saved once
SAVED_SNAPSHOTS = "_record_saved_snapshots"


def section(folder: str, found: datasets.Scan, reconvert: Callable[[], None]) -> None:
    """Record into a chosen class of the dataset at `folder` (a sound dataset: into its sound
    folder; reconvert then turns the new clips into spectrograms too)."""
    st.subheader("Record more examples")
    sounds = st.session_state.get(session_keys.AUDIO_SOURCE)
    with messages.refusals("Recording is not offered for this dataset", kind="info") as refused:
        target = capture.record_target(sounds or folder, studio.get_store().home)
    if refused:
        return
    if target.note:
        st.caption(messages.md(target.note))
    if not found.classes:
        st.caption("The dataset has no class yet to record into.")
        return
    name = st.selectbox("Class to record into", found.classes, key="data_rec_class")
    if sounds:
        microphone(target.class_dir(name), name, reconvert)
    else:
        webcam(target.class_dir(name), name)


def webcam(class_dir: Path, name: str) -> None:
    mode = st.radio("How", MODES, horizontal=True, key="data_rec_mode")
    if mode == MODES[1]:
        snapshot(class_dir, name)
        return
    burst_into(class_dir, name, "data_rec")
    st.caption("If the recorder does not show, use 'One photo per click'.")


def burst_into(class_dir: Path, name: str, key: str) -> None:
    """The hold-to-record recorder with its rate and count, saving each burst into class_dir
    (key: a prefix for this recorder's widgets, one per class where there are several)."""
    left, right = st.columns(2)
    fps = left.slider("Frames per second", 1, 15, 5, key=f"{key}_fps")
    count = right.slider("At most this many frames", 1, 100, 30, key=f"{key}_count")
    st.caption(
        f"Hold the button: {fps} frames a second are recorded into {messages.md(name)} until "
        f"you let go (or after {count})."
    )
    frames = burst.recorder(f"{key}_burst", fps, count)
    outcome_key = f"_{key}_saved"  # the last burst's outcome, shown under the recorder
    if frames and _new_burst(key, frames):
        st.session_state[outcome_key] = _attempt(
            lambda: capture.save_data_urls(class_dir, frames, studio.get_store().home)
        )
        st.rerun()  # redraw the page: class counts and pictures include the new files
    if outcome_key in st.session_state:
        show(st.session_state[outcome_key])


def _new_burst(key: str, frames: list[str]) -> bool:
    """Whether this burst was not saved yet (a rerun must never save the same frames twice)."""
    token = hashlib.sha256("\n".join(frames).encode()).hexdigest()
    if st.session_state.get(f"_{key}_last") == token:
        return False
    st.session_state[f"_{key}_last"] = token
    return True


def snapshot(class_dir: Path, name: str) -> None:
    photo = st.camera_input(f"Photo for {messages.md(name)}", key=f"data_rec_cam_{name}")
    if photo is None:
        return
    suffix = Path(photo.name or "").suffix.lower() or ".jpg"
    outcome, _ = session_keys.once_per_upload(
        SAVED_SNAPSHOTS,
        photo,
        lambda: _attempt(
            lambda: capture.save_frames(
                class_dir, [(photo.getvalue(), suffix)], studio.get_store().home, "snapshot"
            )
        ),
    )
    show(outcome)


def microphone(class_dir: Path, name: str, reconvert: Callable[[], None]) -> None:
    clip = st.audio_input(f"Record a clip for {messages.md(name)}", key=f"data_rec_mic_{name}")
    st.caption("Each recording is saved as a .wav file in the class folder.")
    if clip is not None:
        outcome, _ = session_keys.once_per_upload(
            SAVED_CLIPS,
            clip,
            lambda: _attempt(
                lambda: capture.save_clip(class_dir, clip.getvalue(), studio.get_store().home)
            ),
        )
        show(outcome)
    if st.button(
        "Use the new recordings (turn them into spectrograms)",
        key="data_rec_reconvert",
        icon=":material/graphic_eq:",
        help="Training reads spectrogram pictures of the clips: new clips need converting.",
    ):
        reconvert()


def _attempt(work: Callable[[], object]) -> tuple[str, str]:
    """(message kind, sentence) of one save."""
    try:
        done = work()
    except capture.CaptureError as exc:
        return "error", f"Not saved: {messages.md(exc)}"
    if isinstance(done, capture.Saved):
        kind = "success" if done.saved and not done.rejected else "warning"
        return kind, messages.md(done.describe())
    return "success", f"Saved {messages.md(Path(str(done)).name)}."


def show(outcome: tuple[str, str]) -> None:
    kind, message = outcome
    getattr(st, kind)(message)
