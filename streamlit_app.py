"""VGG16 transfer-learning studio: the router. Pages live in app_pages/, the work in core/."""

import streamlit as st

from ui import sidebar
from ui.common import PAGES

st.set_page_config(page_title="VGG16 studio", page_icon=":material/neurology:", layout="wide")

page = st.navigation(
    [
        st.Page(spec.file, title=spec.title, icon=spec.icon, default=key == "home")
        for key, spec in PAGES.items()
    ]
)
sidebar.render()
page.run()
