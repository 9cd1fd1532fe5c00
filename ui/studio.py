"""The studio's run store as the pages see it: one store per studio home, each page's header,
runs on screen (polling, watching a run end, progress, Stop) and pickers of runs."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.jobs import worker
from core.platform import settings
from core.reports import report
from core.runs import store as store_mod
from core.runs.store import Run, Store
from ui import messages, session_keys

POLL_SECONDS = 1.0


@st.cache_resource(show_spinner=False)
def _store(home: str) -> Store:
    return Store(home)


def get_store() -> Store:
    """One Store per studio home ($STUDIO_HOME, default .studio), shared by all sessions."""
    return _store(str(settings.studio_home()))


def refresh_runs(store: Store) -> None:
    """Runs whose worker died become interrupted; queued runs get a worker if none is up."""
    worker.reap(store)  # does both


def active_runs(store: Store) -> list[Run]:
    return store.list(statuses=store_mod.ACTIVE)


def page_header(title: str, intro: str) -> Store:
    """Every page's start: its title and one sentence, the message a button callback left
    (flash), and the store with runs of dead workers marked interrupted."""
    st.title(title)
    st.write(intro)
    messages.show_flash()
    store = get_store()
    show_store_notices(store)
    refresh_runs(store)
    return store


NOTICES_SEEN = "_store_notices_seen"  # how many of the store's notices this session saw


def show_store_notices(store: Store) -> None:
    """What happened to the run database (moved aside as unreadable and replaced: where the old
    file went), shown once in each session as a warning; the store keeps the list."""
    seen = st.session_state.get(NOTICES_SEEN, 0)
    for notice in store.notices[seen:]:
        st.warning(messages.md(notice[:1].upper() + notice[1:]), icon=":material/database:")
    st.session_state[NOTICES_SEEN] = len(store.notices)


# -- runs on screen ---------------------------------------------------------------------------
def watch(key: str, token: object) -> None:
    """Note that the page was drawn while something (a run id) was active; see rerun_if_ended."""
    st.session_state[key] = token


def rerun_if_ended(key: str, token: object) -> None:
    """From a polling fragment, once `token`'s run is no longer active: if the page was drawn
    while it was (watch), redraw the whole page (results, Start buttons enabled again)."""
    if st.session_state.get(key) == token:
        st.session_state.pop(key)
        st.rerun()


def progress_of(run: Run) -> tuple[float | None, str]:
    """report.progress_view, knowing how many active runs were queued before this one."""
    ahead = None
    if run.status == store_mod.QUEUED:
        ahead = sum(1 for r in active_runs(get_store()) if r.created < run.created)
    return report.progress_view(run, ahead)


def side_run_progress(run_id: str, doing: str, seen_key: str) -> None:
    """From a polling fragment: a measurement's or a map's progress ('Measuring: ...') while it
    runs; once it has ended, the whole page is redrawn with its result (rerun_if_ended)."""
    run = get_store().get(run_id)
    if run.active:
        fraction, text = progress_of(run)
        st.info(f"{doing}: {messages.md(text)}")
        if fraction is not None:
            st.progress(fraction)
        return
    rerun_if_ended(seen_key, run.id)


def pick_run(label: str, runs: list[Run], key: str, preferred: str | None = None) -> str:
    """A selectbox of runs whose choice survives page switches: `preferred` (or the newest)
    until the user picks another; a choice that left the list falls back to it."""
    labels = {r.id: report.run_label(r) for r in runs}
    default = preferred if preferred in labels else runs[0].id
    if st.session_state.get(key) not in labels:
        st.session_state[key] = default
    chosen = st.selectbox(
        label, list(labels), format_func=labels.__getitem__, **session_keys.kept(key, default)
    )
    shown_runs([chosen])
    return chosen


def shown_runs(run_ids: list[str]) -> None:
    """Note the run(s) this page shows, for the sidebar (drawn after the page) to name."""
    st.session_state[session_keys.SHOWN_RUNS] = list(run_ids)


def pick_runs(label: str, runs: list[Run], key: str, default: list[str]) -> list[str]:
    """A multiselect of runs (named by report.run_name) whose choice survives page switches;
    runs that left the list drop out of it."""
    labels = {r.id: report.run_name(r) for r in runs}
    default = [i for i in default if i in labels]
    st.session_state[key] = [i for i in st.session_state.get(key, default) if i in labels]
    return st.multiselect(
        label, list(labels), format_func=labels.__getitem__, **session_keys.kept(key, default)
    )


STOP_PENDING = "_stop_pending"  # the run another session started that Stop was clicked for


def stop_button(run: Run, key: str) -> None:
    """Stop for an active run: one click for a run this session started; a run started
    elsewhere (another tab, the command line, before a reload) says whose it is and asks for
    a second click, so nobody stops someone else's run by accident."""
    whose = report.owner_words(run, session_keys.session_id())
    if whose is None:
        st.button("Stop", icon=":material/stop:", key=key, on_click=_stop, args=(run.id,))
        return
    st.caption(f"This run was {whose}.")
    if st.session_state.get(STOP_PENDING) != run.id:
        st.button(
            "Stop someone else's run",
            icon=":material/stop:",
            key=key,
            on_click=st.session_state.__setitem__,
            args=(STOP_PENDING, run.id),
        )
        return
    st.warning(f"This run was {whose}. Stop it anyway? Whoever started it loses the rest of it.")
    yes, no = st.columns(2)
    yes.button("Yes, stop it", key=f"{key}_confirm", on_click=_stop, args=(run.id,))
    no.button("Cancel", key=f"{key}_cancel", on_click=st.session_state.pop, args=(STOP_PENDING,))


def _stop(run_id: str) -> None:
    st.session_state.pop(STOP_PENDING, None)
    get_store().request_stop(run_id)


def poll(body: Callable[[], None], active: bool) -> None:
    """Render body in a fragment that reruns every POLL_SECONDS while `active`."""
    st.fragment(lambda: messages.guarded(body), run_every=POLL_SECONDS if active else None)()
