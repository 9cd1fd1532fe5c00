"""Live classification: a camera's newest frame, or a microphone's last seconds, classified by a
loaded model as often as the machine allows, never queued.

One LiveClassifier holds one loaded model and one thread. Every viewer (a browser tab) has a
single slot: a new frame replaces the one waiting there, so a slow model skips frames instead of
falling behind. The thread serves the viewers with a waiting frame in turn (two tabs share the
machine fairly), honours each viewer's chosen minimum interval, and ends once no viewer has sent
anything for a while (a closed tab stops costing CPU). Pictures and spectrograms go through
core.export.predict.top_k, exactly as `core predict` does.

Importing this module does not import TensorFlow: the model comes loaded, and the spectrogram
is rendered (with tf.signal) only when a window is classified.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from core.data import audio
from core.export import predict

RATE_WINDOW = 3.0  # seconds of completed classifications the measured rate is taken over
IDLE_SECONDS = 5.0  # a viewer silent this long is dropped (its tab closed or its camera stopped)


@dataclass(frozen=True)
class LiveResult:
    """One classification: its top classes (as predict.top_k gives them), the picture the model
    saw (a spectrogram for sound; None for a camera frame, which the browser shows itself), when
    it finished (the classifier's clock) and how long the model took."""

    top: tuple[dict[str, Any], ...]
    picture: Image.Image | None
    finished: float
    seconds: float


class Viewer:
    """One stream's side of a LiveClassifier: a single-frame slot and the newest result."""

    def __init__(self, owner: LiveClassifier, min_interval: float) -> None:
        self._owner = owner
        self.min_interval = min_interval  # seconds between two classifications of this stream
        self._frame: Any = None
        self._pending = False
        self.last_submit = -math.inf
        self.last_start = -math.inf
        self.result: LiveResult | None = None
        self.error: str | None = None  # why the newest frame could not be classified
        self.submitted = 0
        self.classified = 0
        self.failed = 0
        self._finished: deque[float] = deque(maxlen=200)

    def submit(self, frame: Any) -> None:
        """Offer a frame; it replaces any frame still waiting (the newest frame wins)."""
        self._owner._offer(self, frame)

    @property
    def skipped(self) -> int:
        """Frames replaced before the model got to them (and the one waiting now)."""
        return self.submitted - self.classified - self.failed - (1 if self._pending else 0)

    def rate(self) -> float:
        """Classifications per second over the last RATE_WINDOW seconds (0 when none)."""
        now = self._owner.clock()
        with self._owner._lock:
            recent = [t for t in self._finished if now - t <= RATE_WINDOW]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9)

    def seconds_since_frame(self) -> float:
        return self._owner.clock() - self.last_submit

    def close(self) -> None:
        self._owner._forget(self)


