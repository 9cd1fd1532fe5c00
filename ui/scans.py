"""Datasets as the pages read them: cached scans and thumbnails, and the guard of pages that
need a usable dataset."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.data import audio, datasets, overlay, session
from core.data.imaging import UnreadableImage, load_pil_rgb
from core.data.scan_cache import ScanCache
from ui import messages, pages, scanning, session_keys, studio


@st.cache_data(show_spinner="Reading the dataset...", max_entries=32)
def _scan(signature: tuple[str, int, int], edits: str, home: str) -> datasets.Scan:
    cache = ScanCache(home)
    return audio.scan_dataset(signature[0], edits=overlay.loads(edits), cache=cache)


def scan(folder: str) -> datasets.Scan:
    """audio.scan_dataset (images, or sound clips) with the dataset's edits applied (the
    overlay: relabelled and excluded files), cached by folder, the newest modification time
    below it and the edits; files are read once per studio home (the scan cache, which the
    worker and the CLI share). Pages showing a dataset call `read`, which lets a long first
    scan run in the background."""
    return _scan_signed(folder, session.folder_signature(folder))


def _scan_signed(folder: str, signature: tuple[str, int, int]) -> datasets.Scan:
    home = studio.get_store().home
    edits = overlay.load(home, folder)
    return _scan(signature, overlay.dumps(edits), str(home))


def read(folder: str) -> datasets.Scan | None:
    """`scan`, once its files are read: None while a long first scan runs in a background
    thread (scanning.ready shows its progress). The folder is walked once for both (the walk
    is the signature: a rerun on a large dataset paid it twice)."""
    signature = session.folder_signature(folder)
    if not scanning.ready(signature, studio.get_store().home):
        return None
    return _scan_signed(folder, signature)


@st.cache_data(show_spinner=False, max_entries=64)
def _thumbnails(paths: tuple[str, ...], size: int) -> list[np.ndarray]:
    out = []
    for path in paths:
        try:
            image = load_pil_rgb(path)
        except UnreadableImage:
            continue
        image.thumbnail((size, size))
        out.append(np.asarray(image))
    return out


def thumbnails(paths: list[str], size: int = 96) -> list[np.ndarray]:
    return _thumbnails(tuple(paths), size)


def usable_scan(folder: str) -> datasets.Scan | None:
    """The dataset's (cached) scan, or an error saying what to fix and None; None with the
    progress shown while a long first scan runs in the background."""
    with messages.refusals("This dataset cannot be read") as refused:
        found = read(folder)
    if refused or found is None:
        return None
    if not found.ok:
        st.error(
            "Fix the dataset first (see the Data page): " + messages.md("; ".join(found.errors))
        )
        return None
    return found


def ready_dataset() -> tuple[str, datasets.Scan] | None:
    """The guard of pages that need a dataset: (folder, scan), or a message saying what to
    do (choose one, or fix it) and None."""
    folder = need_dataset()
    found = usable_scan(folder) if folder is not None else None
    return None if found is None else (folder, found)


def need_dataset() -> str | None:
    """The current dataset, or a guiding message and None."""
    folder = session_keys.current_dataset()
    if folder is None:
        st.info(
            "First choose the pictures to learn from: open the Data page and click "
            "'Use the sample dataset' (or pick your own)."
        )
        pages.go_to("data", "Go to the Data page", icon=":material/arrow_forward:")
    return folder
