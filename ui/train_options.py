"""The Train page's optional settings: epochs and batch size, precision, augmentation with its
preview."""

from __future__ import annotations

import streamlit as st

from core.data import datasets
from core.data.imaging import UnreadableImage, load_pil_rgb
from core.model import augment_preview, device
from core.reports import glossary
from core.runs import strategies
from core.runs.config import RunConfig
from ui import bounds, session_keys

BATCH_SIZES = (8, 16, 32, 64, 128)


def augmentation_preview(found: datasets.Scan, kind: str, size: int, seed: int) -> None:
    if not found.items:
        return
    try:
        image = load_pil_rgb(found.items[0].path)
    except UnreadableImage:
        return
    shown = min(size, 128)
    versions = augment_preview.augmented(image, count=4, size=shown, kind=kind, seed=seed)
    original = image.convert("RGB").resize((shown, shown))
    st.image([original, *versions], caption=["original", *(["augmented"] * len(versions))])


def size_settings(spec: strategies.Strategy) -> dict:
    """Epochs per phase and batch size, in one row (a closed-form fit has no epochs)."""
    cols = st.columns(3)
    epochs = session_keys.setting("epochs")
    if not spec.closed_form:
        epochs = cols[0].number_input(
            "Epochs" + (" (first phase)" if len(spec.phases) > 1 else ""),
            **bounds.of("epochs"),
            help=glossary.explain("epoch"),
            **session_keys.kept("epochs", RunConfig.default("epochs")),
        )
    finetune_epochs = RunConfig.default("finetune_epochs")
    if len(spec.phases) > 1:
        finetune_epochs = cols[1].number_input(
            "Epochs (fine-tuning phase)",
            **bounds.of("finetune_epochs"),
            help=glossary.explain("fine-tune"),
            **session_keys.kept("finetune_epochs", finetune_epochs),
        )
    batch_size = cols[2].selectbox(
        "Batch size",
        BATCH_SIZES,
        help=glossary.explain("batch size"),
        **session_keys.kept("batch_size", RunConfig.default("batch_size")),
    )
    return dict(
        epochs=int(epochs),
        finetune_epochs=int(finetune_epochs),
        batch_size=int(batch_size),
    )


@st.cache_resource(show_spinner=False)
def machine_plan() -> device.AccelerationPlan:
    """This machine's plan, read once per server (nvidia-smi, /proc/cpuinfo; no TensorFlow)."""
    return device.quick_plan()


def precision_setting() -> str:
    """The compute precision, with what it means on this machine in one line."""
    precision = st.selectbox(
        "Precision",
        device.PRECISIONS,
        format_func=device.PRECISION_CHOICES.__getitem__,
        help="How many bits each number in VGG16's maths uses. bfloat16 is often 2-3x faster on "
        "CPUs and GPUs built for it, with about the same accuracy; the final layer stays "
        "float32 either way.",
        **session_keys.kept("precision", RunConfig.default("precision")),
    )
    st.caption(device.precision_sentence(precision, machine_plan()))
    return precision


def augmentation_settings(found: datasets.Scan, image_size: int, seed: int) -> dict:
    """Whether to augment, and how (spectrograms get masking), with a preview."""
    is_audio = bool(st.session_state.get(session_keys.AUDIO_SOURCE))
    augment = st.checkbox(
        "Augment the training pictures (random flips, turns and zooms; "
        "slower, helps small datasets)",
        help=glossary.explain("augmentation"),
        **session_keys.kept("augment", RunConfig.default("augment")),
    )
    kind = "spectrogram" if is_audio else RunConfig.default("augment_kind")
    if augment:
        kind = st.radio(
            "Kind of augmentation",
            augment_preview.KINDS,
            horizontal=True,
            format_func=lambda k: {
                "image": "pictures (flip, turn, zoom, shift)",
                "spectrogram": "spectrograms (mask time and pitch bands)",
            }[k],
            **session_keys.kept("augment_kind", kind),
        )
        augmentation_preview(found, kind, image_size, seed)
    return dict(augment=bool(augment), augment_kind=kind)
