"""The Data page's Record section (ui/record.py): webcam and microphone recordings go into a
class of the current dataset, through core.data.capture's checks. AppTest cannot hold the burst
recorder's button; it can upload a camera photo and a microphone recording."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile
from apptesting import no_exceptions, page, texts
from PIL import Image

from ui import messages, session_keys


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 40), (10, 200, 10)).save(out, format="JPEG")
    return out.getvalue()


def _wav(seconds: float = 0.25) -> bytes:
    out = io.BytesIO()
    t = np.arange(int(16000 * seconds)) / 16000.0
    soundfile.write(out, 0.4 * np.sin(2 * np.pi * 440 * t), 16000, format="WAV")
    return out.getvalue()


def test_the_burst_recorder_is_offered_for_a_picture_dataset(store, digits):
    at = page("1_data.py", **{session_keys.DATASET: str(digits)}).run()
    no_exceptions(at)
    assert at.selectbox(key="data_rec_class").options[0] == "digit_0"
    assert at.slider(key="data_rec_fps").value == 5
    assert at.slider(key="data_rec_count").value == 30
    assert "Hold the button: 5 frames a second" in texts(at.caption)
    assert not at.audio_input  # pictures: no microphone
    assert not at.get("camera_input")  # the burst recorder is shown, the one-shot is the fallback


def test_a_photo_goes_into_the_chosen_class_once(store, digits):
    at = page("1_data.py", **{session_keys.DATASET: str(digits)}).run()
    at.selectbox(key="data_rec_class").set_value("digit_3").run()
    at.radio(key="data_rec_mode").set_value("One photo per click").run()
    before = set((digits / "digit_3").iterdir())
    at.camera_input(key="data_rec_cam_digit_3").upload("image.jpg", _jpeg()).run()
    no_exceptions(at)
    at.run()  # reruns hand over the same photo: saved once
    new = set((digits / "digit_3").iterdir()) - before
    assert len(new) == 1 and next(iter(new)).name.startswith("snapshot-")
    assert messages.md("Saved 1 picture(s) into digit_3.") in texts(at.success)


def _sound_dataset(tmp_path: Path) -> tuple[Path, Path]:
    """A sound folder and a picture folder standing in for its spectrograms (no conversion)."""
    sounds, pictures = tmp_path / "sounds", tmp_path / "pictures"
    for name in ("no", "yes"):
        (sounds / name).mkdir(parents=True)
        soundfile.write(sounds / name / "0.wav", np.zeros(800, dtype=np.float32) + 0.1, 16000)
        (pictures / name).mkdir(parents=True)
        for k in range(2):
            Image.new("RGB", (32, 32), (k * 90, 0, 0)).save(pictures / name / f"{k}.png")
    return sounds, pictures


def test_a_sound_dataset_offers_the_microphone_and_saves_a_wav(store, tmp_path):
    sounds, pictures = _sound_dataset(tmp_path)
    state = {session_keys.DATASET: str(pictures), session_keys.AUDIO_SOURCE: str(sounds)}
    at = page("1_data.py", **state).run()
    no_exceptions(at)
    assert [a.label for a in at.audio_input] == ["Record a clip for no"]
    assert "your own folder" in texts(at.caption)  # a person's own folder: said so
    at.selectbox(key="data_rec_class").set_value("yes").run()
    at.audio_input(key="data_rec_mic_yes").set_value(("clip.wav", _wav(), "audio/wav")).run()
    no_exceptions(at)
    at.run()
    saved = sorted(p.name for p in (sounds / "yes").iterdir())
    assert len(saved) == 2 and saved[1].startswith("microphone-") and saved[1].endswith(".wav")
    assert "Saved microphone" in texts(at.success)
    assert at.button(key="data_rec_reconvert")  # the new clips still need converting


def test_a_broken_recording_is_refused_with_a_reason(store, tmp_path):
    sounds, pictures = _sound_dataset(tmp_path)
    state = {session_keys.DATASET: str(pictures), session_keys.AUDIO_SOURCE: str(sounds)}
    at = page("1_data.py", **state).run()
    at.audio_input(key="data_rec_mic_no").set_value(("clip.wav", b"RIFF0000", "audio/wav")).run()
    no_exceptions(at)
    assert "Not saved: not a sound clip that can be read" in texts(at.error)
    assert [p.name for p in (sounds / "no").iterdir()] == ["0.wav"]


def test_classes_built_in_the_browser_offer_the_burst_recorder_per_class(store):
    at = page("1_data.py", data_source="Build classes here").run()
    at.text_input[0].input("me")
    at.form_submit_button[0].click().run()
    at.text_input[0].input("you")
    at.form_submit_button[0].click().run()
    at.toggle(key="data_tm_burst_on_me").set_value(True).run()
    at.toggle(key="data_tm_burst_on_you").set_value(True).run()
    no_exceptions(at)  # two recorders on one page: one per class, each with its own key
    assert at.slider(key="data_tm_burst_me_fps").value == 5
    assert at.slider(key="data_tm_burst_you_count").value == 30
    assert "Hold the button: 5 frames a second are recorded into me" in texts(at.caption)
