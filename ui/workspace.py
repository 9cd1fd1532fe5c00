"""The workspace: what a reload or a second tab comes back to (this session's dataset, run
settings and last results, saved in the studio home)."""

from __future__ import annotations

import logging
import re

import streamlit as st

from core.runs import workspace
from ui import session_keys, studio

log = logging.getLogger("studio.pages")


WORKSPACE_SEEN = "_workspace_seen"  # the workspace as this session last read or wrote it
# session keys of chosen values that are not RunConfig fields: the per-phase optimizer and
# learning rate widgets (ui.train_settings.optimizer_key / lr_key)
# ... and the choice to go on without pretrained weights (Start waits for it)
CHOICE_KEY = re.compile(rf"^((opt|lr)_[a-z]+_[a-z0-9_]+|{session_keys.WITHOUT_PRETRAINED})$")


def current_workspace() -> workspace.Workspace:
    """This session's dataset, run settings (session keys named as RunConfig fields) and
    last results, as core.runs.workspace keeps them."""
    state = st.session_state
    return workspace.Workspace(
        dataset=state.get(session_keys.DATASET),
        dataset_label=state.get(session_keys.DATASET_LABEL) or "",
        audio_source=state.get(session_keys.AUDIO_SOURCE),
        settings=workspace.valid_settings(
            {name: state[name] for name in workspace.SETTINGS if name in state}
        ),
        train_run=state.get(session_keys.TRAIN_RUN),
        compare_group=state.get(session_keys.COMPARE_GROUP),
        applied_advice=state.get(session_keys.APPLIED_ADVICE),
        choices=workspace.plain(
            {k: state[k] for k in state if isinstance(k, str) and CHOICE_KEY.match(k)}
        ),
    )


def restore_workspace() -> None:
    """Once per session (a new tab, a reload): the studio home's saved workspace fills the
    session state, where this session has not set a value already."""
    if WORKSPACE_SEEN in st.session_state:
        return
    saved = workspace.load(studio.get_store().home)
    if saved is not None:
        values = {
            session_keys.DATASET: saved.dataset,
            session_keys.DATASET_LABEL: saved.dataset_label,
            session_keys.AUDIO_SOURCE: saved.audio_source,
            session_keys.TRAIN_RUN: saved.train_run,
            session_keys.COMPARE_GROUP: saved.compare_group,
            session_keys.APPLIED_ADVICE: saved.applied_advice,
            **saved.settings,
            **{k: v for k, v in saved.choices.items() if CHOICE_KEY.match(k)},
        }
        for key, value in values.items():
            if value is not None and key not in st.session_state:
                st.session_state[key] = value
    st.session_state[WORKSPACE_SEEN] = saved or workspace.Workspace()


def remember_workspace() -> None:
    """Save the workspace when this session changed it (not on every rerun: a tab that only
    looks never overwrites what another tab chose)."""
    now = current_workspace()
    if st.session_state.get(WORKSPACE_SEEN) == now:
        return
    try:
        workspace.save(now, studio.get_store().home)
    except OSError as exc:  # a full or read-only disk costs the reload memory, nothing else
        log.warning("workspace not saved: %s", exc)
    st.session_state[WORKSPACE_SEEN] = now
