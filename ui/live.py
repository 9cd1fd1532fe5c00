"""The Predict page's Live tab: the browser's camera (or microphone, for a sound model) streams to
the studio over WebRTC (streamlit-webrtc) and the chosen run's model classifies what it sees
(or hears) as it goes, the bars updating in place.

Where the model runs: one core.export.live_preview.LiveClassifier per studio home and model
(st.cache_resource), holding the model the page already loaded, so every tab shares one model
and one thread; each tab is a Viewer with a single-frame slot (the newest frame wins). The
thread ends by itself a few seconds after the last tab stops sending (a closed tab, a stopped
camera). How often a tab is classified is the person's choice (a slider): that is all the CPU
the preview takes from training runs.

The WebRTC connection uses no outside server: the browser and the studio connect directly,
which works on the same machine or network and offline; STUDIO_ICE_SERVERS names STUN/TURN
servers for a browser elsewhere.
"""

from __future__ import annotations

import gc
import html
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from core.data.audio import SpectrogramSettings
from core.export import live_preview
from core.platform import settings
from core.runs.store import Run, Store
from ui import messages, model_loader

TOP_K = 5
FEED = "_live_feed"  # this tab's Feed (session state)
SOUND_EVERY = 0.5  # seconds between two classifications of the microphone (about 2 a second)
SOUND_SUBMIT = 0.25  # seconds of new audio between two windows offered to the model
SILENT = 5.0  # seconds without a frame while streaming: the camera or microphone is gone
BARS_EVERY = 0.25  # seconds between two redraws of the bars
# small frames: cheap to decode and send back, and enough for a model of up to 224 px
CAMERA = {"width": {"ideal": 320}, "height": {"ideal": 240}, "frameRate": {"ideal": 15}}
TRANSLATIONS = {
    "media_api_not_available": "This browser cannot use a camera or microphone here: open "
    "the studio at http://localhost (or over https) in a recent browser.",
    "device_not_available": "No camera or microphone was found: plug one in, then press Start.",
    "device_access_denied": "The browser was not allowed to use the camera or microphone: "
    "allow it (the icon in the address bar), then press Start.",
    "device_ask_permission": "Please allow the browser to use the camera or microphone.",
}
HELP_CAMERA = (
    "If a red message appears instead of the picture: **NotAllowedError** means the browser "
    "was not allowed to use the camera (allow it with the icon in the address bar, then "
    "Start again); **NotFoundError** means no camera was found (plug one in); "
    "**NotReadableError** means another program is using it. On a computer other than the "
    "studio's, the browser gives the camera only to an https address."
)
HELP_SOUND = HELP_CAMERA.replace("camera", "microphone").replace("picture", "sound")
PRESENTATION_CSS = """<style>
section[data-testid="stSidebar"], header[data-testid="stHeader"],
[data-testid="stSidebarCollapsedControl"], [data-testid="stHeading"], [data-testid="stSelectbox"],
[data-testid="stSlider"], [data-testid="stTabs"] [role="tablist"],
[data-testid="stElementContainer"]:has(>[data-testid="stMarkdown"]):not(:has(.live-bars,.live-rate))
{ display: none !important; }
[data-testid="stMainBlockContainer"] { max-width: 100% !important; padding: 1rem 2rem !important; }
.live-bars { font-size: 2.6rem !important; }
.live-rate { font-size: 1.3rem; }
</style>"""
BARS_CSS = """<style>
.live-bars { font-size: 1.15rem; }
.live-bars .live-row { display: grid; grid-template-columns: 30% 1fr 3.2em; gap: .6em;
  align-items: center; margin: .3em 0; }
.live-bars .live-name { font-weight: 600; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; }
.live-bars .live-track { background: rgba(128,128,128,.18); border-radius: .25em;
  height: 1.1em; overflow: hidden; }
.live-bars .live-fill { background: #ff4b4b; height: 100%; }
.live-bars .live-row:not(:first-child) .live-fill { background: #7d8da6; }
.live-bars .live-pct { text-align: right; font-variant-numeric: tabular-nums; }
</style>"""


