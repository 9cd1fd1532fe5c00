"""The live preview's core: the newest frame wins, viewers share the thread in turn, the rate is
measured, an idle classifier stops, and a frame or a microphone window is classified exactly as
`core predict` classifies the same picture or sound file."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import soundfile
from PIL import Image
from tiny_run import tiny_run

from core.data import audio
from core.data.imaging import load_pil_rgb
from core.export import live_preview, predict
from core.export.live_preview import LiveClassifier, SoundWindow


def wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


class Gate:
    """A classify() that records its frames and holds each call until let through."""

    def __init__(self) -> None:
        self.seen: list = []
        self.entered = threading.Semaphore(0)
        self.go = threading.Semaphore(0)

    def __call__(self, frame):
        self.seen.append(frame)
        self.entered.release()
        assert self.go.acquire(timeout=10)
        return [{"class": str(frame), "probability": 1.0}], None


# -- the worker --------------------------------------------------------------------------------
def test_the_newest_frame_wins_under_a_burst():
    gate = Gate()
    viewer = LiveClassifier(gate).viewer()
    viewer.submit(0)
    assert gate.entered.acquire(timeout=10)  # frame 0 is with the model
    for frame in range(1, 51):  # a burst while the model is busy
        viewer.submit(frame)
    gate.go.release()
    assert gate.entered.acquire(timeout=10)
    gate.go.release()
    wait_until(lambda: viewer.classified == 2)
    assert gate.seen == [0, 50]
    assert viewer.result.top[0]["class"] == "50"
    assert viewer.skipped == 49


def test_two_viewers_are_served_in_turn():
    gate = Gate()
    live = LiveClassifier(gate)
    first, second = live.viewer(), live.viewer()
    first.submit("a1")
    assert gate.entered.acquire(timeout=10)
    first.submit("a2")
    second.submit("b1")
    for _ in range(3):
        gate.go.release()
    wait_until(lambda: first.classified == 2 and second.classified == 1)
    assert gate.seen == ["a1", "b1", "a2"]  # not a1, a2, b1: the first tab cannot starve it


def test_the_rate_is_the_classifications_per_second_actually_done():
    now = [0.0]

    def quarter_second(frame):
        now[0] += 0.25  # the model takes a quarter of a second on this clock
        return [{"class": "x", "probability": 1.0}], None

    viewer = LiveClassifier(quarter_second, clock=lambda: now[0]).viewer()
    assert viewer.rate() == 0.0
    for frame in range(8):
        viewer.submit(frame)
        wait_until(lambda f=frame: viewer.classified == f + 1)
    assert viewer.rate() == pytest.approx(4.0)
    now[0] += 10  # nothing classified for a while: the rate says so
    assert viewer.rate() == 0.0


def test_a_viewer_is_not_classified_more_often_than_it_asked():
    counted = []
    viewer = LiveClassifier(lambda f: (counted.append(f) or [], None)).viewer(min_interval=0.2)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        viewer.submit(1)
        time.sleep(0.01)
    assert 3 <= len(counted) <= 6  # about one in 0.2 s over 1 s, not one per 10 ms frame


def test_a_failing_frame_is_reported_and_the_stream_goes_on():
    def classify(frame):
        if frame == "bad":
            raise ValueError("the frame is broken")
        return [{"class": frame, "probability": 1.0}], None

    viewer = LiveClassifier(classify).viewer()
    viewer.submit("bad")
    wait_until(lambda: viewer.error is not None)
    assert viewer.error == "the frame is broken"
    viewer.submit("good")
    wait_until(lambda: viewer.classified == 1)
    assert viewer.error is None and viewer.result.top[0]["class"] == "good"


def test_the_thread_ends_when_its_viewers_go_quiet_or_close():
    live = LiveClassifier(lambda f: ([], None), idle_seconds=0.3)
    quiet, closing = live.viewer(), live.viewer()
    quiet.submit(1)
    closing.submit(1)
    wait_until(lambda: quiet.classified == 1 and closing.classified == 1)
    assert live.running
    closing.close()
    assert live.viewers == 1
    wait_until(lambda: not live.running, seconds=5)  # the quiet one timed out: no thread left
    quiet.submit(2)  # it comes back: a new thread serves it
    wait_until(lambda: quiet.classified == 2)


# -- the same answers as `core predict` -----------------------------------------------------------
@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    store, run = tiny_run(tmp_path_factory.mktemp("live"))
    return predict.load(store, run.id)


def test_a_camera_frame_gets_the_top_k_core_predict_gives_the_same_picture(loaded, tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "frame.png"  # not square, not the model's size: resized as in training
    Image.fromarray(rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)).save(path)
    expected = predict.top_k(loaded, [predict.image_for(loaded, path)], k=2)[0]

    viewer = LiveClassifier(live_preview.picture_classifier(loaded, k=2)).viewer()
    viewer.submit(np.asarray(load_pil_rgb(path)))  # the decoded pixels, as a camera sends them
    wait_until(lambda: viewer.result is not None, seconds=60)
    assert list(viewer.result.top) == expected
    other = Image.fromarray(np.full((48, 80, 3), (255, 0, 0), dtype=np.uint8))
    assert predict.top_k(loaded, [other], k=2)[0] != expected  # the answer depends on the frame


def chirp(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * (200 + 900 * t) * t)).astype(np.float32)


SETTINGS = audio.SpectrogramSettings(sample_rate=16000, clip_seconds=1.0, n_mels=32, hop_length=128)


def test_the_microphone_window_is_the_last_clip_and_renders_as_a_file_would(tmp_path):
    mic_rate = 48000
    samples = chirp(2.5, mic_rate)
    window = SoundWindow(SETTINGS)
    for start in range(0, len(samples), 960):  # 20 ms frames, as WebRTC delivers them
        window.push(samples[start : start + 960], mic_rate)
    assert window.seconds == pytest.approx(1.0, abs=0.03)

    last_second = tmp_path / "last.wav"
    soundfile.write(last_second, samples[-mic_rate:], mic_rate, subtype="FLOAT")
    from_file = audio.read_audio(last_second, SETTINGS.sample_rate, SETTINGS.clip_seconds)
    np.testing.assert_array_equal(window.waveform(), from_file)

    live_picture = audio.spectrogram_image(window.waveform(), SETTINGS)
    file_picture = audio.spectrogram_for_file(last_second, SETTINGS)
    np.testing.assert_array_equal(np.asarray(live_picture), np.asarray(file_picture))


def test_a_new_microphone_rate_starts_the_window_afresh():
    window = SoundWindow(SETTINGS)
    window.push(np.ones(48000, np.float32), 48000)
    window.push(np.zeros(4410, np.float32), 44100)
    assert window.seconds == pytest.approx(0.1)
    assert not window.waveform().any()


def test_pcm_frames_become_mono_floats():
    stereo = np.array([[1000, -1000, 3000, 1000]], dtype=np.int16)  # packed L R L R
    np.testing.assert_allclose(live_preview.mono(stereo, 2), [0.0, 2000 / 32768])
    planar = np.array([[0.5, 0.0], [0.0, 0.5]], dtype=np.float32)
    np.testing.assert_allclose(live_preview.mono(planar, 2), [0.25, 0.25])


def test_a_sound_window_gets_the_top_k_of_its_spectrogram(loaded):
    wave = audio.resample(chirp(1.0, 48000), 48000, SETTINGS.sample_rate)
    viewer = LiveClassifier(live_preview.sound_classifier(loaded, SETTINGS, k=2)).viewer()
    viewer.submit(wave)
    wait_until(lambda: viewer.result is not None, seconds=60)
    picture = audio.spectrogram_image(wave, SETTINGS)
    assert np.array_equal(np.asarray(viewer.result.picture), np.asarray(picture))
    assert list(viewer.result.top) == predict.top_k(loaded, [picture], k=2)[0]


# -- the connection's settings ------------------------------------------------------------------
def test_no_ice_server_is_used_unless_one_is_named(monkeypatch):
    from core.platform import settings

    monkeypatch.delenv(settings.ICE_SERVERS_ENV, raising=False)
    assert settings.ice_servers() == []  # offline: host candidates only, nothing is contacted
    monkeypatch.setenv(settings.ICE_SERVERS_ENV, '[{"urls": ["stun:stun.example.org:3478"]}]')
    assert settings.ice_servers() == [{"urls": ["stun:stun.example.org:3478"]}]
    for wrong in ("stun:stun.example.org", '{"urls": "x"}', '[{"url": "x"}]'):
        monkeypatch.setenv(settings.ICE_SERVERS_ENV, wrong)
        with pytest.raises(settings.SettingError, match=settings.ICE_SERVERS_ENV):
            settings.ice_servers()
