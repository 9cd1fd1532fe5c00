"""Take the model with you: a finished run's "Download this model" section (Predict page, and
the Train page's finished run). The file is made by a child process (core.jobs.fetch.start_export:
TensorFlow never runs in the app process); a fragment polls it every second, so the page never
waits; when it is ready, a download button offers it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.jobs import fetch
from core.reports import report
from core.runs import runfiles
from core.runs import store as store_mod
from core.runs.store import Run
from ui import messages, studio

MIME = {".zip": "application/zip", ".html": "text/html"}
_ADVICE = (  # a piece of the reason -> what to do next, in plain words
    ("pip install", "A package it needs is missing on the server: install it, then try again."),
    (
        "disagrees",
        "The converted model predicts differently from the studio's: try another format "
        "(Keras or SavedModel).",
    ),
    ("is missing", "Some of this run's files are gone from the server: train the run again."),
    ("restarted", "The app restarted while it was being prepared: click Prepare again."),
    ("gave up", "It took too long: try again when the server is less busy."),
)


@dataclass(frozen=True)
class Preparing:
    """One run's take-away in this session: what was asked, its job, and how it ended."""

    what: str
    job: fetch.Job
    state: fetch.JobState | None = None  # None while the child works


def _key(where: str, run: Run) -> str:
    return f"_take_away_{where}_{run.id}"


def section(run: Run, where: str) -> None:
    """The whole section for a finished run with a model (nothing for any other run)."""
    if run.status not in store_mod.WITH_MODEL or not run.model_path or report.is_probe(run):
        return
    store = studio.get_store()
    st.subheader("Download this model")
    st.write(
        "Take the model with you: every file is loaded back and checked against the studio's "
        "own predictions before it is offered."
    )
    choices = fetch.take_away_choices()
    missing = {what: fetch.missing_runtime(what) for what in choices}
    what = st.selectbox(
        "Format",
        list(choices),
        format_func=lambda w: choices[w] + (" (not available here)" if missing[w] else ""),
        key=f"take_away_{where}_format",
    )
    if missing[what]:
        st.caption(f"Not available on this server: {missing[what]}.")
    key = _key(where, run)
    busy = (current := st.session_state.get(key)) is not None and current.state is None
    if (
        st.button(
            "Prepare",
            icon=":material/build:",
            key=f"take_away_{where}_prepare",
            disabled=busy or bool(missing[what]),
        )
        and not busy
    ):
        st.session_state[key] = Preparing(what, fetch.start_export(store.home, run.id, what))
        st.rerun()  # redraw now: the status shows and Prepare is disabled
    if current is not None and current.state is None:
        _pending(key, choices[current.what])
    elif current is not None:
        _outcome(run, current, choices[current.what], where)
    with st.expander("For developers"):
        st.caption("Watch this run's curves in TensorBoard (`pip install tensorboard`):")
        st.code(runfiles.tensorboard_command(store, run.id), language="bash")


@st.fragment(run_every=studio.POLL_SECONDS)
def _pending(key: str, title: str) -> None:
    """Polls the child; when it ends, the page reruns once to show the outcome."""
    current = st.session_state.get(key)
    if current is None or current.state is not None:
        return
    state = fetch.poll(current.job)
    if state.status == "running":
        st.info(
            f"Preparing {title}... {state.seconds:.0f} s so far. This updates by itself; the "
            "rest of the studio stays usable.",
            icon=":material/hourglass:",
        )
        return
    st.session_state[key] = Preparing(current.what, current.job, state)
    st.rerun(scope="app")


def _outcome(run: Run, done: Preparing, title: str, where: str) -> None:
    state = done.state
    if state.status == "failed" or state.prepared is None:
        reason = (state.reason or "no reason was given").rstrip(".")
        advice = next(
            (plain for piece, plain in _ADVICE if piece in reason),
            "Try again, or try another format.",
        )
        plain = f"{title} could not be prepared: {messages.md(reason)}. {advice}"
        messages.problem(plain, state.detail)
        return
    path = state.prepared.path
    if not path.is_file():
        st.warning("The prepared file is gone from the server; click Prepare again.")
        return
    st.success(f"{title} is ready ({path.stat().st_size / 1e6:.1f} MB).")
    for line in state.prepared.summary:
        st.caption(messages.md(line))
    st.download_button(
        f"Download {file_name(run, path)}",
        data=path.read_bytes,  # read when clicked, not on every rerun
        file_name=file_name(run, path),
        mime=MIME.get(path.suffix, "application/octet-stream"),
        icon=":material/download:",
        key=f"take_away_{where}_download",
        on_click="ignore",
    )


def file_name(run: Run, path: Path) -> str:
    """The name the browser saves it as: prefixed with the run id, so downloads never clash."""
    return path.name if path.name.startswith(run.id) else f"{run.id}-{path.name}"