@dataclass
class Feed:
    """One tab's stream: its viewer, its microphone window, and whether it may send frames."""

    key: tuple[str, str, int]  # (run id, model hash, classifier id)
    viewer: live_preview.Viewer
    window: live_preview.SoundWindow | None = None
    unsent: float = 0.0  # seconds of audio since the last window was offered
    open: bool = True


@st.cache_resource(show_spinner=False, max_entries=3)
def classifier(
    home: str, run_id: str, sha256: str, _loaded, _sound: SpectrogramSettings | None
) -> live_preview.LiveClassifier:
    """One live classifier per studio home and model, shared by every tab."""
    model_loader.tensorflow()  # the model is loaded already; spectrograms use tf.signal too
    # Streamlit runs keras.backend.clear_session() and gc.collect() after every script run, so
    # after each redraw of the bars (4 a second): with TensorFlow's objects in the heap that
    # held the GIL for ~200 ms each time and starved the model (profiled: 86% of the script
    # thread). Frozen, they are left out of every later collection.
    gc.freeze()
    if _sound is not None:
        return live_preview.LiveClassifier(live_preview.sound_classifier(_loaded, _sound, TOP_K))
    frames = live_preview.picture_classifier(_loaded, TOP_K)
    # a WebRTC frame is decoded to pixels only when the model takes it (skipped ones never are)
    return live_preview.LiveClassifier(lambda frame: frames(frame.to_ndarray(format="rgb24")))


def feed_for(store: Store, run: Run, loaded, sound) -> Feed:
    """This tab's feed for the run (a new one when the run or the model changed)."""
    live = classifier(str(store.home), run.id, run.model_sha256 or "", loaded, sound)
    key = (run.id, run.model_sha256 or "", id(live))
    feed = st.session_state.get(FEED)
    if feed is None or feed.key != key:
        if feed is not None:
            feed.open = False
            feed.viewer.close()
        feed = Feed(key, live.viewer(), live_preview.SoundWindow(sound) if sound else None)
        st.session_state[FEED] = feed
    return feed


def camera_callback(feed: Feed):
    def on_frame(frame):
        if feed.open:
            feed.viewer.submit(frame)
        return frame  # shown back in the browser as it came

    return on_frame


def microphone_callback(feed: Feed):
    """Reads the microphone and sends back silence: the stream's frames are only pulled while
    something goes back, and the sound itself must not (a loudspeaker would howl)."""

    def on_frame(frame):
        pcm = frame.to_ndarray()
        if feed.open and feed.window is not None:
            feed.window.push(live_preview.mono(pcm, len(frame.layout.channels)), frame.sample_rate)
            feed.unsent += frame.samples / frame.sample_rate
            if feed.unsent >= SOUND_SUBMIT:
                feed.unsent = 0.0
                feed.viewer.submit(feed.window.waveform())
        silence = av.AudioFrame.from_ndarray(
            np.zeros_like(pcm), format=frame.format.name, layout=frame.layout.name
        )
        silence.sample_rate, silence.pts, silence.time_base = (
            frame.sample_rate,
            frame.pts,
            frame.time_base,
        )
        return silence

    return on_frame


def bars_html(top) -> str:
    rows = "".join(
        f'<div class="live-row"><span class="live-name">{html.escape(g["class"])}</span>'
        f'<div class="live-track"><div class="live-fill" style="width:{g["probability"]:.1%}">'
        f'</div></div><span class="live-pct">{g["probability"]:.0%}</span></div>'
        for g in top
    )
    return f'<div class="live-bars">{rows}</div>'


def run_gone(store: Store, run: Run) -> bool:
    """The run was deleted (or its model file removed) since the page loaded its model."""
    try:
        current = store.get(run.id)
    except KeyError:
        return True
    return not current.model_path or not Path(current.model_path).is_file()


