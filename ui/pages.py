"""The app's pages in navigation order, and links between them."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class PageSpec:
    file: str
    title: str
    icon: str


# Every page of the app, in navigation order: the router builds st.navigation from this table,
# and links between pages use its keys. The folder is not called "pages/": Streamlit treats a
# "pages/" folder beside the main script as a legacy multipage app, and a deep link opened as
# the first request after a server start then showed the auto-generated navigation.
PAGES: dict[str, PageSpec] = {
    "home": PageSpec("app_pages/0_home.py", "Start here", ":material/home:"),
    "data": PageSpec("app_pages/1_data.py", "Data", ":material/photo_library:"),
    "strategy": PageSpec("app_pages/2_strategy.py", "Strategy", ":material/alt_route:"),
    "train": PageSpec("app_pages/3_train.py", "Train", ":material/model_training:"),
    "predict": PageSpec("app_pages/4_predict.py", "Predict", ":material/online_prediction:"),
    "compare": PageSpec("app_pages/5_compare.py", "Compare", ":material/compare_arrows:"),
    "runs": PageSpec("app_pages/6_runs.py", "Runs", ":material/list_alt:"),
}


def go_to(page: str, label: str, icon: str | None = None) -> None:
    """A link to another page (plain text when the page runs on its own, outside the app)."""
    try:
        st.page_link(PAGES[page].file, label=label, icon=icon)
    except Exception:  # noqa: BLE001 - StreamlitPageNotFoundError outside st.navigation
        st.caption(label)
