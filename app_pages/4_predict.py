"""Predict: show a finished run's model new pictures (or sounds), see its top guesses and where
it looked (Grad-CAM); classify a whole zip or folder into a CSV.

The only page that uses TensorFlow in the app process: loading a model needs it. It gets it
only through ui/model_loader.py (memory growth first). The model is loaded once per run
(st.cache_resource keyed by run id + model hash)."""

from pathlib import Path

import pandas as pd
import streamlit as st

from core.data import archive, audio, session
from core.data.imaging import IMAGE_EXTENSIONS
from core.export import predict_batch
from core.reports import charts, report
from core.runs import store as store_mod
from core.runs.store import Run
from ui import common, live, model_loader, take_away

TOP_K = 5
IMAGE_TYPES = sorted(ext.lstrip(".") for ext in IMAGE_EXTENSIONS)
AUDIO_TYPES = sorted(ext.lstrip(".") for ext in audio.AUDIO_EXTENSIONS)
BATCH_RESULT = "_predict_batch_result"  # (run id, folder) -> rows
BATCH_FOLDERS = "_predict_batch_folders"  # zip upload file id -> extracted folder or error


@st.cache_resource(show_spinner=False, max_entries=3)
def load_model(home: str, run_id: str, sha256: str):
    """core.export.predict.load (refuses files the studio did not write), once per run and model."""
    from core.runs.store import Store

    return model_loader.predict().load(Store(home), run_id)


def models_available(store) -> list[Run]:
    return [
        r
        for r in store.list(statuses=store_mod.WITH_MODEL)
        if r.model_path and not report.is_probe(r)
    ]


def explain_one(loaded, image, name: str, show_cam: bool, index: int) -> None:
    predict = model_loader.predict()
    top = predict.top_k(loaded, [image], k=TOP_K)[0]
    best = top[0]
    st.markdown(
        f"**{common.md(name)}**: most likely **{common.md(best['class'])}** "
        f"({best['probability']:.0%} sure)."
    )
    left, right = st.columns(2)
    with left:
        st.image(
            image, caption="what the model sees" if image.width != image.height else None, width=320
        )
        st.plotly_chart(charts.top_k(top), key=f"predict_topk_{index}")
    if show_cam:
        with right:
            try:
                heat, looked_for = predict.gradcam(loaded, image)
                picture = predict.overlay(image, heat, size=max(loaded.image_size, 224))
            except Exception as exc:  # noqa: BLE001 - Grad-CAM is a bonus, never fatal
                st.warning(f"The heatmap is not available for this model ({common.md(exc)}).")
            else:
                st.image(
                    picture,
                    width=320,
                    caption=f"where it looked for '{common.md(loaded.classes[looked_for])}' "
                    "(red: mattered most)",
                )


def one_picture(loaded, sound) -> None:
    st.write(
        "Upload a picture" + (" or a sound clip" if sound else "") + ", or take one "
        "with the webcam: the model says what it thinks and where it looked."
    )
    how = st.radio("Picture from", ("Upload", "Webcam"), horizontal=True, key="predict_how")
    show_cam = st.toggle(
        "Show where the model looked (Grad-CAM)", value=True, key="predict_gradcam"
    )
    if how == "Upload":
        files = st.file_uploader(
            "Pictures" + (" or sounds" if sound else ""),
            type=IMAGE_TYPES + (AUDIO_TYPES if sound else []),
            accept_multiple_files=True,
            key="predict_files",
        )
        inputs = [(f.name, f.getvalue()) for f in files or []]
    else:
        snapshot = st.camera_input("Snapshot", key="predict_camera")
        inputs = [("snapshot.jpg", snapshot.getvalue())] if snapshot is not None else []
    for index, (name, data) in enumerate(inputs[:10]):
        with common.refusals(f"{common.md(name)} cannot be used") as refused:
            image = predict_batch.upload_image(name, data, sound, loaded.image_size)
        if refused:
            continue
        explain_one(loaded, image, name, show_cam, index)
    if len(inputs) > 10:
        st.caption("Only the first 10 are shown here; use 'Many pictures' for more.")


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
            common.get_store().home, common.session_id(), upload, stem
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
            st.error(f"There is no folder at {common.md(path)} on the server.")
            return None
        return folder
    upload = st.file_uploader("Zip of pictures", type=["zip"], key="predict_batch_zip")
    if upload is None:
        return None
    (kind, value), _ = common.once_per_upload(BATCH_FOLDERS, upload, lambda: extract(upload))
    if kind == "error":
        st.error(common.md(value))
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
    st.caption(f"{count} file(s) to classify in {common.md(folder.name)}.")
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


def model_of(store, run: Run):
    """The run's loaded model (cached), or an error saying why there is none and None."""
    if not Path(run.model_path).is_file():
        st.error(
            "The model file of this run is missing from the server; train again or pick "
            "another run."
        )
        return None
    with st.spinner("Loading the model (the first time takes a few seconds)..."):
        with common.refusals("This model cannot be loaded"):
            return load_model(str(store.home), run.id, run.model_sha256 or "")
        return None


def body() -> None:
    store = common.page_header(
        "Predict", "Show a trained model new pictures and see what it thinks, and where it looked."
    )
    runs = models_available(store)
    if not runs:
        st.info(
            "There is no trained model yet: train one on the Train page first (with the "
            "sample dataset it takes a few minutes)."
        )
        common.go_to("train", "Go to the Train page", icon=":material/model_training:")
        return
    preferred = st.session_state.get(common.TRAIN_RUN)
    run = store.get(common.pick_run("Model (a finished run)", runs, "predict_run", preferred))
    one, many, now, download = st.tabs(
        ["One picture", "Many pictures", "Live", "Download this model"]
    )
    with download:  # made by a child process: needs no model loaded here
        take_away.section(run, "predict")
    with one:
        loaded = model_of(store, run)
        if loaded is None:
            return
        sound = model_loader.predict().audio_settings(run, store)
        st.caption(
            f"Classes: {common.md(', '.join(loaded.classes))}. Pictures are resized to "
            f"{loaded.image_size} x {loaded.image_size} pixels."
        )
        one_picture(loaded, sound)
    with many:
        many_pictures(loaded, run, sound)
    with now:
        live.section(store, run, loaded, sound)


common.guarded(body)