def show_results(store: Store, run: Run, feed: Feed, sound: bool) -> None:
    """The newest answer, the rate achieved, and what went wrong, in plain sentences."""
    viewer = feed.viewer
    if run_gone(store, run):
        feed.open = False
        viewer.close()
        st.error(
            "This run was deleted (or its model file removed) while it was previewed: the "
            "preview stopped. Pick another model above."
        )
        return
    quiet = viewer.seconds_since_frame()
    if viewer.submitted and quiet > SILENT:
        what = "microphone" if sound else "camera"
        st.warning(
            f"Nothing has come from the {what} for {quiet:.0f} seconds: is it still plugged "
            "in? Press Stop, then Start, to pick it again."
        )
    if viewer.error:
        st.error(f"The model could not classify the newest input: {messages.md(viewer.error)}")
    result = viewer.result
    if result is None:
        st.caption("Waiting for the first answer (loading the model can take a few seconds)...")
        return
    if sound and result.picture is not None:
        st.image(result.picture, caption="what the model hears (the last clip)", width="stretch")
    st.markdown(bars_html(result.top), unsafe_allow_html=True)
    st.markdown(
        f'<p class="live-rate">{viewer.rate():.1f} classifications a second '
        f"({result.seconds * 1000:.0f} ms each; {max(viewer.skipped, 0)} older "
        f"{'windows' if sound else 'frames'} skipped so the newest always wins)</p>",
        unsafe_allow_html=True,
    )


@st.fragment(run_every=BARS_EVERY)
def live_results(store: Store, run: Run, feed: Feed, sound: bool) -> None:
    show_results(store, run, feed, sound)


def rtc_configuration() -> dict | None:
    try:
        return {"iceServers": settings.ice_servers()}
    except settings.SettingError as exc:
        st.error(f"The live preview cannot connect: {messages.md(exc)}")
        return None


def section(store: Store, run: Run, loaded, sound: SpectrogramSettings | None) -> None:
    """The Live tab."""
    if loaded is None:
        return
    rtc = rtc_configuration()
    if rtc is None:
        return
    feed = feed_for(store, run, loaded, sound)
    presenting = st.toggle(
        "Presentation view",
        key="live_presentation",
        help="Hides the settings: the camera (or spectrogram) and large bars fill the screen.",
    )
    # one element either way: adding one would shift the camera's and restart its stream
    st.markdown(BARS_CSS + (PRESENTATION_CSS if presenting else ""), unsafe_allow_html=True)
    pace(feed, sound)
    left, right = st.columns(2)  # the same in both views: the stream is not restarted
    with left:
        context = stream(feed, rtc, sound)
    with right:
        if context.state.playing:
            live_results(store, run, feed, sound is not None)
        else:
            st.caption("Press Start to begin." if not feed.viewer.submitted else "Stopped.")
            # the browser's own error (e.g. "NotAllowedError") shows in the component, which
            # does not tell the server: what each one means, in a sentence, before it happens
            st.caption(HELP_SOUND if sound is not None else HELP_CAMERA)


def pace(feed: Feed, sound: SpectrogramSettings | None) -> None:
    """What the live view listens to or looks at, and how often it classifies."""
    if sound is not None:
        st.markdown(
            '<p class="live-settings">This model was trained on sounds, so the live view '
            "listens to the microphone (not the camera): about twice a second, the last "
            f"{sound.clip_seconds:g} s of sound (the length of its training clips) become a "
            "spectrogram and the model says what it hears.</p>",
            unsafe_allow_html=True,
        )
        feed.viewer.min_interval = SOUND_EVERY
    else:
        st.markdown(
            '<p class="live-settings">Press Start and allow the camera: each newest frame is '
            "classified as soon as the model is free (older frames are skipped, so the "
            "answer never lags behind).</p>",
            unsafe_allow_html=True,
        )
        most = st.slider(
            "Classify at most this many frames a second",
            1,
            20,
            8,
            key="live_rate",
            help="Every classification takes CPU from training runs on this machine.",
        )
        feed.viewer.min_interval = 1.0 / most


def stream(feed: Feed, rtc: dict, sound: SpectrogramSettings | None):
    """The microphone's or the camera's WebRTC stream, feeding the model."""
    if sound is not None:
        context = webrtc_streamer(
            key="live-microphone",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration=rtc,
            media_stream_constraints={"video": False, "audio": True},
            audio_frame_callback=microphone_callback(feed),
            translations=TRANSLATIONS,
        )
    else:  # the frames come back to the browser as they are: that is the picture shown
        context = webrtc_streamer(
            key="live-camera",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration=rtc,
            media_stream_constraints={"video": CAMERA, "audio": False},
            video_frame_callback=camera_callback(feed),
            translations=TRANSLATIONS,
        )
    return context
