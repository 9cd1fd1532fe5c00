"""The Predict page's 'Many pictures' tab: a zip upload or a server folder classified in one go,
with a progress bar, the answers as a table and a CSV download."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.data import archive, session
from core.export import predict_batch
from core.reports import report
from core.runs.store import Run
from ui import messages, session_keys, studio

BATCH_RESULT = "_predict_batch_result"  # (run id, folder) -> rows
BATCH_FOLDERS = "_predict_batch_folders"  # zip upload file id -> extracted folder or error


def predict_folder(loaded, folder: Path, sound) -> list[dict]:
    """core.export.predict_batch.predict_folder with a progress bar."""
    total = len(predict_batch.batch_files(folder, sound))
    bar = st.progress(0.0, text=f"0 of {total} files")

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(1, total), text=f"{done} of {total} files")

    return predict_batch.predict_folder(loaded, folder, sound, on_progress=progress)


def extract(upload) -> tuple[str, str]:
    """("folder", where the zip went) or ("error", why it cannot be used)."""
    stem = "predict-" + Path(upload.name).stem
    try:
        target, _ = session.extract_upload(
            studio.get_store().home, session_keys.session_id(), upload, stem
        )
    except archive.ArchiveError as exc:
        return "error", f"This zip cannot be used: {exc}"
    return "folder", str(target)


def batch_source() -> Path | None:
    how = st.radio(
        "Pictures from",
        ("A zip upload", "A folder on the server"),
        horizontal=True,
        key="predict_batch_how",
    )
    if how == "A folder on the server":
        path = st.text_input("Folder path", key="predict_batch_folder").strip()
        if not path:
            return None
        folder = Path(path).expanduser()
        if not folder.is_dir():
            st.error(f"There is no folder at {messages.md(path)} on the server.")
            return None
        return folder
    upload = st.file_uploader("Zip of pictures", type=["zip"], key="predict_batch_zip")
    if upload is None:
        return None
    (kind, value), _ = session_keys.once_per_upload(BATCH_FOLDERS, upload, lambda: extract(upload))
    if kind == "error":
        st.error(messages.md(value))
        return None
    return Path(value)


def many_pictures(loaded, run: Run, sound) -> None:
    st.write(
        "Classify a whole zip or folder of pictures at once and download the answers as "
        "a table (CSV)."
    )
    folder = batch_source()
    if folder is None:
        return
    key = (run.id, str(folder))
    count = len(predict_batch.batch_files(folder, sound))
    st.caption(f"{count} file(s) to classify in {messages.md(folder.name)}.")
    if st.button("Classify them all", type="primary", key="predict_batch_go"):
        st.session_state[BATCH_RESULT] = {key: predict_folder(loaded, folder, sound)}
    rows = st.session_state.get(BATCH_RESULT, {}).get(key)
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
        st.download_button(
            "Download the answers (CSV)",
            report.to_csv(rows),
            file_name=f"predictions-{run.id}.csv",
            mime="text/csv",
            icon=":material/download:",
            key="predict_download",
            on_click="ignore",
        )
