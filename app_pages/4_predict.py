"""Predict: show a finished run's model new pictures (or sounds), see its top guesses and where
it looked (Grad-CAM); classify a whole zip or folder into a CSV.

The only page that uses TensorFlow in the app process: loading a model needs it. It gets it
only through ui/model_loader.py (memory growth first). The model is loaded once per run
(st.cache_resource keyed by run id + model hash)."""

from pathlib import Path

import streamlit as st

from core.data import audio
from core.data.imaging import IMAGE_EXTENSIONS
from core.export import predict_batch
from core.reports import charts, report
from core.runs import store as store_mod
from core.runs.store import Run
from ui import live, messages, model_loader, pages, predict_many, session_keys, studio, take_away

TOP_K = 5
IMAGE_TYPES = sorted(ext.lstrip(".") for ext in IMAGE_EXTENSIONS)
AUDIO_TYPES = sorted(ext.lstrip(".") for ext in audio.AUDIO_EXTENSIONS)


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
        f"**{messages.md(name)}**: most likely **{messages.md(best['class'])}** "
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
                st.warning(f"The heatmap is not available for this model ({messages.md(exc)}).")
            else:
                st.image(
                    picture,
                    width=320,
                    caption=f"where it looked for '{messages.md(loaded.classes[looked_for])}' "
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
        with messages.refusals(f"{messages.md(name)} cannot be used") as refused:
            image = predict_batch.upload_image(name, data, sound, loaded.image_size)
        if refused:
            continue
        explain_one(loaded, image, name, show_cam, index)
    if len(inputs) > 10:
        st.caption("Only the first 10 are shown here; use 'Many pictures' for more.")


def model_of(store, run: Run):
    """The run's loaded model (cached), or an error saying why there is none and None."""
    if not Path(run.model_path).is_file():
        st.error(
            "The model file of this run is missing from the server; train again or pick "
            "another run."
        )
        return None
    with st.spinner("Loading the model (the first time takes a few seconds)..."):
        with messages.refusals("This model cannot be loaded"):
            return load_model(str(store.home), run.id, run.model_sha256 or "")
        return None


def body() -> None:
    store = studio.page_header(
        "Predict", "Show a trained model new pictures and see what it thinks, and where it looked."
    )
    runs = models_available(store)
    if not runs:
        st.info(
            "There is no trained model yet: train one on the Train page first (with the "
            "sample dataset it takes a few minutes)."
        )
        pages.go_to("train", "Go to the Train page", icon=":material/model_training:")
        return
    preferred = st.session_state.get(session_keys.TRAIN_RUN)
    run = store.get(studio.pick_run("Model (a finished run)", runs, "predict_run", preferred))
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
            f"Classes: {messages.md(', '.join(loaded.classes))}. Pictures are resized to "
            f"{loaded.image_size} x {loaded.image_size} pixels."
        )
        one_picture(loaded, sound)
    with many:
        predict_many.many_pictures(loaded, run, sound)
    with now:
        live.section(store, run, loaded, sound)


messages.guarded(body)
