"""VGG16 transfer-learning studio: the router. Pages live in app_pages/, the work in core/."""

import streamlit as st

from ui import sidebar
from ui.pages import PAGES
from ui.session_keys import keep_browser_id
from ui.workspace import remember_workspace, restore_workspace

st.set_page_config(page_title="VGG16 studio", page_icon=":material/neurology:", layout="wide")

page = st.navigation(
    [
        st.Page(spec.file, title=spec.title, icon=spec.icon, default=key == "home")
        for key, spec in PAGES.items()
    ]
)
restore_workspace()  # a reload or a new tab comes back to the last dataset and settings
remember_workspace()
with st.sidebar:
    keep_browser_id()  # a reload of this browser is the same person (whose runs, uploads)
page.run()
remember_workspace()  # settings the page itself set (not only those of widget callbacks)
# after the page, so it tells what the page has just set (a dataset extracted, a run picked)
sidebar.render()
