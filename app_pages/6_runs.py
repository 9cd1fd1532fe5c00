"""Runs: every run in one list, filtered by dataset, strategy, tag and status; rename, tag or
delete one (the rules live in core.jobs.run_admin)."""

import time

import pandas as pd
import streamlit as st

from core.jobs import run_admin
from core.jobs.run_admin import RunFilter
from core.reports import report
from core.runs.store import Run
from ui import common

DELETE_ASKED = "_runs_delete_asked"  # the run whose Delete awaits a second click
RENAME_ASKED = "_runs_rename_asked"  # (run id, new name) awaiting a confirmation
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


def _score(value: float | None) -> str:
    """A score as text, blank when there is none (a number column showed "None")."""
    return f"{value:.1%}" if value is not None else ""


def _described(run: Run) -> dict:
    """What tells runs apart, one column each, so no part is cut off a long name (seen: two
    runs that looked identical)."""
    return {
        "name": run.display_name or "",
        "what": report.task_title(run),
        "weights": report.weights_label(run),
        "size": f"{run.config.image_size} px",
        "dataset": run_admin.dataset_name(run),
    }


def show_table(runs: list[Run]) -> None:
    """Training runs with their scores; measurements, maps and learning-rate tests, which
    have none, in a list of their own."""
    trained = [r for r in runs if report.is_training(r)]
    side = [r for r in runs if not report.is_training(r)]
    rows = [
        {
            **_described(r),
            "id": r.id,  # in sight: runs alike in every other column differ here
            "status": report.STATUS_WORDS.get(r.status, r.status),
            "test accuracy": _score(r.test_accuracy),  # the score; validation chose the epoch
            "validation accuracy": _score(r.val_accuracy),
            "tags": ", ".join(r.tags),
            "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created)),
        }
        for r in trained
    ]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    if side:
        st.markdown("**Measurements, maps and learning-rate tests**")
        st.dataframe(
            pd.DataFrame(
                {
                    **_described(r),
                    "status": report.STATUS_WORDS.get(r.status, r.status),
                    "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created)),
                    "id": r.id,
                }
                for r in side
            ),
            hide_index=True,
            key="runs_side_table",
        )


# -- callbacks (core.jobs.run_admin does the work; a refusal becomes the next run's message) --
def ask_rename(run_id: str) -> None:
    """Rename's first click: the new name waits for a confirmation."""
    st.session_state[RENAME_ASKED] = (run_id, st.session_state[f"runs_name_{run_id}"])


def rename(run_id: str, name: str) -> None:
    st.session_state.pop(RENAME_ASKED, None)
    outcome = run_admin.rename(common.get_store(), run_id, name)
    if not common.flash_refusal(outcome):
        common.flash("success", f"Renamed to {common.md(report.run_title(outcome))}.")


def add_tag(run_id: str) -> None:
    key = f"runs_new_tag_{run_id}"
    if not common.flash_refusal(
        run_admin.add_tag(common.get_store(), run_id, st.session_state[key])
    ):
        st.session_state[key] = ""


def remove_tag(run_id: str, tag: str) -> None:
    common.flash_refusal(run_admin.remove_tag(common.get_store(), run_id, tag))


def delete(run_id: str) -> None:
    st.session_state.pop(DELETE_ASKED, None)
    outcome = run_admin.delete(common.get_store(), run_id)
    if common.flash_refusal(outcome):
        return
    if st.session_state.get(common.TRAIN_RUN) == run_id:
        st.session_state.pop(common.TRAIN_RUN)  # the Train and Predict pages forget it too
    common.flash("success", common.md(outcome.describe()))


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
        st.button("Rename", key=f"runs_rename_{run.id}", on_click=ask_rename, args=(run.id,))
        rename_confirmation(run)
    with right:
        st.text_input("New tag", key=f"runs_new_tag_{run.id}", placeholder="e.g. keep")
        st.button("Add tag", key=f"runs_add_tag_{run.id}", on_click=add_tag, args=(run.id,))
        for i, tag in enumerate(run.tags):
            st.button(
                f"Remove tag {common.md(tag)}",
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
    what = f"to {common.md(new)}" if new else "back to its description (no name)"
    st.warning(f"Rename {common.md(old)} {what}?")
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
        f"This deletes {common.md(report.run_title(run))} with its model, exports and reports. "
        f"It cannot be undone.{group} Delete it?"
    )
    yes, no = st.columns(2)
    yes.button(
        "Yes, delete it", key="runs_delete_yes", type="primary", on_click=delete, args=(run.id,)
    )
    no.button("Cancel", key="runs_delete_no", on_click=st.session_state.pop, args=(DELETE_ASKED,))


def body() -> None:
    store = common.page_header(
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
    chosen = store.get(common.pick_run("Run", shown, PICKED))
    name_and_tags(chosen)
    delete_section(chosen)


common.guarded(body)
