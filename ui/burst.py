"""The webcam burst recorder: a small custom component (Streamlit components v2) whose frontend
is local HTML/CSS/JS (ui/burst_frontend/), so nothing is downloaded at run time. Hold its button
and it records frames at a chosen rate up to a chosen count; on release it returns them.
st.camera_input, one photo per click, is the fallback (see ui/record.py)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

FRONTEND = Path(__file__).resolve().parent / "burst_frontend"
MAX_SIDE = 480  # frames are scaled so their longer side is at most this (training resizes anyway)


def _asset(name: str) -> str:
    return (FRONTEND / name).read_text(encoding="utf-8")


_RECORDER = st.components.v2.component(
    "vgg16_studio_burst",
    html=_asset("burst.html"),
    css=_asset("burst.css"),
    js=_asset("burst.js"),
)


def recorder(key: str, fps: int, max_frames: int) -> list[str] | None:
    """Mount the recorder; the frames (JPEG data URLs) of a burst that just ended, else None
    (a trigger value: it is there for one rerun only, so a burst is never saved twice)."""
    result = _RECORDER(
        key=key,
        data={"fps": int(fps), "max_frames": int(max_frames), "max_side": MAX_SIDE},
        on_frames_change=lambda: None,
        height="content",
    )
    burst = getattr(result, "frames", None)
    if not isinstance(burst, dict):
        return None
    frames = burst.get("frames")
    return [str(f) for f in frames] if isinstance(frames, list) else None
