"""Data: choose a dataset, then see what is in it before training on it."""

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from core.data import archive, audio, datasets, keras_datasets, samples, session
from core.data.imaging import IMAGE_EXTENSIONS
from core.jobs import fetch
from core.platform import settings
from core.reports import charts
from core.runs import speed
from core.runs.config import RunConfig
from ui import common, datafix, record, scanning

SOURCES = (
    "Built-in sample",
    "Online sample",
    "Folder on the server",
    "Upload a zip",
    "Build classes here",
)
IMAGE_TYPES = sorted(ext.lstrip(".") for ext in IMAGE_EXTENSIONS)
GRID_CLASSES = 12  # sample grid: at most this many classes ...
GRID_IMAGES = 6  # ... and images per class
SAVED_UPLOADS = "_data_saved_uploads"  # file ids of browser uploads already written
ZIP_OUTCOME = "_data_zip_outcome"  # file id -> (kind, message) of the last zip upload
PENDING = "_data_pending"  # a download or audio conversion under way in a child process
SPECTROGRAM_SUFFIX = " (sounds as spectrograms)"  # the label of a sound dataset, after its name
SAMPLE_PER_CLASS = 500  # the cap offered first for a large downloadable dataset
MERGE_ASKED = "_data_merge_asked"  # the folder whose case-duplicate merge awaits a second click


# -- choosing ---------------------------------------------------------------------------------
def choose(folder: Path, label: str) -> None:
    """Make a folder the current dataset; audio clips become spectrogram images first (in a
    child process the page polls: the page never waits)."""
    if audio.is_audio_dataset(folder):
        if PENDING in st.session_state:
            st.info("Wait for the current conversion or download to finish.")
            return
        home = common.get_store().home
        job = fetch.start_spectrograms(folder, settings.cache_dir(home), home)
        wait_for(
            job,
            "Turning the sound clips into spectrogram pictures (once)",
            "The sound clips could not be converted",
            label=f"{label}{SPECTROGRAM_SUFFIX}",
            audio_source=str(Path(folder).resolve()),
        )
    else:
        common.set_dataset(folder, label)


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
        common.flash("error", f"{task['failed']}: {common.md(state.reason)}")
    elif "sample_label" in done:
        choose(state.folder, done["sample_label"])  # a sample may itself be sounds
    else:
        common.set_dataset(state.folder, done["label"], audio_source=done.get("audio_source"))
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
            folder = samples.prepare("digits", common.get_store().home)
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
            fetch.start_sample(chosen, common.get_store().home, per_class),
            f"Getting {online[chosen].title} (needs internet the first time)",
            "This sample is not available here (the built-in sample works offline)",
            sample_label=f"online sample: {online[chosen].title}",
        )


def sample_size_choice(name: str) -> int | None:
    """All of a Keras dataset (the default) or at most N training pictures per class, each with
    its time estimate from this machine's measured speed. Returns the cap (None: all)."""
    measured = speed.measured(common.get_store().home)
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
            st.error(f"There is no folder at {common.md(path.strip())} on the server.")
            return
        choose(folder, f"folder {folder.name}")


def extract(upload) -> tuple[str, str, str | None]:
    """Extract an uploaded zip: (message kind, sentence, the folder or None)."""
    home = common.get_store().home
    try:
        target, result = session.extract_upload(
            home, common.session_id(), upload, Path(upload.name).stem
        )
    except archive.ArchiveError as exc:
        return "error", f"This zip cannot be used: {common.md(exc)}", None
    skipped = f" ({len(result.skipped)} other file(s) skipped)" if result.skipped else ""
    return "success", f"Extracted {len(result.files)} picture(s){skipped}.", str(target)


def zip_upload() -> None:
    st.write("A zip file holding one folder per class, with the pictures inside.")
    upload = st.file_uploader("Zip of class folders", type=["zip"], key="data_zip")
    if upload is None:
        return
    (kind, message, folder), new = common.once_per_upload(
        ZIP_OUTCOME, upload, lambda: extract(upload)
    )
    if new and folder:  # the outcome is kept first: choosing a sound folder reruns the page
        choose(Path(folder), f"uploaded zip {Path(upload.name).name}")
    getattr(st, kind)(message)  # names in it are escaped where it is made (extract)


