"""The session's own state: the st.session_state keys shared between pages, the session id,
widgets whose value outlives the page (kept), and the current dataset with its image size."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from core.data import samples, session
from core.runs.config import RunConfig

# st.session_state keys shared between pages
SESSION_ID = "session_id"
DATASET = "dataset"  # the folder runs train on (for audio: its spectrogram folder)
DATASET_LABEL = "dataset_label"  # how it was chosen, in words
AUDIO_SOURCE = "audio_source"  # the audio folder a spectrogram dataset came from
IMAGE_SIZE = "image_size"
WEIGHTS = "weights"  # "imagenet" | "none" | a file path
WITHOUT_PRETRAINED = "without_pretrained"  # chose to go on without pretrained weights
STRATEGY = "strategy"
UNFREEZE = "unfreeze_blocks"
LAYER = "layer"
TRAIN_RUN = "train_run_id"
SHOWN_RUNS = "_shown_runs"  # the run(s) the page drew last: the sidebar names the same
COMPARE_GROUP = "compare_group"
APPLIED_ADVICE = "_applied_advice"  # the measurement whose advice last set the strategy
BROWSER_COOKIE = "vgg16_studio_browser"  # this browser's id: who started a run, whose uploads
BROWSER_COOKIE_DAYS = 365
COOKIE_WRITTEN = "_browser_cookie_written"


def browser_cookie() -> str | None:
    """The id this browser keeps in its cookie (sent with the page's request), if valid."""
    value = st.context.cookies.get(BROWSER_COOKIE)
    return value if session.is_session_id(value) else None


def session_id() -> str:
    """Who this is: the browser's id, so a reload or a second tab of the same browser is the
    same person (a Streamlit session lives in one tab only, and a reload starts a new one);
    a browser without the cookie yet gets a new id, which keep_browser_id writes into it."""
    if SESSION_ID not in st.session_state:
        st.session_state[SESSION_ID] = browser_cookie() or session.new_session_id()
    return st.session_state[SESSION_ID]


def keep_browser_id() -> None:
    """Once per session, when the browser's cookie does not hold this session's id yet: write
    it (Streamlit reads cookies but cannot set them, so a script on the page does)."""
    me = session_id()
    if browser_cookie() == me or st.session_state.get(COOKIE_WRITTEN) == me:
        return
    st.session_state[COOKIE_WRITTEN] = me
    seconds = BROWSER_COOKIE_DAYS * 24 * 3600
    st.html(
        f"<script>document.cookie = '{BROWSER_COOKIE}={me}; path=/; max-age={seconds}; "
        "SameSite=Strict';</script>",
        unsafe_allow_javascript=True,
    )


def _copy(widget_key: str, key: str) -> None:
    st.session_state[key] = st.session_state[widget_key]


def _widget_keys(key: str) -> list[str]:
    """Every widget copy of a kept() setting in this session (one per page that scopes it)."""
    return [k for k in st.session_state if k == f"_w_{key}" or str(k).startswith(f"_w_{key}@")]


def kept(key: str, default, scope: str = "") -> dict:
    """Keyword arguments for a widget whose value lives in st.session_state[key], so it is
    still there after visiting another page (Streamlit forgets unrendered widgets' keys)."""
    st.session_state.setdefault(key, default)
    # A setting drawn on several pages gets one widget per page (scope): Streamlit kept one
    # shared widget's old value across pages and showed it instead of the setting.
    widget_key = f"_w_{key}@{scope}" if scope else f"_w_{key}"
    # The setting is the truth. A fresh click has already been copied into it by on_change
    # (callbacks run before the script), so a widget value that differs here is stale: dropped
    # while the widget was off screen, or left over from another page's copy of the widget
    # (seen: the image size typed on Train came back as the dataset's default on Strategy).
    if st.session_state.get(widget_key) != st.session_state[key]:
        st.session_state[widget_key] = st.session_state[key]
    return {"key": widget_key, "on_change": _copy, "args": (widget_key, key)}


def set_kept(key: str, value) -> None:
    """Set a kept() setting from code (advice, a new dataset): the value and its widget's
    copy, so the widget shows it too. Call before the widget is drawn in this run."""
    st.session_state[key] = value
    for widget_key in _widget_keys(key) or [f"_w_{key}"]:
        st.session_state[widget_key] = value


def forget_kept(*keys: str) -> None:
    """Drop kept() settings, so their widgets start again from their defaults."""
    for key in keys:
        st.session_state.pop(key, None)
        for widget_key in _widget_keys(key):
            st.session_state.pop(widget_key, None)


def setting(key: str):
    """A run setting as this session last chose it, else RunConfig's default (the one source
    of defaults): the session keys of run settings are RunConfig's field names."""
    return st.session_state.get(key, RunConfig.default(key))


def once_per_upload(key: str, upload, work: Callable[[], object]) -> tuple[object, bool]:
    """(work()'s answer for this upload, whether it was computed just now). Computed once:
    Streamlit hands the same upload to every rerun, and extracting or saving it again would
    repeat (or duplicate) it. Kept in st.session_state[key], by upload."""
    done = st.session_state.setdefault(key, {})
    new = upload.file_id not in done
    if new:
        done[upload.file_id] = work()
    return done[upload.file_id], new


def current_dataset() -> str | None:
    folder = st.session_state.get(DATASET)
    return folder if folder and Path(folder).is_dir() else None


def set_dataset(folder: str | Path, label: str, audio_source: str | None = None) -> None:
    folder = str(Path(folder).expanduser().resolve())
    if st.session_state.get(DATASET) != folder:
        forget_kept(STRATEGY, UNFREEZE, LAYER)
        st.session_state.pop(APPLIED_ADVICE, None)  # this dataset's own advice applies anew
    st.session_state[DATASET] = folder
    st.session_state[DATASET_LABEL] = label
    st.session_state[AUDIO_SOURCE] = audio_source
    set_kept(IMAGE_SIZE, default_image_size(folder))


def default_image_size(folder: str) -> int:
    sample = samples.SAMPLES.get(samples.sample_id(folder) or "")
    return sample.image_size if sample else RunConfig.default(IMAGE_SIZE)


def image_size() -> int:
    if IMAGE_SIZE not in st.session_state:
        folder = current_dataset()
        st.session_state[IMAGE_SIZE] = (
            default_image_size(folder) if folder else RunConfig.default(IMAGE_SIZE)
        )
    return int(st.session_state[IMAGE_SIZE])
