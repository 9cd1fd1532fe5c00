"""ui.messages.problem and the page guard: plain words first, the technical detail folded."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page():
    from ui import messages

    def broken() -> None:
        raise KeyError("block4_pool")

    messages.guarded(broken)


def test_an_unexpected_error_is_plain_words_with_the_detail_folded():
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception
    (error,) = at.error
    assert "Your data and runs are safe" in error.value and "block4_pool" not in error.value
    (detail,) = at.expander
    assert detail.label == "Technical detail"
    assert "KeyError: 'block4_pool'" in detail.get("code")[0].value


def _refusing_page():
    import streamlit as st

    from core.data.datasets import DatasetError
    from core.jobs.runs import Refused
    from ui import messages

    with messages.refusals("This dataset cannot be read") as refused:
        raise DatasetError("no class folders in /data/my_set")
    st.write(f"refused: {bool(refused)}")
    with messages.refusals() as busy:
        raise Refused("A run is already under way.", busy=True)
    with messages.refusals("Nothing to say") as fine:
        st.write("the block finished")
    st.write(f"busy: {bool(busy)}, fine: {bool(fine)}")
    with messages.refusals("The map cannot be drawn") as faulty:
        raise KeyError("block4_pool")
    st.write(f"fault: {type(faulty.fault).__name__}")


def test_refusals_shows_a_refusals_words_and_a_fault_folded_never_a_traceback():
    at = AppTest.from_function(_refusing_page, default_timeout=60).run()
    assert not at.exception
    written = [m.value for m in at.markdown]
    assert written == ["refused: True", "the block finished", "busy: True, fine: False"] + [
        "fault: KeyError"
    ]
    refusal, fault = at.error
    assert refusal.value == "This dataset cannot be read: no class folders in /data/my\\_set"
    assert fault.value == "The map cannot be drawn: something unexpected went wrong."
    assert [w.value for w in at.warning] == ["A run is already under way\\."]
    (detail,) = at.expander
    assert "KeyError: 'block4_pool'" in detail.get("code")[0].value


def _flashing_page():
    import streamlit as st

    from core.data.overlay import EditError
    from ui import messages

    def refuse() -> None:
        with messages.refusals(later=True):
            raise EditError("that class does not exist")

    def crash() -> None:
        with messages.refusals("Not moved", later=True):
            raise ZeroDivisionError("division by zero")

    messages.show_flash()
    st.button("refuse", key="refuse", on_click=refuse)
    st.button("crash", key="crash", on_click=crash)


def test_refusals_later_flashes_the_words_for_the_next_run_and_a_fault_with_its_detail():
    at = AppTest.from_function(_flashing_page, default_timeout=60).run()
    at.button(key="refuse").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["that class does not exist"]
    at.button(key="crash").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Not moved: something unexpected went wrong."]
    assert "ZeroDivisionError: division by zero" in at.expander[0].get("code")[0].value