def _save_uploads(class_dir: Path, files, name: str | None = None) -> None:
    """Write browser uploads into a class folder, each upload once (reruns repeat them)."""
    saved = st.session_state.setdefault(SAVED_UPLOADS, set())
    for file in files:
        if file is None or file.file_id in saved:
            continue
        saved.add(file.file_id)
        with common.refusals(kind="warning"):
            session.save_image(class_dir, name or file.name, file.getvalue())


def add_class_form(project: Path) -> None:
    with st.form("data_add_class", clear_on_submit=True):
        name = st.text_input("New class name", placeholder="e.g. cat")
        if st.form_submit_button("Add class", icon=":material/add:"):
            with common.refusals("That name cannot be used"):
                session.add_class(project, name)


def class_pictures(class_dir: Path, name: str) -> None:
    """Drop files, take webcam snapshots or record bursts into one class; its latest pictures."""
    files = st.file_uploader(
        f"Pictures of {common.md(name)}",
        type=IMAGE_TYPES,
        accept_multiple_files=True,
        key=f"data_tm_files_{name}",
    )
    _save_uploads(class_dir, files or [])
    if st.toggle("Use the webcam", key=f"data_tm_cam_on_{name}"):
        snapshot = st.camera_input(f"Snapshot for {common.md(name)}", key=f"data_tm_cam_{name}")
        if snapshot is not None:
            suffix = Path(snapshot.name or "").suffix or ".jpg"
            _save_uploads(class_dir, [snapshot], name=f"snapshot{suffix}")
    if st.toggle("Record a burst (hold a button)", key=f"data_tm_burst_on_{name}"):
        record.burst_into(class_dir, name, f"data_tm_burst_{name}")
    pictures = sorted(
        str(p) for p in class_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if pictures:
        st.image(common.thumbnails(pictures[-8:], 72), width=72)


def build_classes() -> None:
    st.write(
        "Make your own classes, like Teachable Machine: name a class, then add pictures "
        "by dropping files, taking webcam snapshots or holding a button to record a burst."
    )
    project = session.classes_dir(common.get_store().home, common.session_id())
    add_class_form(project)
    counts = session.class_counts(project)
    if not counts:
        st.caption("No class yet: add at least two.")
        return
    for name in counts:
        with st.expander(f"{common.md(name)}: {counts[name]} picture(s)", expanded=True):
            class_pictures(project / name, name)
    counts = session.class_counts(project)
    ready = sum(1 for n in counts.values() if n > 0) >= 2
    if st.button(
        "Use these classes as the dataset",
        key="data_use_classes",
        type="primary",
        disabled=not ready,
    ):
        choose(project, "classes built in the browser")
    if not ready:
        st.caption(
            "Two classes with at least one picture each are needed (more pictures, "
            "better results: aim for 20 or more per class)."
        )


# -- showing ----------------------------------------------------------------------------------
def show_problems(found: datasets.Scan) -> None:
    duplicates, leakage = found.duplicates(), found.leakage()
    show_skipped(found)
    if not (found.unreadable or duplicates or leakage or found.skipped):
        st.success(
            "Every picture can be read, and there are no duplicates and no picture in "
            "both training and validation or test."
        )
        return
    if found.unreadable:
        with st.expander(f"{len(found.unreadable)} unreadable file(s): they will be skipped"):
            st.dataframe(
                pd.DataFrame(found.unreadable, columns=["file", "reason"]), hide_index=True
            )
    if duplicates:
        with st.expander(f"{len(duplicates)} group(s) of identical pictures"):
            st.dataframe(
                pd.DataFrame({"identical files": [", ".join(g) for g in duplicates]}),
                hide_index=True,
            )
    if leakage:
        with st.expander(f"{len(leakage)} picture(s) in training and in validation or test"):
            st.dataframe(
                pd.DataFrame(leakage, columns=["training file", "validation or test file"]),
                hide_index=True,
            )


def show_skipped(found: datasets.Scan) -> None:
    """Links, unsupported formats and the like the scan left out: one folded table, however
    many there are (the warnings above say how many of each)."""
    if found.skipped:
        with st.expander(f"{len(found.skipped)} item(s) left out of the dataset, and why"):
            table = pd.DataFrame(found.skipped, columns=["file", "reason"])
            st.dataframe(table, hide_index=True)


def offer_case_merge(found: datasets.Scan, folder: str) -> None:
    """Class folders differing only by case (Cat / cat) train as separate classes: offer to
    merge them (datasets.merge_case_duplicates: files move, none is overwritten), after a
    second click, since it moves the person's own files."""
    groups = found.case_duplicates()
    if not groups:
        return
    names = "; ".join(" and ".join(group) for group in groups)
    if st.session_state.get(MERGE_ASKED) != folder:
        st.button(
            f"Merge {common.md(names)}",
            key="data_merge_case",
            icon=":material/merge:",
            on_click=st.session_state.__setitem__,
            args=(MERGE_ASKED, folder),
        )
        return
    st.warning(
        f"This moves the files of {common.md(names)} into one folder each, inside "
        f"{common.md(folder)} (no file is overwritten; a clashing name gets a number). Go on?"
    )
    yes, no = st.columns(2)
    yes.button("Yes, merge them", key="data_merge_case_yes", on_click=merge_cases, args=(folder,))
    no.button(
        "Cancel", key="data_merge_case_no", on_click=st.session_state.pop, args=(MERGE_ASKED,)
    )


def merge_cases(folder: str) -> None:
    st.session_state.pop(MERGE_ASKED, None)
    try:
        merged = datasets.merge_case_duplicates(folder)
    except (datasets.DatasetError, OSError) as exc:
        common.flash("error", f"The folders could not be merged: {common.md(exc)}")
        return
    into = "; ".join(f"{', '.join(old)} into {keep}" for keep, old in merged.items())
    common.flash("success", f"Merged {common.md(into)}.")


def show_grid(found: datasets.Scan) -> None:
    st.subheader("A few pictures of each class")
    by_class: dict[str, list[str]] = {}
    for item in found.items:
        by_class.setdefault(item.label, [])
        if len(by_class[item.label]) < GRID_IMAGES:
            by_class[item.label].append(str(item.path))
    for name in found.classes[:GRID_CLASSES]:
        paths = by_class.get(name, [])
        left, right = st.columns([1, 5])
        left.markdown(f"**{common.md(name)}**")
        if paths:
            right.image(common.thumbnails(paths, 80), width=80)
        else:
            right.caption("no readable picture")
    if len(found.classes) > GRID_CLASSES:
        st.caption(f"... and {len(found.classes) - GRID_CLASSES} more classes.")


def show_split(found: datasets.Scan) -> None:
    st.subheader("Training, validation and test pictures")
    st.write(
        "The model learns from the training pictures. The validation pictures decide when "
        "training stops and which epoch is kept. The test pictures are kept aside until "
        "training ends: the accuracy on them is the score a run reports."
    )
    seed = int(common.setting("seed"))
    fractions = RunConfig.default("val_fraction"), RunConfig.default("test_fraction")
    with common.refusals("This dataset cannot be split yet") as refused:
        split = datasets.split(
            found, val_fraction=fractions[0], test_fraction=fractions[1], seed=seed
        )
    if refused:
        return
    for note in split.notes:
        st.warning(common.md(note))
    counts = split.counts()
    st.plotly_chart(charts.split_counts(counts), key="data_split_chart")
    table = pd.DataFrame(counts)
    table.index.name = "class"
    st.dataframe(table)


def show_audio(audio_root: Path, images: Path) -> None:
    st.subheader("The sounds, and the pictures the network sees")
    st.write(
        "Each clip becomes a spectrogram: time runs left to right, pitch bottom to top, "
        "and brightness is loudness."
    )
    settings = audio.SpectrogramSettings()
    for name, clip in list(audio.first_clips(audio_root).items())[:GRID_CLASSES]:
        st.markdown(f"**{common.md(name)}**: {common.md(clip.name)}")
        left, right = st.columns(2)
        with left, common.refusals("This clip cannot be read", kind="warning") as refused:
            times, values = audio.waveform_preview(clip, settings)
            st.plotly_chart(
                charts.waveform(times, values, f"{name}: waveform"), key=f"data_wave_{name}"
            )
        if refused:
            continue
        picture = audio.spectrogram_of(clip, audio_root, images)
        if picture is not None:
            pixels = np.asarray(Image.open(picture).convert("L"))
            right.plotly_chart(
                charts.spectrogram(pixels, f"{name}: spectrogram"), key=f"data_spec_{name}"
            )
        mime = {
            ".wav": "audio/wav",
            ".flac": "audio/flac",
            ".ogg": "audio/ogg",
            ".mp3": "audio/mpeg",
        }.get(clip.suffix.lower(), "audio/wav")
        st.audio(clip.read_bytes(), format=mime)


def show_dataset(folder: str) -> None:
    st.divider()
    label = st.session_state.get(common.DATASET_LABEL) or Path(folder).name
    st.header(f"Current dataset: {common.md(label)}")
    st.caption(common.md(folder))
    if not scanning.ready(folder, common.get_store().home):  # a long first scan: its progress
        return
    try:
        found = common.scan(folder)
    except datasets.DatasetError as exc:
        st.error(f"This folder cannot be used: {common.md(exc)}")
        return
    show_summary(found)
    if note := keras_datasets.old_layout_note(folder):  # a sample written before test/
        st.info(common.md(note))
    offer_case_merge(found, folder)
    show_pictures(found)
    st.subheader("Checks")
    show_problems(found)
    datafix.show_edits(found, folder)  # also when an edit left the dataset unusable: undo
    if found.ok:
        show_split(found)
        datafix.show(found, folder)
    audio_source = st.session_state.get(common.AUDIO_SOURCE)
    if audio_source and Path(audio_source).is_dir():
        show_audio(Path(audio_source), Path(folder))
    record.section(folder, found, convert_again)


def convert_again() -> None:
    """Clips were recorded into the sound folder: turn it into spectrograms again."""
    label = str(st.session_state.get(common.DATASET_LABEL) or "recorded sounds")
    choose(Path(st.session_state[common.AUDIO_SOURCE]), label.removesuffix(SPECTROGRAM_SUFFIX))


def layout_words(found: datasets.Scan) -> str:
    """'one folder', or the sides the dataset's own folders fix: 'train + test'."""
    if found.layout == "single":
        return "one folder"
    return " + ".join(found.counts_by_split())


def show_summary(found: datasets.Scan) -> None:
    """Counts, the scan's errors and warnings, and where to go next when it is ready."""
    cols = st.columns(4)
    cols[0].metric("Classes", len(found.classes))
    cols[1].metric("Pictures", len(found.items))
    cols[2].metric("Pictures per class", f"{found.images_per_class():.0f}")
    cols[3].metric("Layout", layout_words(found))
    for error in found.errors:
        st.error(common.md(error))
    for warning in found.warnings:
        st.warning(common.md(warning))
    if found.ok:
        st.success(
            "Ready to train. Next: the Strategy page measures which way of reusing "
            "VGG16 suits these pictures, or go straight to Train."
        )
        nav = st.columns(2)
        with nav[0]:
            common.go_to("strategy", "Next: Strategy", icon=":material/alt_route:")
        with nav[1]:
            common.go_to("train", "Skip to Train", icon=":material/model_training:")


def show_pictures(found: datasets.Scan) -> None:
    st.subheader("Pictures per class")
    st.write(
        "Classes with many fewer pictures than others are drawn in red: the model sees "
        "them less often."
    )
    st.plotly_chart(charts.class_counts(found.counts()), key="data_counts_chart")
    show_grid(found)
    st.subheader("Picture sizes")
    st.write(
        "Every picture is resized to one square size for training; very different sizes "
        "or shapes get squashed."
    )
    st.plotly_chart(charts.image_sizes(found.sizes()), key="data_sizes_chart")


def body() -> None:
    common.page_header(
        "Data",
        "Choose the pictures the model will learn from: one folder of pictures per class "
        "(for example cats/ and dogs/).",
    )
    source = st.radio(
        "Where are your pictures?",
        SOURCES,
        horizontal=True,
        **common.kept("data_source", SOURCES[0]),
    )
    {
        SOURCES[0]: builtin_sample,
        SOURCES[1]: online_sample,
        SOURCES[2]: server_folder,
        SOURCES[3]: zip_upload,
        SOURCES[4]: build_classes,
    }[source]()
    pending()
    folder = common.current_dataset()
    if folder:
        show_dataset(folder)


common.guarded(body)
