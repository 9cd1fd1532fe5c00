"""Predictions beyond one picture: an uploaded file as the picture a model sees, the files of a
folder (or an extracted zip) a model can classify, and their answers as CSV rows.

The model comes loaded (core.export.predict.load); this module touches TensorFlow only through it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from core.data import audio
from core.data.imaging import UnreadableImage, is_image_file, load_pil_rgb
from core.export.predict import decode_box
from core.reports import report

if TYPE_CHECKING:
    from core.export.predict import LoadedModel

BATCH = 32  # pictures per call of the model
TOP_K = 3  # classes listed in a CSV row

Progress = Callable[[int, int], None]  # (files done, files in all)


def upload_image(
    name: str,
    data: bytes,
    sound: audio.SpectrogramSettings | None,
    model_size: int | None = None,
) -> Image.Image:
    """An upload as the picture the model sees (a sound becomes its spectrogram), decoded at
    reduced size when the file allows and `model_size` (the model's input size) is given.
    Raises UnreadableImage or audio.UnreadableAudio, with the reason."""
    suffix = Path(name).suffix.lower()
    fd, tmp = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if suffix in audio.AUDIO_EXTENSIONS:
            if sound is None:
                raise UnreadableImage("this model was trained on pictures, not sounds")
            return audio.spectrogram_for_file(tmp, sound)
        return load_pil_rgb(tmp, None if model_size is None else decode_box(model_size))
    finally:
        Path(tmp).unlink(missing_ok=True)


def batch_files(folder: Path, sound: audio.SpectrogramSettings | None) -> list[Path]:
    """The pictures below folder (and the sound clips, for a model trained on sounds), in
    order, skipping hidden files and folders."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and (is_image_file(p) or (sound is not None and audio.is_audio_file(p)))
    )


def predict_folder(
    loaded: LoadedModel,
    folder: Path,
    sound: audio.SpectrogramSettings | None,
    on_progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """One CSV row per file of batch_files(folder): the best classes, or why the file could
    not be used (an unreadable file costs its row, never the table)."""
    from core.export import predict

    files = batch_files(folder, sound)
    rows: list[dict[str, Any]] = []
    for start in range(0, len(files), BATCH):
        chunk, images = files[start : start + BATCH], []
        for path in chunk:
            rel = path.relative_to(folder).as_posix()
            try:
                image = (
                    audio.spectrogram_for_file(path, sound)
                    if sound is not None and audio.is_audio_file(path)  # batch_files: no clips else
                    else load_pil_rgb(path, decode_box(loaded.image_size))
                )
            except (UnreadableImage, audio.UnreadableAudio) as exc:
                rows.append(report.error_row(rel, str(exc)))
                continue
            images.append((rel, image))
        if images:
            for (rel, _), top in zip(
                images,
                predict.top_k(loaded, [i for _, i in images], k=min(TOP_K, len(loaded.classes))),
                strict=True,
            ):
                rows.append(report.prediction_row(rel, top))
        if on_progress is not None:
            on_progress(min(start + BATCH, len(files)), len(files))
    return rows
