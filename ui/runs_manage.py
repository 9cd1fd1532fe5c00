"""The Runs page's management of one run: rename it, tag it, or delete it with its files after a
second click (the rules live in core.jobs.run_admin)."""

from __future__ import annotations

import streamlit as st

from core.jobs import run_admin
from core.reports import report
from core.runs.store import Run
from ui import messages, session_keys, studio

DELETE_ASKED = "_runs_delete_asked"  # the run whose Delete awaits a second click
RENAME_ASKED = "_runs_rename_asked"  # (run id, new name) awaiting a confirmation


def ask_rename(run_id: str) -> None:
    """Rename's first click: the new name waits for a confirmation."""
    st.session_state[RENAME_ASKED] = (run_id, st.session_state[f"runs_name_{run_id}"])


def rename(run_id: str, name: str) -> None:
    st.session_state.pop(RENAME_ASKED, None)
    outcome = run_admin.rename(studio.get_store(), run_id, name)
    if not messages.flash_refusal(outcome):
        messages.flash("success", f"Renamed to {messages.md(report.run_title(outcome))}.")


def add_tag(run_id: str) -> None:
    key = f"runs_new_tag_{run_id}"
    if not messages.flash_refusal(
        run_admin.add_tag(studio.get_store(), run_id, st.session_state[key])
    ):
        st.session_state[key] = ""


def remove_tag(run_id: str, tag: str) -> None:
    messages.flash_refusal(run_admin.remove_tag(studio.get_store(), run_id, tag))


def delete(run_id: str) -> None:
    st.session_state.pop(DELETE_ASKED, None)
    outcome = run_admin.delete(studio.get_store(), run_id)
    if messages.flash_refusal(outcome):
        return
    if st.session_state.get(session_keys.TRAIN_RUN) == run_id:
        st.session_state.pop(session_keys.TRAIN_RUN)  # the Train and Predict pages forget it too
    messages.flash("success", messages.md(outcome.describe()))


def name_and_tags(run: Run) -> None:
    left, right = st.columns(2, gap="medium")
    with left:
        st.text_input(
            "Name (the description and id stay)",
            value=run.display_name or "",
            max_chars=run_admin.MAX_NAME_LENGTH,
            key=f"runs_name_{run.id}",
            placeholder="e.g. baseline",
        )
        st.button("Rename", key=f"runs_rename_{run.id}", on_click=ask_rename, args=(run.id,))
        rename_confirmation(run)
    with right:
        st.text_input("New tag", key=f"runs_new_tag_{run.id}", placeholder="e.g. keep")
        st.button("Add tag", key=f"runs_add_tag_{run.id}", on_click=add_tag, args=(run.id,))
        for i, tag in enumerate(run.tags):
            st.button(
                f"Remove tag {messages.md(tag)}",
                icon=":material/close:",
                key=f"runs_rm_tag_{run.id}_{i}",
                on_click=remove_tag,
                args=(run.id, tag),
            )


def rename_confirmation(run: Run) -> None:
    """After Rename: the old and new names, and Yes / Cancel."""
    asked = st.session_state.get(RENAME_ASKED)
    if not asked or asked[0] != run.id:
        return
    new = asked[1].strip()
    old = run.display_name or report.run_title(run)
    what = f"to {messages.md(new)}" if new else "back to its description (no name)"
    st.warning(f"Rename {messages.md(old)} {what}?")
    yes, no = st.columns(2)
    yes.button("Yes, rename", key="runs_rename_yes", on_click=rename, args=(run.id, new))
    no.button("Cancel", key="runs_rename_no", on_click=st.session_state.pop, args=(RENAME_ASKED,))


def delete_section(run: Run) -> None:
    """Delete after a second click that names what goes; an active run cannot be deleted."""
    if run.active:
        st.caption("This run is under way: stop it (or wait for it to end) to delete it.")
        return
    if st.session_state.get(DELETE_ASKED) != run.id:
        st.button(
            "Delete this run",
            icon=":material/delete:",
            key="runs_delete",
            on_click=st.session_state.__setitem__,
            args=(DELETE_ASKED, run.id),
        )
        return
    group = " It belongs to a comparison: the comparison's other runs stay." if run.group_id else ""
    st.warning(
        f"This deletes {messages.md(report.run_title(run))} with its model, exports and reports. "
        f"It cannot be undone.{group} Delete it?"
    )
    yes, no = st.columns(2)
    yes.button(
        "Yes, delete it", key="runs_delete_yes", type="primary", on_click=delete, args=(run.id,)
    )
    no.button("Cancel", key="runs_delete_no", on_click=st.session_state.pop, args=(DELETE_ASKED,))
