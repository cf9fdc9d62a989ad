"""The page's record button, in the distribution's headless Chromium with a fake microphone fed from a
generated WAV of chords (`--use-file-for-fake-audio-capture`): it records a few seconds in whatever
container Chromium's MediaRecorder makes (WebM/Opus), shows the level while it records, and sends the
recording as it sends a chosen file; the notes come back from the chords. A denied microphone, or a
browser without MediaRecorder, is told in the page and sends nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from inference.testing import signals
from tests.client.test_page import SCREENSHOTS, state, wait_for
from tests.support.browser import launch_chromium
from tests.support.service import LocalServer

SEED = 61
MICROPHONE_S = 6.0  # the fake device loops the file


@pytest.fixture(scope="module")
def microphone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[signals.Note]]:
    """What the fake microphone hears: chords at 48 kHz, 16-bit mono (the WAV Chromium's fake device reads)."""
    notes = signals.chords(SEED, MICROPHONE_S)
    path = tmp_path_factory.mktemp("microphone") / "chords.wav"
    sf.write(path, signals.render(notes, 48000, MICROPHONE_S, seed=SEED), 48000, subtype="PCM_16")
    return path, notes


def microphone_browser(permission: str, microphone: Path) -> Iterator[WebDriver]:
    driver = launch_chromium(
        permission, "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={microphone}"
    )
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def browser(microphone: tuple[Path, list[signals.Note]]) -> Iterator[WebDriver]:
    """Chromium whose permission prompt answers "allow", with a fake microphone playing the chords."""
    yield from microphone_browser("--use-fake-ui-for-media-stream", microphone[0])


@pytest.fixture(scope="module")
def denying_browser(microphone: tuple[Path, list[signals.Note]]) -> Iterator[WebDriver]:
    """The same microphone, but every permission prompt answered "block", as a person who refuses it."""
    yield from microphone_browser("--deny-permission-prompts", microphone[0])


WATCH_REQUESTS = """
window.__sent = [];
const send = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.open = ((open) => function (method, url, ...rest) {
  this.__url = String(url);
  return open.call(this, method, url, ...rest);
})(XMLHttpRequest.prototype.open);
XMLHttpRequest.prototype.send = function (body) {
  const sent = { url: this.__url, files: [] };
  if (body instanceof FormData) {
    for (const [, value] of body) {
      if (value instanceof File) sent.files.push({ name: value.name, type: value.type, size: value.size });
    }
  }
  this.addEventListener('load', () => (sent.answer = this.responseText));
  window.__sent.push(sent);
  return send.call(this, body);
};
const realFetch = window.fetch;
window.fetch = (url, init) => {
  window.__sent.push({ url: String(url), files: [] });
  return realFetch(url, init);
};
"""
"""Count what the page sends from now on (uploads through XMLHttpRequest, calls through fetch), with the
files in each upload and the answer to each."""


def open_page(browser: WebDriver, server: LocalServer) -> None:
    browser.get(f"{server.url}/")
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#model option[value='basic-pitch']"), timeout=30)
    browser.execute_script(WATCH_REQUESTS)


def sent(browser: WebDriver) -> list[dict[str, Any]]:
    return list(browser.execute_script("return window.__sent"))


def shown(browser: WebDriver, element_id: str) -> bool:
    return bool(browser.find_element(By.ID, element_id).is_displayed())


def test_the_page_records_the_microphone_and_shows_its_notes(
    browser: WebDriver, local_server: LocalServer, microphone: tuple[Path, list[signals.Note]]
) -> None:
    open_page(browser, local_server)
    assert shown(browser, "record") and not shown(browser, "stop") and not shown(browser, "level")
    browser.find_element(By.ID, "record").click()
    wait_for(browser, lambda b: state(b) == "recording", timeout=20)
    assert shown(browser, "stop") and shown(browser, "level") and not shown(browser, "record")
    levels: list[float] = []
    started = time.monotonic()
    while time.monotonic() - started < 4.0:  # a few seconds of the chords, the level read as it moves
        levels.append(float(browser.find_element(By.ID, "level").get_attribute("value") or 0))
        time.sleep(0.2)
    assert max(levels) > 0.5, levels  # chords at about -10 dBFS RMS on a -60..0 dB meter
    assert browser.find_element(By.ID, "record-time").text.startswith("0:0")
    assert not sent(browser)  # nothing leaves while it records
    browser.find_element(By.ID, "stop").click()

    wait_for(browser, lambda b: state(b) in ("done", "error"))
    assert state(browser) == "done", browser.find_element(By.ID, "error").text
    assert not shown(browser, "stop") and shown(browser, "record")
    uploads = [request for request in sent(browser) if request["files"]]
    assert len(uploads) == 1 and uploads[0]["url"].endswith("/predict")  # the same path as a chosen file
    recording = uploads[0]["files"][0]
    assert recording["name"] == "recording.webm" and recording["type"] == "audio/webm", recording
    assert recording["size"] > 10_000

    result = json.loads(uploads[0]["answer"])["result"]
    assert 2.0 < result["audio"]["duration_s"] < 20.0  # about what was recorded, loosely (a loaded machine)
    notes = result["notes"]
    shown_count = int(browser.find_element(By.ID, "notes-count").text)
    assert shown_count == len(notes) >= 4
    played = {note.pitch for note in microphone[1]}
    heard = [note["pitch"] for note in notes]
    near = sum(1 for pitch in heard if any(abs(pitch - p) <= 1 for p in played))
    assert near >= 0.7 * len(heard), (sorted(heard), sorted(played))  # the chords' notes, not noise
    # The player learns the recording's length (Chromium's WebM carries none) and can seek in it.
    duration = "const d = document.getElementById('player').duration; return Number.isFinite(d) ? d : -1;"
    wait_for(browser, lambda b: float(b.execute_script(duration)) > 0, timeout=20)
    assert float(browser.execute_script(duration)) == pytest.approx(result["audio"]["duration_s"], abs=0.3)
    assert float(browser.execute_script("return document.getElementById('player').currentTime")) < 0.5

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "recording.png"))


def test_a_denied_microphone_is_told_and_nothing_is_sent(denying_browser: WebDriver, local_server: LocalServer) -> None:
    browser = denying_browser
    open_page(browser, local_server)
    browser.find_element(By.ID, "record").click()
    wait_for(browser, lambda b: state(b) == "error", timeout=20)
    message = browser.find_element(By.ID, "error").text
    assert "denied the microphone" in message and "nothing was recorded or sent" in message, message
    assert shown(browser, "record") and not shown(browser, "stop") and not shown(browser, "level")
    assert browser.find_element(By.ID, "record").is_enabled()  # it can be asked again
    assert browser.find_element(By.ID, "result").get_attribute("hidden") is not None
    time.sleep(0.5)
    assert sent(browser) == []


def test_a_browser_without_media_recorder_is_told_and_nothing_is_sent(
    browser: WebDriver, local_server: LocalServer
) -> None:
    open_page(browser, local_server)
    browser.execute_script("delete window.MediaRecorder; window.MediaRecorder = undefined;")
    browser.find_element(By.ID, "record").click()
    wait_for(browser, lambda b: state(b) == "error", timeout=20)
    message = browser.find_element(By.ID, "error").text
    assert "cannot record audio" in message and "choose a file" in message, message
    time.sleep(0.5)
    assert sent(browser) == []
