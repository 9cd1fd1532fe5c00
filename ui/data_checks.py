"""The Data page's checks of a dataset: unreadable files, duplicates, leakage between the sides,
what the scan left out, and class folders differing only by case (merged after a second click)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.data import datasets
from ui import messages

MERGE_ASKED = "_data_merge_asked"  # the folder whose case-duplicate merge awaits a second click


def show_problems(found: datasets.Scan) -> None:
    duplicates, leakage = found.duplicates(), found.leakage()
    show_skipped(found)
    if not (found.unreadable or duplicates or leakage or found.skipped):
        st.success(
            "Every picture can be read, and there are no duplicates and no picture in "
            "both training and validation or test."
        )
        return
    if found.unreadable:
        with st.expander(f"{len(found.unreadable)} unreadable file(s): they will be skipped"):
            st.dataframe(
                pd.DataFrame(found.unreadable, columns=["file", "reason"]), hide_index=True
            )
    if duplicates:
        with st.expander(f"{len(duplicates)} group(s) of identical pictures"):
            st.dataframe(
                pd.DataFrame({"identical files": [", ".join(g) for g in duplicates]}),
                hide_index=True,
            )
    if leakage:
        with st.expander(f"{len(leakage)} picture(s) in training and in validation or test"):
            st.dataframe(
                pd.DataFrame(leakage, columns=["training file", "validation or test file"]),
                hide_index=True,
            )


def show_skipped(found: datasets.Scan) -> None:
    """Links, unsupported formats and the like the scan left out: one folded table, however
    many there are (the warnings above say how many of each)."""
    if found.skipped:
        with st.expander(f"{len(found.skipped)} item(s) left out of the dataset, and why"):
            table = pd.DataFrame(found.skipped, columns=["file", "reason"])
            st.dataframe(table, hide_index=True)


def offer_case_merge(found: datasets.Scan, folder: str) -> None:
    """Class folders differing only by case (Cat / cat) train as separate classes: offer to
    merge them (datasets.merge_case_duplicates: files move, none is overwritten), after a
    second click, since it moves the person's own files."""
    groups = found.case_duplicates()
    if not groups:
        return
    names = "; ".join(" and ".join(group) for group in groups)
    if st.session_state.get(MERGE_ASKED) != folder:
        st.button(
            f"Merge {messages.md(names)}",
            key="data_merge_case",
            icon=":material/merge:",
            on_click=st.session_state.__setitem__,
            args=(MERGE_ASKED, folder),
        )
        return
    st.warning(
        f"This moves the files of {messages.md(names)} into one folder each, inside "
        f"{messages.md(folder)} (no file is overwritten; a clashing name gets a number). Go on?"
    )
    yes, no = st.columns(2)
    yes.button("Yes, merge them", key="data_merge_case_yes", on_click=merge_cases, args=(folder,))
    no.button(
        "Cancel", key="data_merge_case_no", on_click=st.session_state.pop, args=(MERGE_ASKED,)
    )


def merge_cases(folder: str) -> None:
    st.session_state.pop(MERGE_ASKED, None)
    try:
        merged = datasets.merge_case_duplicates(folder)
    except (datasets.DatasetError, OSError) as exc:
        messages.flash("error", f"The folders could not be merged: {messages.md(exc)}")
        return
    into = "; ".join(f"{', '.join(old)} into {keep}" for keep, old in merged.items())
    messages.flash("success", f"Merged {messages.md(into)}.")
