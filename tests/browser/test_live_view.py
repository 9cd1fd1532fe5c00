"""The Live tab in a real browser: Debian's Chromium with a fake camera and microphone streams to
the studio over WebRTC (no outside server: host candidates on localhost), and a tiny run's model
classifies the frames (or the last second of sound) as they come; the bars and the measured
rate keep changing."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from browser.test_e2e import (
    CHROMIUM,
    CHROMIUM_ARGS,
    UI,
    browser_page,
    poll_live,
    screenshots,
    settled,
    studio,  # noqa: F401 - the fixture
)
from tiny_run import tiny_run, tiny_sound_run

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
VIEWPORT = {"width": 1280, "height": 720}  # a projector
CONNECT = 90_000  # ms: WebRTC negotiation, then TensorFlow's start-up in the app process
RATE = re.compile(r"([\d.]+) classifications a second")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]

# The live bars and rate text at one instant.
STATE_JS = """() => {
    const bars = Array.from(document.querySelectorAll('.live-bars .live-row')).map(r => [
        r.querySelector('.live-name').innerText, r.querySelector('.live-pct').innerText]);
    const rate = document.querySelector('.live-rate');
    return {bars: bars, rate: rate ? rate.innerText : ''};
}"""


def poll(page, wanted, timeout_ms: int, what: str) -> dict:
    """The Live tab's bars and rate (STATE_JS) once `wanted(state)` holds."""
    return poll_live(page, wanted, timeout_ms, what, js=STATE_JS, every_ms=250)


def rate_of(state: dict) -> float:
    found = RATE.search(state["rate"])
    return float(found.group(1)) if found else 0.0


@pytest.mark.timeout(600)
def test_the_live_tab_classifies_a_fake_camera_and_keeps_updating(studio, tmp_path):  # noqa: F811
    home: Path = studio["home"]
    _, run = tiny_run(home.parent)  # trained into the studio's home
    assert run.status == "done", run.status
    shots = screenshots(tmp_path)
    with browser_page(studio, tmp_path, FAKE_MEDIA, 6000, viewport=VIEWPORT) as page:
        look_live(page, studio["url"], shots)
        delete_while_previewed(page, studio["home"], run.id)


def delete_while_previewed(page, home: Path, run_id: str) -> None:
    """The run is deleted (as the Runs page does) while the Live tab previews it: a plain
    sentence, and the stream stops feeding the model."""
    from core.jobs import run_admin
    from core.runs.store import Store

    assert not isinstance(run_admin.delete(Store(home), run_id), run_admin.Refused)
    expect(page.get_by_text("This run was deleted")).to_be_visible(timeout=UI)
    expect(page.get_by_text("Traceback")).to_have_count(0)


def look_live(page, url: str, shots: Path) -> None:
    page.goto(url + "predict")
    expect(page.get_by_text("Classes: blue, red")).to_be_visible(timeout=CONNECT)
    settled(page)
    page.get_by_role("tab", name="Live").click()
    component = page.frame_locator('iframe[title*="webrtc"]').first
    component.get_by_role("button", name="Start").click(timeout=UI)

    first = poll(page, lambda s: rate_of(s) > 0 and s["bars"], CONNECT, "the first answers")
    assert {name for name, _ in first["bars"]} == {"blue", "red"}, first
    seen = {first["rate"]}
    deadline = time.monotonic() + 20
    while len(seen) < 4 and time.monotonic() < deadline:  # the answers keep coming
        page.wait_for_timeout(500)
        seen.add(page.evaluate(STATE_JS)["rate"])
    assert len(seen) >= 4, f"the live text stopped changing: {seen}"
    page.screenshot(path=str(shots / "live.png"))

    page.get_by_text("Presentation view").click()
    settled(page)
    expect(page.get_by_text("Classify at most")).to_be_hidden(timeout=UI)
    later = poll(page, lambda s: rate_of(s) > 0, UI, "answers in the presentation view")
    print(f"live rate: {later['rate']}")
    page.screenshot(path=str(shots / "live_presentation.png"))


@pytest.mark.timeout(600)
def test_the_live_tab_listens_to_a_fake_microphone_for_a_sound_model(studio, tmp_path):  # noqa: F811
    home: Path = studio["home"]
    _, run = tiny_sound_run(home.parent)
    assert run.status == "done", run.error
    shots = screenshots(tmp_path)
    with browser_page(studio, tmp_path, FAKE_MEDIA, 6000, viewport=VIEWPORT) as page:
        listen_live(page, studio["url"], shots)


