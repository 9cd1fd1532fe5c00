"""Start here: the four steps, and the one-click way in (the built-in sample)."""

from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitAPIException

from core.data import samples
from core.jobs import doctor
from core.model import device_facts
from ui import messages, pages, session_keys, studio

ABOUT_SECONDS = 60  # disk use and the worker's record are read again after this


def use_sample() -> None:
    with st.spinner("Writing the built-in sample (500 small pictures of digits)..."):
        folder = samples.prepare("digits", studio.get_store().home)
    session_keys.set_dataset(folder, "built-in sample: handwritten digits")
    try:
        st.switch_page(pages.PAGES["data"].file)
    except StreamlitAPIException:  # the page runs on its own, outside the app's navigation
        st.success("The sample is ready: open the Data page to look at it.")


@st.cache_data(ttl=ABOUT_SECONDS, show_spinner=False)
def machine_facts(home: str) -> doctor.MachineFacts:
    """What `python -m core doctor` says, with TensorFlow's view as the worker recorded it
    (the app never imports TensorFlow; asking a child process takes seconds: a button)."""
    return doctor.gather(Path(home), probe=False)


def ask_tensorflow(home: str) -> None:
    with st.spinner("Asking TensorFlow which devices it sees (a few seconds)..."):
        device_facts.tensorflow_view(Path(home))  # measured in a child process, recorded
    machine_facts.clear()


def about_this_machine() -> None:
    """Folded: the page a person pastes into a bug report (`python -m core doctor`)."""
    home = str(studio.get_store().home)
    with st.expander("About this machine", icon=":material/memory:"):
        facts = machine_facts(home)
        st.table({label: value for label, value in facts.lines()})
        if facts.gpu_mismatch:
            st.warning(facts.gpu_mismatch)
        if facts.tensorflow_gpus is None:
            st.button(
                "Ask TensorFlow which devices it sees",
                key="home_ask_tensorflow",
                on_click=ask_tensorflow,
                args=(home,),
            )
        st.caption(
            "The same as `python -m core doctor` (add `--json` for a bug report); "
            "`python -m core cache prune` frees the caches."
        )


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
    about_this_machine()


messages.guarded(body)
