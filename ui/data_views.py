"""The Data page's pictures of a dataset: its counts, a few pictures of each class, picture sizes,
the training/validation/test split, and for sounds the clips with their spectrograms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from core.data import audio, datasets
from core.reports import charts
from core.runs.config import RunConfig
from ui import messages, pages, scans, session_keys

GRID_CLASSES = 12  # sample grid: at most this many classes ...
GRID_IMAGES = 6  # ... and images per class


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
        left.markdown(f"**{messages.md(name)}**")
        if paths:
            right.image(scans.thumbnails(paths, 80), width=80)
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
    seed = int(session_keys.setting("seed"))
    fractions = RunConfig.default("val_fraction"), RunConfig.default("test_fraction")
    with messages.refusals("This dataset cannot be split yet") as refused:
        split = datasets.split(
            found, val_fraction=fractions[0], test_fraction=fractions[1], seed=seed
        )
    if refused:
        return
    for note in split.notes:
        st.warning(messages.md(note))
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
        st.markdown(f"**{messages.md(name)}**: {messages.md(clip.name)}")
        left, right = st.columns(2)
        with left, messages.refusals("This clip cannot be read", kind="warning") as refused:
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
        st.error(messages.md(error))
    for warning in found.warnings:
        st.warning(messages.md(warning))
    if found.ok:
        st.success(
            "Ready to train. Next: the Strategy page measures which way of reusing "
            "VGG16 suits these pictures, or go straight to Train."
        )
        nav = st.columns(2)
        with nav[0]:
            pages.go_to("strategy", "Next: Strategy", icon=":material/alt_route:")
        with nav[1]:
            pages.go_to("train", "Skip to Train", icon=":material/model_training:")


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
