"""The Data page's sources: the built-in and online samples, a folder on the server and an uploaded
zip; sound clips become spectrogram pictures in a child process the page polls."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.data import archive, audio, keras_datasets, samples, session
from core.jobs import fetch
from core.platform import settings
from core.runs import speed
from ui import messages, session_keys, studio

ZIP_OUTCOME = "_data_zip_outcome"  # file id -> (kind, message) of the last zip upload
PENDING = "_data_pending"  # a download or audio conversion under way in a child process
SPECTROGRAM_SUFFIX = " (sounds as spectrograms)"  # the label of a sound dataset, after its name
SAMPLE_PER_CLASS = 500  # the cap offered first for a large downloadable dataset


def choose(folder: Path, label: str) -> None:
    """Make a folder the current dataset; audio clips become spectrogram images first (in a
    child process the page polls: the page never waits)."""
    if audio.is_audio_dataset(folder):
        if PENDING in st.session_state:
            st.info("Wait for the current conversion or download to finish.")
            return
        home = studio.get_store().home
        job = fetch.start_spectrograms(folder, settings.cache_dir(home), home)
        wait_for(
            job,
            "Turning the sound clips into spectrogram pictures (once)",
            "The sound clips could not be converted",
            label=f"{label}{SPECTROGRAM_SUFFIX}",
            audio_source=str(Path(folder).resolve()),
        )
    else:
        session_keys.set_dataset(folder, label)


def wait_for(job: fetch.Job, doing: str, failed: str, **done) -> None:
    st.session_state[PENDING] = {
        "job": job.to_dict(),
        "doing": doing,
        "failed": failed,
        "done": done,
    }
    st.rerun()  # redraw now: the status shows and the buttons that start jobs are disabled


@st.fragment(run_every=1.0)
def pending() -> None:
    """Polls the child process; when it ends, the page reruns with the new dataset."""
    task = st.session_state.get(PENDING)
    if not task:
        return
    state = fetch.poll(task["job"])
    if state.status == "running":
        st.info(
            f"{task['doing']}... {state.seconds:.0f} s so far. This page updates by "
            "itself; the rest of the studio stays usable.",
            icon=":material/hourglass:",
        )
        return
    st.session_state.pop(PENDING, None)
    done = task["done"]
    if state.status == "failed":
        messages.flash("error", f"{task['failed']}: {messages.md(state.reason)}")
    elif "sample_label" in done:
        choose(state.folder, done["sample_label"])  # a sample may itself be sounds
    else:
        session_keys.set_dataset(state.folder, done["label"], audio_source=done.get("audio_source"))
    st.rerun()


def builtin_sample() -> None:
    st.write(
        "500 small pictures of handwritten digits, 10 classes: it works offline and "
        "trains in a few minutes."
    )
    if st.button(
        "Use the sample dataset", type="primary", key="data_use_sample", icon=":material/dataset:"
    ):
        with st.spinner("Writing the sample pictures..."):
            folder = samples.prepare("digits", studio.get_store().home)
        choose(folder, "built-in sample: handwritten digits")


def online_sample() -> None:
    online = {s.id: s for s in samples.SAMPLES.values() if not s.offline}
    chosen = st.selectbox(
        "Sample", list(online), format_func=lambda k: online[k].title, key="data_online_sample"
    )
    st.caption(online[chosen].description + " Downloaded once, then kept on this server.")
    per_class = sample_size_choice(chosen) if online[chosen].capped else None
    busy = PENDING in st.session_state
    if (
        st.button(
            "Download and use",
            key="data_download_sample",
            icon=":material/download:",
            disabled=busy,
        )
        and not busy
    ):
        wait_for(
            fetch.start_sample(chosen, studio.get_store().home, per_class),
            f"Getting {online[chosen].title} (needs internet the first time)",
            "This sample is not available here (the built-in sample works offline)",
            sample_label=f"online sample: {online[chosen].title}",
        )


def sample_size_choice(name: str) -> int | None:
    """All of a Keras dataset (the default) or at most N training pictures per class, each with
    its time estimate from this machine's measured speed. Returns the cap (None: all)."""
    measured = speed.measured(studio.get_store().home)
    full = speed.keras_dataset_estimate(name, None, None, measured)
    everything = st.radio(
        "How many pictures",
        (True, False),
        format_func=lambda all_: "All of them" if all_ else "A sample per class",
        horizontal=True,
        key=f"data_sample_all_{name}",
        help="Fewer pictures train much faster; all of them give the best accuracy.",
    )
    if everything:
        st.caption(f"{full}.")
        return None
    per_class = st.number_input(
        "Training pictures per class (the test side keeps the official test share)",
        1,
        keras_datasets.KERAS_DATASETS[name].train_images,
        value=SAMPLE_PER_CLASS,
        step=100,
        key=f"data_sample_cap_{name}",
    )
    st.caption(speed.keras_dataset_estimate(name, None, int(per_class), measured) + ".")
    st.caption(f"All of them instead: {full}.")
    return int(per_class)


def server_folder() -> None:
    st.write(
        "A folder on the server with one subfolder per class (or train/ with validation/ "
        "and/or test/ folders that each hold class subfolders)."
    )
    path = st.text_input("Folder path", key="data_folder_path", placeholder="/data/my_pictures")
    if st.button("Use this folder", key="data_use_folder", disabled=not path.strip()):
        folder = Path(path.strip()).expanduser()
        if not folder.is_dir():
            st.error(f"There is no folder at {messages.md(path.strip())} on the server.")
            return
        choose(folder, f"folder {folder.name}")


def extract(upload) -> tuple[str, str, str | None]:
    """Extract an uploaded zip: (message kind, sentence, the folder or None)."""
    home = studio.get_store().home
    try:
        target, result = session.extract_upload(
            home, session_keys.session_id(), upload, Path(upload.name).stem
        )
    except archive.ArchiveError as exc:
        return "error", f"This zip cannot be used: {messages.md(exc)}", None
    skipped = f" ({len(result.skipped)} other file(s) skipped)" if result.skipped else ""
    return "success", f"Extracted {len(result.files)} picture(s){skipped}.", str(target)


def zip_upload() -> None:
    st.write("A zip file holding one folder per class, with the pictures inside.")
    upload = st.file_uploader("Zip of class folders", type=["zip"], key="data_zip")
    if upload is None:
        return
    (kind, message, folder), new = session_keys.once_per_upload(
        ZIP_OUTCOME, upload, lambda: extract(upload)
    )
    if new and folder:  # the outcome is kept first: choosing a sound folder reruns the page
        choose(Path(folder), f"uploaded zip {Path(upload.name).name}")
    getattr(st, kind)(message)  # names in it are escaped where it is made (extract)


def convert_again() -> None:
    """Clips were recorded into the sound folder: turn it into spectrograms again."""
    label = str(st.session_state.get(session_keys.DATASET_LABEL) or "recorded sounds")
    choose(
        Path(st.session_state[session_keys.AUDIO_SOURCE]), label.removesuffix(SPECTROGRAM_SUFFIX)
    )