def listen_live(page, url: str, shots: Path) -> None:
    page.goto(url + "predict")
    expect(page.get_by_text("Classes: high, low")).to_be_visible(timeout=CONNECT)
    settled(page)
    page.get_by_role("tab", name="Live").click()
    expect(page.get_by_text("listens to the microphone")).to_be_visible(timeout=UI)
    component = page.frame_locator('iframe[title*="webrtc"]').first
    component.get_by_role("button", name="Start").click(timeout=UI)

    first = poll(page, lambda s: rate_of(s) > 0 and s["bars"], CONNECT, "the first answers")
    assert {name for name, _ in first["bars"]} == {"high", "low"}, first
    expect(page.get_by_text("what the model hears")).to_be_visible(timeout=UI)
    seen = {first["rate"]}
    deadline = time.monotonic() + 20
    while len(seen) < 3 and time.monotonic() < deadline:  # about two windows a second
        page.wait_for_timeout(700)
        seen.add(page.evaluate(STATE_JS)["rate"])
    assert len(seen) >= 3, f"the live text stopped changing: {seen}"
    assert rate_of(page.evaluate(STATE_JS)) <= 2.5  # about twice a second, as promised
    page.screenshot(path=str(shots / "live_sound.png"))


@pytest.mark.timeout(300)
def test_a_refused_camera_is_said_in_a_sentence(studio):  # noqa: F811
    """Without the fake permission prompt, headless Chromium refuses the camera: the component
    shows the browser's error name and the page says what it means; the rest keeps working."""
    tiny_run(studio["home"].parent)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS + ["--use-fake-device-for-media-stream"],
        )
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(studio["url"] + "predict")
            expect(page.get_by_text("Classes: blue, red")).to_be_visible(timeout=CONNECT)
            settled(page)
            page.get_by_role("tab", name="Live").click()
            component = page.frame_locator('iframe[title*="webrtc"]').first
            component.get_by_role("button", name="Start").click(timeout=UI)
            expect(component.get_by_text("NotAllowedError")).to_be_visible(timeout=UI)
            expect(page.get_by_text("was not allowed to use the camera")).to_be_visible()
            page.get_by_role("tab", name="One picture").click()  # the page still works
            expect(page.get_by_text("Show where the model looked")).to_be_visible(timeout=UI)
        finally:
            browser.close()


@pytest.mark.timeout(900)
@pytest.mark.skipif(
    not os.environ.get("STUDIO_MEASURE_LIVE"),
    reason="a measurement for the README, not a check: set STUDIO_MEASURE_LIVE=1 (150 px model)",
)
def test_measure_the_live_rate_of_a_150_px_model(studio, tmp_path):  # noqa: F811
    """Prints the rate the page shows over 30 s for a 150 px model (README's figure)."""
    import statistics

    from synthetic import write_colour_dataset
    from tiny_run import TINY, train

    from core.runs.config import RunConfig
    from core.runs.store import Store

    home: Path = studio["home"]
    data = write_colour_dataset(tmp_path / "data", ("red", "green", "blue"), per_class=6, size=150)
    config = RunConfig(dataset=str(data), **dict(TINY, image_size=150, batch_size=6))
    assert train(Store(home), config).status == "done"
    shots = screenshots(tmp_path)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + FAKE_MEDIA
        )
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(studio["url"] + "predict")
            expect(page.get_by_text("Classes: blue, green, red")).to_be_visible(timeout=CONNECT)
            settled(page)
            page.get_by_role("tab", name="Live").click()
            component = page.frame_locator('iframe[title*="webrtc"]').first
            component.get_by_role("button", name="Start").click(timeout=UI)
            poll(page, lambda s: rate_of(s) > 0, CONNECT, "the first answers")
            page.wait_for_timeout(5000)
            rates = []
            for _ in range(60):
                rates.append(rate_of(page.evaluate(STATE_JS)))
                page.wait_for_timeout(500)
            print(
                f"150 px: median {statistics.median(rates):.2f}/s "
                f"(min {min(rates):.2f}, max {max(rates):.2f}); load {os.getloadavg()}"
            )
            page.get_by_text("Presentation view").click()
            settled(page)
            page.wait_for_timeout(3000)
            page.screenshot(path=str(shots / "live_presentation.png"))
        finally:
            browser.close()
