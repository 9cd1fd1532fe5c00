"""A dataset's first scan, off the Streamlit script thread: pages ask `ready(folder, home)`.

The scan runs in a background thread (one per folder and home, shared by every session) and
fills the scan cache (core.data.scan_cache); the page shows its progress, polled, and stays
usable meanwhile (the user may leave it and come back). Once the thread is done the page is
redrawn and scans in its own thread, now answered by the cache in a fraction of a second. A
scan that ends within QUICK_SECONDS (a small or already read folder) shows nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from core.data import audio, datasets
from core.data.scan_cache import ScanCache
from core.reports.report import scan_words

QUICK_SECONDS = 1.0  # how long the script thread waits for a scan before showing its progress
POLL_SECONDS = 1.0


@dataclass
class _Scan:
    """One background scan; `progress` is replaced (never changed) by the scanning thread."""

    thread: threading.Thread | None = None
    progress: datasets.ScanProgress | None = None
    done: threading.Event = field(default_factory=threading.Event)


@st.cache_resource(show_spinner=False)
def _scans() -> dict[tuple, _Scan]:
    """Every session's background scans, by (folder signature, home)."""
    return {}


_LOCK = threading.Lock()


def _run(job: _Scan, folder: str, home: str) -> None:
    def update(progress: datasets.ScanProgress) -> None:
        job.progress = progress

    try:
        audio.scan_dataset(folder, cache=ScanCache(home), progress=update)
    except Exception:  # noqa: BLE001 - the page's own scan then says what is wrong
        pass
    finally:
        job.done.set()


def _started(signature: tuple[str, int, int], home: str) -> tuple[tuple, _Scan]:
    key, folder = (signature, home), signature[0]
    with _LOCK:
        job = _scans().get(key)
        if job is None:
            job = _scans()[key] = _Scan()
            job.thread = threading.Thread(
                target=_run, args=(job, folder, home), name="dataset-scan", daemon=True
            )
            job.thread.start()
    return key, job


def ready(signature: tuple[str, int, int], home: str | Path) -> bool:
    """True when the files of the dataset with this session.folder_signature are read (the
    page may scan now, quickly); else its progress is shown, refreshed until the scan is
    done, and False."""
    key, job = _started(signature, str(home))
    if job.done.wait(QUICK_SECONDS):
        return True
    st.fragment(lambda: _show(key), run_every=POLL_SECONDS)()
    return False


def _show(key: tuple) -> None:
    job = _scans().get(key)
    if job is None or job.done.is_set():
        st.rerun()  # the whole page, now with the dataset
    progress = job.progress
    if progress is None:
        st.info("Reading the dataset: listing its files...")
        return
    st.info(
        scan_words(progress)[:1].upper() + scan_words(progress)[1:] + ". You can use other "
        "pages meanwhile: the files are read once, then remembered."
    )
    st.progress(progress.done / max(1, progress.total))