class LiveClassifier:
    """Classifies the viewers' newest frames on one thread with `classify(frame) ->
    (top, picture)`; exceptions become the viewer's error, never the thread's end."""

    def __init__(
        self,
        classify: Callable[[Any], tuple[list[dict[str, Any]], Image.Image | None]],
        idle_seconds: float = IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._classify = classify
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._lock = threading.Condition()
        self._viewers: list[Viewer] = []
        self._last: Viewer | None = None  # served last: the turn goes round from the next one
        self._thread: threading.Thread | None = None

    def viewer(self, min_interval: float = 0.0) -> Viewer:
        return Viewer(self, min_interval)

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def viewers(self) -> int:
        with self._lock:
            return len(self._viewers)

    def _offer(self, viewer: Viewer, frame: Any) -> None:
        with self._lock:
            if viewer not in self._viewers:
                self._viewers.append(viewer)
            viewer._frame, viewer._pending = frame, True
            viewer.submitted += 1
            viewer.last_submit = self.clock()
            if not self.running:
                self._thread = threading.Thread(
                    target=self._serve, name="live-classifier", daemon=True
                )
                self._thread.start()
            self._lock.notify_all()

    def _forget(self, viewer: Viewer) -> None:
        with self._lock:
            if viewer in self._viewers:
                self._viewers.remove(viewer)
            viewer._frame, viewer._pending = None, False
            self._lock.notify_all()

    def _next(self) -> tuple[Viewer | None, float]:
        """The next viewer to serve (round robin among those with a frame whose interval has
        passed), or None and how long to wait. Called with the lock held."""
        now = self.clock()
        self._viewers = [v for v in self._viewers if now - v.last_submit <= self.idle_seconds]
        wait = self.idle_seconds
        count = len(self._viewers)
        first = self._viewers.index(self._last) + 1 if self._last in self._viewers else 0
        for step in range(count):
            viewer = self._viewers[(first + step) % count]
            if not viewer._pending:
                continue
            ready = viewer.last_start + viewer.min_interval
            if ready <= now:
                self._last = viewer
                return viewer, 0.0
            wait = min(wait, ready - now)
        return None, max(wait, 0.001)

    def _serve(self) -> None:
        while True:
            with self._lock:
                while True:
                    viewer, wait = self._next()
                    if viewer is not None:
                        break
                    if not self._viewers:
                        self._thread = None  # idle: a later frame starts a new thread
                        return
                    self._lock.wait(timeout=wait)
                frame, viewer._frame, viewer._pending = viewer._frame, None, False
                viewer.last_start = started = self.clock()
            try:
                top, picture = self._classify(frame)
            except Exception as exc:  # noqa: BLE001 - said to the viewer, the stream goes on
                with self._lock:
                    viewer.error = str(exc) or type(exc).__name__
                    viewer.failed += 1
                continue
            finished = self.clock()
            with self._lock:
                viewer.result = LiveResult(tuple(top), picture, finished, finished - started)
                viewer.error = None
                viewer.classified += 1
                viewer._finished.append(finished)


# -- what is classified -------------------------------------------------------------------------
def picture_classifier(
    loaded: predict.LoadedModel, k: int
) -> Callable[[Any], tuple[list[dict[str, Any]], None]]:
    """classify() for camera frames (H x W x 3 uint8 RGB arrays or PIL images): predict.top_k,
    the same preprocessing and ranking as `core predict` on the same picture."""

    def classify(frame: Any) -> tuple[list[dict[str, Any]], None]:
        image = frame if isinstance(frame, Image.Image) else Image.fromarray(np.asarray(frame))
        return predict.top_k(loaded, [image], k=k)[0], None

    return classify


def sound_classifier(
    loaded: predict.LoadedModel, settings: audio.SpectrogramSettings, k: int
) -> Callable[[np.ndarray], tuple[list[dict[str, Any]], Image.Image]]:
    """classify() for microphone windows (mono float32 at settings.sample_rate): the spectrogram
    a file of those samples gets, then predict.top_k on it."""

    def classify(waveform: np.ndarray) -> tuple[list[dict[str, Any]], Image.Image]:
        picture = audio.spectrogram_image(waveform, settings)
        return predict.top_k(loaded, [picture], k=k)[0], picture

    return classify


class SoundWindow:
    """The last settings.clip_seconds of a microphone (the length of the clips the model trained
    on), kept at the microphone's own rate and resampled as a whole when it is read, so it
    equals what read_audio makes of a file holding the same samples."""

    def __init__(self, settings: audio.SpectrogramSettings) -> None:
        self.settings = settings
        self._chunks: deque[np.ndarray] = deque()
        self._held = 0
        self.native_rate: int | None = None

    def _wanted(self, rate: int) -> int:
        return math.ceil(self.settings.clip_seconds * rate)

    def push(self, samples: np.ndarray, rate: int) -> None:
        """Append mono samples taken at `rate` Hz (a new rate starts the window afresh)."""
        if rate != self.native_rate:
            self._chunks.clear()
            self._held, self.native_rate = 0, rate
        chunk = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._chunks.append(chunk)
        self._held += len(chunk)
        wanted = self._wanted(rate)
        while self._chunks and self._held - len(self._chunks[0]) >= wanted:
            self._held -= len(self._chunks.popleft())

    @property
    def seconds(self) -> float:
        return self._held / self.native_rate if self.native_rate else 0.0

    def waveform(self) -> np.ndarray:
        """The window at the model's sample rate (shorter at the start: the spectrogram centres
        it, as it does a short file)."""
        rate = self.native_rate
        if not self._chunks or rate is None:
            return np.zeros(0, dtype=np.float32)
        held = np.concatenate(list(self._chunks))[-self._wanted(rate) :]
        return audio.resample(held, rate, self.settings.sample_rate)


def mono(samples: np.ndarray, channels: int) -> np.ndarray:
    """Interleaved or planar PCM (int16 or float) as mono float32 in -1..1."""
    data = np.asarray(samples)
    scale = 32768.0 if data.dtype == np.int16 else 1.0
    data = data.astype(np.float32) / scale
    if data.ndim == 2 and data.shape[0] == channels and channels > 1:  # planar
        return np.asarray(data.mean(axis=0), dtype=np.float32)
    flat = data.reshape(-1)
    if channels > 1:
        flat = flat[: len(flat) // channels * channels].reshape(-1, channels).mean(axis=1)
    return np.asarray(flat, dtype=np.float32)
