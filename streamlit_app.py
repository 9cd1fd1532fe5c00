"""VGG16 transfer-learning studio: the router. Pages live in pages/, the work in core/."""

import streamlit as st

from ui import sidebar

st.set_page_config(page_title="VGG16 studio", page_icon=":material/neurology:", layout="wide")

page = st.navigation(
    [
        st.Page("pages/0_home.py", title="Start here", icon=":material/home:", default=True),
        st.Page("pages/1_data.py", title="Data", icon=":material/photo_library:"),
        st.Page("pages/2_strategy.py", title="Strategy", icon=":material/alt_route:"),
        st.Page("pages/3_train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/4_predict.py", title="Predict", icon=":material/online_prediction:"),
        st.Page("pages/5_compare.py", title="Compare", icon=":material/compare_arrows:"),
    ]
)
sidebar.render()
page.run()
