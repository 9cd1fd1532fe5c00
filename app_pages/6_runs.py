"""Runs: every run in one list, filtered by dataset, strategy, tag and status; rename, tag or
delete one (the rules live in core.jobs.run_admin)."""

import time

import pandas as pd
import streamlit as st

from core.jobs import run_admin
from core.jobs.run_admin import RunFilter
from core.reports import report
from core.runs.store import Run
from ui import messages, session_keys, studio

DELETE_ASKED = "_runs_delete_asked"  # the run whose Delete awaits a second click
PICKED = "runs_picked"  # the run being managed


def filter_widgets(runs: list[Run]) -> RunFilter:
    """Four multiselects from the values the runs hold; nothing chosen: every run."""
    found = run_admin.facets(runs)
    cols = st.columns(4)
    datasets = cols[0].multiselect("Dataset", found.datasets, key="runs_f_dataset")
    strategies = cols[1].multiselect(
        "Strategy",
        found.strategies,
        format_func=lambda k: report.SIDE_TASKS.get(k) or report.strategy_title(k),
        key="runs_f_strategy",
    )
    tags = cols[2].multiselect("Tags (all of)", found.tags, key="runs_f_tag")
    statuses = cols[3].multiselect(
        "Status",
        found.statuses,
        format_func=lambda s: report.STATUS_WORDS.get(s, s),
        key="runs_f_status",
    )
    return RunFilter(tuple(datasets), tuple(strategies), tuple(tags), tuple(statuses))


def show_table(runs: list[Run]) -> None:
    rows = [
        {
            "run": report.run_title(r),
            "status": report.STATUS_WORDS.get(r.status, r.status),
            "test accuracy": r.test_accuracy,  # the score; validation chose the checkpoint
            "validation accuracy": r.val_accuracy,
            "tags": ", ".join(r.tags),
            "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created)),
            "id": r.id,
        }
        for r in runs
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="%.3f"),
            "validation accuracy": st.column_config.NumberColumn(format="%.3f"),
        },
    )


# -- callbacks (core.jobs.run_admin does the work; a refusal becomes the next run's message) --
def rename(run_id: str) -> None:
    outcome = run_admin.rename(studio.get_store(), run_id, st.session_state[f"runs_name_{run_id}"])
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


# -- one run ------------------------------------------------------------------------------------
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
        st.button("Rename", key=f"runs_rename_{run.id}", on_click=rename, args=(run.id,))
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


def body() -> None:
    store = studio.page_header(
        "Runs",
        "Every run of this studio: find runs by dataset, strategy, tag or status; name, tag or "
        "delete them.",
    )
    runs = store.list(limit=10_000)
    if not runs:
        st.info("No run yet: start one on the Train or Compare page.")
        return
    shown = run_admin.filter_runs(runs, filter_widgets(runs))
    st.caption(f"{len(shown)} of {len(runs)} run(s).")
    if not shown:
        return
    show_table(shown)
    st.subheader("Manage a run")
    chosen = store.get(studio.pick_run("Run", shown, PICKED))
    name_and_tags(chosen)
    delete_section(chosen)


messages.guarded(body)
