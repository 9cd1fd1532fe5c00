"""What the pages say: messages a button callback leaves for the next run (flash), errors in
plain words with the detail folded (problem), the one handler for "no" (refusals), the page
guard, and user text escaped for Markdown (md)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st

from core.jobs import runs
from core.platform.refusal import Refusal

log = logging.getLogger("studio.pages")
FLASH = "_flash"


def guarded(body: Callable[[], None]) -> None:
    """Run a page body; an unexpected exception becomes a message, never a traceback."""
    try:
        body()
    except Exception as exc:  # noqa: BLE001 - the user sees a message, the log has the details
        log.exception("page error")
        problem(FAULT, f"{type(exc).__name__}: {exc}")


class Caught:
    """What a refusals() block raised instead of finishing: a Refusal (its words were shown)
    or a fault (shown as one); false when the block finished."""

    def __init__(self) -> None:
        self.refusal: Refusal | None = None
        self.fault: Exception | None = None

    def __bool__(self) -> bool:
        return self.refusal is not None or self.fault is not None


@contextmanager
def refusals(intro: str = "", kind: str = "error", later: bool = False) -> Iterator[Caught]:
    """The pages' one handler for "no". A core.platform.refusal.Refusal raised in the block
    ends it and is shown as a message, "intro: its words" (kind: "error", "warning" or
    "info"; a busy runs.Refused is a warning); `later` flashes it for the page's next run
    instead (a button callback cannot place elements). Anything else is a fault: logged,
    and shown with its technical detail folded, never as a traceback.

        with messages.refusals("This dataset cannot be read") as refused:
            found = scan(folder)
        if refused:
            return None
    """
    caught = Caught()
    try:
        yield caught
    except Refusal as exc:
        caught.refusal = exc
        say_refusal(exc, intro, kind, later)
    except Exception as exc:  # noqa: BLE001 - a fault is shown as one, the log has the details
        caught.fault = exc
        log.exception("page error")
        plain = f"{intro}: something unexpected went wrong." if intro else FAULT
        detail = f"{type(exc).__name__}: {exc}"
        if later:
            flash("error", plain, detail)
        else:
            problem(plain, detail)


FAULT = (
    "Something unexpected went wrong on this page. Your data and runs are safe: change a "
    "setting or reload the page to try again."
)


def say_refusal(
    refusal: Refusal,
    intro: str = "",
    kind: str = "error",
    later: bool = False,
    busy_kind: str = "warning",
) -> None:
    """Show (or, later, flash) a Refusal's words after `intro`; a busy runs.Refused (another
    run is under way) as busy_kind."""
    kind = busy_kind if getattr(refusal, "busy", False) else kind
    message = f"{intro}: {md(refusal.words)}" if intro else md(refusal.words)  # may hold paths
    if later:
        flash(kind, message)
    else:
        getattr(st, kind)(message)


def problem(plain: str, detail: str | None = None) -> None:
    """An error as a person needs it: what happened and what to do next, in plain words; the
    technical detail (exception text, layer names) folded away under "Technical detail"."""
    st.error(plain)
    if detail:
        with st.expander("Technical detail"):
            st.code(detail, language=None)


def flash(kind: str, message: str, detail: str | None = None) -> None:
    """A message for the next run of the page (callbacks cannot place elements well); an
    error with a technical detail is shown as a problem(), the detail folded."""
    st.session_state[FLASH] = (kind, message, detail)


def flash_refusal(outcome: object, busy_kind: str = "warning") -> bool:
    """Flash a returned core.jobs.runs.Refused (busy: a warning, or busy_kind; wrong settings:
    an error); True when it was one, so the callback stops there."""
    if not isinstance(outcome, runs.Refused):
        return False
    say_refusal(outcome, later=True, busy_kind=busy_kind)
    return True


def show_flash() -> None:
    kind, message, detail = st.session_state.pop(FLASH, (None, None, None))
    if kind == "error" and detail:
        problem(message, detail)
    elif kind:
        getattr(st, kind)(message)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def md(text: object) -> str:
    """User text (class or file names) escaped for Streamlit Markdown."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))
