"""core.export.predict_batch: which files of a folder are classified, one CSV row each (an
unreadable
file costs its row only), progress, and uploads as pictures. A stand-in model (red vs blue by
mean colour) keeps TensorFlow out."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from synthetic import write_colour_dataset

from core.data.imaging import UnreadableImage
from core.export import predict_batch
from core.export.predict import LoadedModel


class ColourModel:
    input_shape = (None, 32, 32, 3)

    def predict(self, batch, verbose=0):
        red, blue = batch[..., 0].mean(axis=(1, 2)), batch[..., 2].mean(axis=(1, 2))
        return np.stack([blue, red], axis=1) / (red + blue)[:, None]

    def predict_on_batch(self, batch):
        return self.predict(batch)


@pytest.fixture
def loaded() -> LoadedModel:
    return LoadedModel(run=None, model=ColourModel(), classes=["blue", "red"])


@pytest.fixture
def folder(tmp_path):
    root = write_colour_dataset(tmp_path / "mixed", ("red", "blue"), per_class=20, size=32)
    (root / "red" / "broken.png").write_bytes(b"not a picture")
    (root / ".hidden").mkdir()
    Image.new("RGB", (8, 8)).save(root / ".hidden" / "x.png")
    (root / "notes.txt").write_text("not a picture either")
    return root


def test_batch_files_are_the_pictures_without_hidden_ones(folder):
    files = predict_batch.batch_files(folder, sound=None)
    assert len(files) == 41 and files == sorted(files)
    assert not any(".hidden" in p.parts or p.suffix == ".txt" for p in files)


def test_predict_folder_gives_one_row_per_file_in_batches(folder, loaded):
    seen = []
    rows = predict_batch.predict_folder(loaded, folder, None, on_progress=lambda *a: seen.append(a))
    assert len(rows) == 41
    broken = [r for r in rows if r["file"] == "red/broken.png"]
    assert broken and broken[0]["predicted"] == "" and broken[0]["error"]
    good = [r for r in rows if not r["error"]]
    assert all(r["predicted"] == r["file"].split("/")[0] for r in good)
    assert seen == [(32, 41), (41, 41)]  # one call of the model per BATCH files


def test_upload_image_reads_pictures_and_refuses_sounds_for_a_picture_model():
    data = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 20, 30)).save(data, format="PNG")
    assert predict_batch.upload_image("a.png", data.getvalue(), None).size == (40, 30)
    with pytest.raises(UnreadableImage, match="trained on pictures"):
        predict_batch.upload_image("clip.wav", b"RIFF", None)
    with pytest.raises(UnreadableImage):
        predict_batch.upload_image("b.png", b"nope", None)


def test_a_big_jpeg_upload_is_decoded_at_reduced_size_for_the_model():
    data = io.BytesIO()
    Image.new("RGB", (1600, 1200), (200, 20, 30)).save(data, format="JPEG")
    image = predict_batch.upload_image("photo.jpg", data.getvalue(), None, model_size=32)
    assert image.size == (400, 300)  # 1/4 DCT scale: still >= 224 for the Grad-CAM overlay
    full = predict_batch.upload_image("photo.jpg", data.getvalue(), None)
    assert full.size == (1600, 1200)
