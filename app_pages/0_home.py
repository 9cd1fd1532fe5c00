"""Start here: the four steps, and the one-click way in (the built-in sample)."""

import streamlit as st
from streamlit.errors import StreamlitAPIException

from core.data import samples
from ui import messages, pages, session_keys, studio


def use_sample() -> None:
    with st.spinner("Writing the built-in sample (500 small pictures of digits)..."):
        folder = samples.prepare("digits", studio.get_store().home)
    session_keys.set_dataset(folder, "built-in sample: handwritten digits")
    try:
        st.switch_page(pages.PAGES["data"].file)
    except StreamlitAPIException:  # the page runs on its own, outside the app's navigation
        st.success("The sample is ready: open the Data page to look at it.")


def body() -> None:
    studio.page_header(
        "VGG16 transfer-learning studio",
        "Teach a computer to recognise your own pictures by reusing VGG16, a network "
        "that already learned to see from a million photos.",
    )
    st.markdown(
        "1. **Data**: choose the pictures, one folder per class.\n"
        "2. **Strategy**: measure how much of VGG16 to reuse (optional, the studio advises).\n"
        "3. **Train**: start training and watch the accuracy grow.\n"
        "4. **Predict**: show the model a new picture and see what it thinks and where it "
        "looked.\n\n"
        "**Compare** runs every strategy on the same pictures, side by side."
    )
    st.write(
        "The quickest way in is the built-in sample: 500 handwritten digits that work "
        "without internet."
    )
    if st.button(
        "Use the sample dataset", type="primary", icon=":material/dataset:", key="home_use_sample"
    ):
        use_sample()
    pages.go_to(
        "data", "Or choose your own pictures on the Data page", icon=":material/photo_library:"
    )


messages.guarded(body)
