"""Runs: every run in one list, filtered by dataset, strategy, tag and status; rename, tag or
delete one (the rules live in core.jobs.run_admin)."""

import time

import pandas as pd
import streamlit as st

from core.jobs import run_admin
from core.jobs.run_admin import RunFilter
from core.reports import report
from core.runs.store import Run
from ui import messages, runs_manage, studio

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
    runs_manage.name_and_tags(chosen)
    runs_manage.delete_section(chosen)


messages.guarded(body)
