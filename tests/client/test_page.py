"""The page `make serve` serves at /, in a real browser: the distribution's headless Chromium driven by
Selenium through its own chromedriver (no browser download; `make setup` installs both on Debian-like
systems). It uploads generated clips, waits for the piano roll, compares the notes with the API's,
re-transcribes from a threshold, downloads the MIDI, shows an error, and saves a screenshot; with
silero-vad chosen, it draws spoken sentences as a timeline under the waveform."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf
import soxr
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from contract import page_policy
from inference.testing import signals
from tests.client.scripted_server import result_document
from tests.client.speech_clips import speech_clip, speech_wav
from tests.support.browser import launch_chromium
from tests.support.service import REPO, LocalServer

SCREENSHOTS = REPO / "build" / "test-output" / "page"


def stereo_wav(path: Path, seed: int, seconds: float) -> Path:
    mono = signals.render(signals.piece(seed, seconds), 44100, seconds, seed=seed)
    sf.write(path, np.stack([mono, mono * 0.8], axis=1), 44100, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[WebDriver]:
    driver = launch_chromium(
        prefs={"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(browser: WebDriver, condition: Callable[[WebDriver], object], timeout: float = 90) -> None:
    """Until `condition` holds; one that reads elements while the page replaces them (the model list
    filled from /health) is asked again, not failed on a stale element."""
    WebDriverWait(browser, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)).until(
        condition
    )


def state(browser: WebDriver) -> str:
    return str(browser.find_element(By.TAG_NAME, "body").get_attribute("data-state"))


def choose(browser: WebDriver, path: Path) -> None:
    """Choose a file as a person would, and wait for the page to finish with it."""
    browser.execute_script("document.body.dataset.state = 'idle'")
    browser.find_element(By.ID, "file").send_keys(str(path))
    wait_for(browser, lambda b: state(b) in ("done", "error"))


def finished_runs(browser: WebDriver) -> int:
    """How many transcriptions the page has finished (done or error): a new one is told by this, not by
    a count that may happen to stay the same."""
    return int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-finished") or 0)


def api_notes(server: LocalServer, path: Path, onset: float, frame: float) -> int:
    answer = requests.post(
        f"{server.url}/predict",
        files={"file": (path.name, path.read_bytes(), "audio/wav")},
        data={"onset_threshold": str(onset), "frame_threshold": str(frame)},
        timeout=60,
    )
    return len(answer.json()["result"]["notes"])


def drawn_note_pixels(browser: WebDriver) -> int:
    """Pixels of the roll in the notes' blue: the notes were drawn, not only counted."""
    return int(
        browser.execute_script(
            """const canvas = document.getElementById('piano-roll');
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let count = 0;
            for (let i = 0; i < data.length; i += 4) if (data[i + 2] > data[i] + 40) count++;
            return count;"""
        )
    )


def cursor_fraction(browser: WebDriver) -> float:
    """Where the cursor stands, as a fraction of the roll's time axis (after the pitch labels)."""
    return float(
        browser.execute_script(
            """const roll = document.getElementById('piano-roll').getBoundingClientRect();
            const cursor = document.getElementById('cursor').getBoundingClientRect();
            return (cursor.left - roll.left - 36) / (roll.width - 36);"""
        )
    )


def test_the_page_transcribes_plays_and_downloads(
    browser: WebDriver, local_server: LocalServer, tmp_path: Path, downloads: Path
) -> None:
    browser.get(f"{local_server.url}/")
    assert browser.title.startswith("Audio Inference")
    assert browser.find_element(By.ID, "api-url").get_attribute("value") == local_server.url

    clip = stereo_wav(tmp_path / "etude.wav", 21, 8.0)
    choose(browser, clip)
    assert state(browser) == "done", browser.find_element(By.ID, "error").text
    shown = int(browser.find_element(By.ID, "notes-count").text)
    assert shown == api_notes(local_server, clip, 0.5, 0.3) and shown > 10
    assert "request" in browser.find_element(By.ID, "via").text
    assert drawn_note_pixels(browser) > 500

    # The audio plays under the cursor: seek half way, the cursor follows.
    browser.execute_script("document.getElementById('player').currentTime = 4.0;")
    wait_for(browser, lambda b: abs(cursor_fraction(b) - 0.5) < 0.02)
    assert float(browser.execute_script("return document.getElementById('player').duration")) == pytest.approx(
        8.0, abs=0.05
    )

    # A threshold moved re-transcribes.
    finished = finished_runs(browser)
    browser.execute_script(
        """const slider = document.getElementById('onset-threshold');
        slider.value = '0.8'; slider.dispatchEvent(new Event('input')); slider.dispatchEvent(new Event('change'));"""
    )
    wait_for(browser, lambda b: finished_runs(b) > finished)
    assert state(browser) == "done", browser.find_element(By.ID, "error").text
    assert int(browser.find_element(By.ID, "notes-count").text) == api_notes(local_server, clip, 0.8, 0.3)
    assert abs(cursor_fraction(browser) - 0.5) < 0.02  # still where the audio is
    assert browser.find_element(By.ID, "progress").get_attribute("hidden") is not None

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "piano-roll.png"))
    assert (SCREENSHOTS / "piano-roll.png").stat().st_size > 10_000

    # The MIDI download starts (a presigned link on the emulated S3, an attachment).
    browser.find_element(By.ID, "download-midi").click()
    deadline = time.monotonic() + 30
    while not list(downloads.glob("*.mid")) and time.monotonic() < deadline:
        time.sleep(0.1)
    midi = list(downloads.glob("*.mid"))
    assert midi and midi[0].read_bytes().startswith(b"MThd")
    json_link = browser.find_element(By.ID, "download-json").get_attribute("href") or ""
    assert json_link.startswith("blob:")


def test_a_long_file_goes_through_a_job_in_the_page(
    browser: WebDriver, local_server: LocalServer, tmp_path: Path
) -> None:
    long = stereo_wav(tmp_path / "rehearsal.wav", 22, 30.0)  # 5.3 MB: over the request limit
    browser.get(f"{local_server.url}/")
    choose(browser, long)
    assert state(browser) == "done", browser.find_element(By.ID, "error").text
    assert browser.find_element(By.ID, "via").text.startswith("job ")
    assert int(browser.find_element(By.ID, "notes-count").text) > 50


def test_a_file_that_is_not_audio_shows_the_services_error(
    browser: WebDriver, local_server: LocalServer, tmp_path: Path
) -> None:
    text = tmp_path / "setlist.txt"
    text.write_text("1. intro\n2. the long one\n" * 10)
    browser.get(f"{local_server.url}/")
    choose(browser, text)
    assert state(browser) == "error"
    message = browser.find_element(By.ID, "error").text
    assert "not a supported audio format" in message and "HTTP 415" in message and "unsupported_audio_format" in message
    assert browser.find_element(By.ID, "result").get_attribute("hidden") is not None


HOSTILE_LINKS = (
    "javascript:window.__pwned = [localStorage.getItem('audio-inference-api'), document.body.innerHTML]",
    "data:text/html,<script>opener.__pwned = 1</script>",
    "http://attacker.example/steal.mid",
)


def answer_predict_with(browser: WebDriver, midi_url: str) -> None:
    """Stand in for a hostile API: the page's upload (fetch with a key, XMLHttpRequest without) gets this
    answer, without network."""
    answer = {
        "request_id": "req-hostile",
        "result": result_document(3),
        "downloads": {"json_url": midi_url, "midi_url": midi_url, "expires_in_s": 60},
    }
    browser.execute_script(
        """const body = JSON.stringify(arguments[0]);
        window.XMLHttpRequest = class {
          constructor() { this.upload = {}; }
          open(method, url) { this.url = url; }
          setRequestHeader() {}
          getResponseHeader() { return null; }
          send() { this.status = 200; this.responseText = body; setTimeout(() => this.onload(), 0); }
        };
        const realFetch = window.__realFetch || window.fetch;
        window.__realFetch = realFetch;
        window.fetch = (url, init) => String(url).endsWith('/predict') && init && init.method === 'POST'
          ? Promise.resolve(new Response(body, {status: 200, headers: {'Content-Type': 'application/json'}}))
          : realFetch(url, init);""",
        answer,
    )


def retranscribe(browser: WebDriver) -> None:
    """Move a threshold (the same file chosen again would not fire a change) and wait for the run."""
    finished = finished_runs(browser)
    browser.execute_script(
        """const slider = document.getElementById('onset-threshold');
        slider.value = String(0.3 + Math.random() * 0.4);
        slider.dispatchEvent(new Event('input')); slider.dispatchEvent(new Event('change'));"""
    )
    wait_for(browser, lambda b: finished_runs(b) > finished, timeout=20)


def test_a_hostile_midi_url_is_not_a_link_and_the_key_is_never_stored(
    browser: WebDriver, local_server: LocalServer, tmp_path: Path
) -> None:
    browser.get(f"{local_server.url}/")
    browser.find_element(By.CSS_SELECTOR, "#settings summary").click()  # the API panel
    key = browser.find_element(By.ID, "api-key")
    key.send_keys("k3y-of-the-person-at-the-keyboard")
    browser.find_element(By.ID, "remember").click()
    browser.execute_script("document.getElementById('api-key').dispatchEvent(new Event('change'))")
    stored = str(browser.execute_script("return JSON.stringify(localStorage)"))
    assert "k3y" not in stored and local_server.url in stored, stored

    clip = stereo_wav(tmp_path / "short.wav", 23, 1.0)
    for number, hostile in enumerate(HOSTILE_LINKS):
        answer_predict_with(browser, hostile)
        if number == 0:
            choose(browser, clip)
        else:
            retranscribe(browser)
        assert state(browser) == "done", browser.find_element(By.ID, "error").text
        midi = browser.find_element(By.ID, "download-midi")
        assert midi.get_attribute("href") is None, hostile
        assert midi.get_attribute("aria-disabled") == "true"
        browser.execute_script("document.getElementById('download-midi').click()")
        time.sleep(0.3)
        assert browser.execute_script("return window.__pwned === undefined"), hostile

    fine = "https://audio-inference-output.s3.amazonaws.com/results/predict/r/result.mid?X-Amz-Signature=abc"
    answer_predict_with(browser, fine)
    retranscribe(browser)
    midi = browser.find_element(By.ID, "download-midi")
    assert midi.get_attribute("href") == fine and midi.get_attribute("aria-disabled") is None


def test_the_page_carries_a_content_security_policy(local_server: LocalServer) -> None:
    def parsed(policy: str) -> dict[str, str]:
        return {name: value for name, _, value in (d.strip().partition(" ") for d in policy.split(";"))}

    for path in ("/", "/page/app.js"):
        answer = requests.get(f"{local_server.url}{path}", timeout=10)
        directives = parsed(answer.headers["Content-Security-Policy"])
        assert directives["default-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        connect = directives["connect-src"].split()
        assert connect[0] == "'self'" and len(connect) == 2, connect
        assert connect[1].startswith("http://127.0.0.1:"), "the emulated storage, by its origin"
        assert "*" not in answer.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in answer.headers["Content-Security-Policy"]
        if path == "/":  # the page carries the same policy itself, less what only a header can carry
            carried = parsed(page_policy.carried_policy(answer.text))
            assert carried == {k: v for k, v in directives.items() if k != "frame-ancestors"}
    api = requests.get(f"{local_server.url}/health", timeout=10)
    assert "Content-Security-Policy" not in api.headers  # the API's answers are JSON, not the page


def api_segments(server: LocalServer, path: Path, **fields: str) -> list[dict[str, float]]:
    answer = requests.post(
        f"{server.url}/predict",
        files={"file": (path.name, path.read_bytes(), "audio/wav")},
        data={"model": "silero-vad", **fields},
        timeout=60,
    )
    segments: list[dict[str, float]] = answer.json()["result"]["segments"]
    return segments


def shown(browser: WebDriver, element_id: str) -> bool:
    return bool(browser.find_element(By.ID, element_id).is_displayed())


def timeline_bars(browser: WebDriver) -> list[dict[str, float]]:
    """Each bar's start and end (from its data) and where it is drawn, as fractions of the timeline."""
    return list(
        browser.execute_script(
            """const strip = document.getElementById('timeline').getBoundingClientRect();
            return [...document.querySelectorAll('#timeline .segment')].map((bar) => {
              const box = bar.getBoundingClientRect();
              return {start_s: Number(bar.dataset.start), end_s: Number(bar.dataset.end),
                      left: (box.left - strip.left) / strip.width, right: (box.right - strip.left) / strip.width};
            });"""
        )
    )


def drawn_wave_pixels(browser: WebDriver) -> int:
    """Pixels of the waveform in its grey (not the speech shading): the audio was decoded and drawn."""
    return int(
        browser.execute_script(
            """const canvas = document.getElementById('waveform');
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let count = 0;
            for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 200 && data[i + 2] > data[i] + 10) count++;
            return count;"""
        )
    )


def test_silero_vad_draws_speech_as_a_timeline_under_the_waveform(
    browser: WebDriver, local_server: LocalServer, tmp_path: Path
) -> None:
    clip, scene = speech_wav(tmp_path / "meeting.wav", 51)
    browser.get(f"{local_server.url}/")
    models = lambda b: [o.get_attribute("value") for o in b.find_elements(By.CSS_SELECTOR, "#model option")]  # noqa: E731
    wait_for(browser, lambda b: models(b) == ["basic-pitch", "silero-vad"], timeout=20)  # from GET /health
    assert Select(browser.find_element(By.ID, "model")).first_selected_option.get_attribute("value") == "basic-pitch"
    assert shown(browser, "onset-threshold") and not shown(browser, "vad-threshold")

    Select(browser.find_element(By.ID, "model")).select_by_value("silero-vad")
    assert shown(browser, "vad-threshold") and shown(browser, "speech-pad-ms") and not shown(browser, "onset-threshold")
    choose(browser, clip)
    assert state(browser) == "done", browser.find_element(By.ID, "error").text
    expected = api_segments(local_server, clip)
    assert len(expected) >= len(scene.speech) >= 4
    assert int(browser.find_element(By.ID, "segments-count").text) == len(expected)
    assert shown(browser, "speech-frame") and not shown(browser, "roll-frame") and not shown(browser, "notes-summary")
    assert not shown(browser, "download-midi") and shown(browser, "download-json")  # VAD has no MIDI

    bars = timeline_bars(browser)
    duration = scene.duration_s
    assert [(bar["start_s"], bar["end_s"]) for bar in bars] == [(s["start_s"], s["end_s"]) for s in expected]
    for bar in bars:  # drawn where the speech is, over the audio's whole duration
        assert bar["left"] == pytest.approx(bar["start_s"] / duration, abs=0.005)
        assert bar["right"] == pytest.approx(bar["end_s"] / duration, abs=0.005)
    timeline = browser.find_element(By.ID, "timeline").rect
    waveform = browser.find_element(By.ID, "waveform").rect
    assert timeline["y"] >= waveform["y"] + waveform["height"] - 1  # under the waveform
    assert drawn_wave_pixels(browser) > 2000
    listed = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#segments-list li")]
    assert len(listed) == len(expected)
    assert listed[0].startswith(f"{expected[0]['start_s']:.2f} s – {expected[0]['end_s']:.2f} s")

    # Its own parameter re-runs it; the playing position stays.
    browser.execute_script("document.getElementById('player').currentTime = arguments[0];", duration / 2)
    wait_for(browser, lambda b: abs(speech_cursor_fraction(b) - 0.5) < 0.02)
    finished = finished_runs(browser)
    browser.execute_script(
        """const field = document.getElementById('min-silence-duration-ms');
        field.value = '1500'; field.dispatchEvent(new Event('change'));"""
    )
    wait_for(browser, lambda b: finished_runs(b) > finished)
    assert state(browser) == "done", browser.find_element(By.ID, "error").text
    merged = api_segments(local_server, clip, min_silence_duration_ms="1500")
    assert int(browser.find_element(By.ID, "segments-count").text) == len(merged) == len(timeline_bars(browser))
    assert abs(speech_cursor_fraction(browser) - 0.5) < 0.02
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "speech-timeline.png"))

    # Back to Basic Pitch: the piano roll, the MIDI link.
    finished = finished_runs(browser)
    Select(browser.find_element(By.ID, "model")).select_by_value("basic-pitch")
    wait_for(browser, lambda b: finished_runs(b) > finished)
    assert state(browser) == "done", browser.find_element(By.ID, "error").text
    assert shown(browser, "roll-frame") and not shown(browser, "speech-frame") and shown(browser, "download-midi")
    assert int(browser.find_element(By.ID, "notes-count").text) == api_notes(local_server, clip, 0.5, 0.3)


def speech_cursor_fraction(browser: WebDriver) -> float:
    return float(
        browser.execute_script(
            """const wave = document.getElementById('waveform').getBoundingClientRect();
            const cursor = document.getElementById('speech-cursor').getBoundingClientRect();
            return (cursor.left - wave.left) / wave.width;"""
        )
    )


def test_a_long_speech_file_goes_through_a_job_with_its_model(
    browser: WebDriver, local_server: LocalServer, tmp_path: Path
) -> None:
    """Over the request limit: the page's job carries the model (the answer is speech, not notes)."""
    scene = speech_clip(52)
    stereo = soxr.resample(scene.samples, scene.sample_rate, 48000)
    long = tmp_path / "interview.wav"
    sf.write(long, np.stack([stereo, stereo], axis=1), 48000, subtype="FLOAT")
    assert long.stat().st_size > 4_500_000
    browser.get(f"{local_server.url}/")
    wait_for(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#model option[value='silero-vad']")) == 1)
    Select(browser.find_element(By.ID, "model")).select_by_value("silero-vad")
    choose(browser, long)
    assert state(browser) == "done", browser.find_element(By.ID, "error").text
    assert browser.find_element(By.ID, "via").text.startswith("job ")
    count = int(browser.find_element(By.ID, "segments-count").text)
    assert count >= len(scene.speech) and len(timeline_bars(browser)) == count
    assert shown(browser, "speech-frame") and not shown(browser, "download-midi")


def models_offered(browser: WebDriver, health: object) -> list[tuple[str, str]]:
    """Stand in for GET /health's answer (None: unreachable), ask the page to reload its models, and
    read the selector's options (value, text) once it is filled."""
    browser.execute_script(
        """const health = arguments[0];
        const realFetch = window.__realFetch || (window.__realFetch = window.fetch);
        window.fetch = (url, init) => {
          if (!String(url).endsWith('/health')) return realFetch(url, init);
          if (health === null) return Promise.reject(new TypeError('Failed to fetch'));
          return Promise.resolve(new Response(JSON.stringify(health), {status: 200}));
        };
        document.getElementById('model').replaceChildren();
        document.getElementById('api-url').dispatchEvent(new Event('change'));""",
        health,
    )
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#model option"), timeout=10)
    return [
        (str(option.get_attribute("value")), option.text)
        for option in browser.find_elements(By.CSS_SELECTOR, "#model option")
    ]


def test_the_model_selector_follows_health_and_shows_names_as_text(
    browser: WebDriver, local_server: LocalServer
) -> None:
    browser.get(f"{local_server.url}/")
    sha = "0" * 64
    hostile = "<img src=x onerror=window.__pwned=1>"
    offered = models_offered(
        browser,
        {"status": "ok", "models": [{"name": "silero-vad", "version": "6.2.3", "sha256": sha}, {"name": hostile}]},
    )
    assert offered == [("silero-vad", "silero-vad 6.2.3"), (hostile, hostile)]  # the default first, as text
    assert browser.execute_script("return window.__pwned === undefined && !document.querySelector('#model img')")
    assert shown(browser, "vad-threshold") and not shown(browser, "onset-threshold")

    older = {"status": "ok", "model": {"name": "basic-pitch", "version": "0.4.0", "sha256": sha}}
    assert models_offered(browser, older) == [("basic-pitch", "basic-pitch 0.4.0")]  # /health before models
    assert shown(browser, "onset-threshold") and not shown(browser, "vad-threshold")

    assert models_offered(browser, None) == [("", "the service's default")]  # no model sent, no fields
    assert not shown(browser, "onset-threshold") and not shown(browser, "vad-threshold")


def test_a_slow_older_health_answer_never_overwrites_a_newer_one(browser: WebDriver, local_server: LocalServer) -> None:
    """The model list is filled from the newest /health asked for: an older answer arriving late (a slow
    first load, then the API URL changed) is dropped, as CI once saw under load."""
    browser.get(f"{local_server.url}/")
    browser.execute_script(
        """const realFetch = window.__realFetch || (window.__realFetch = window.fetch);
        let asked = 0;
        const answer = (models, ms) => new Promise((resolve) => setTimeout(
          () => resolve(new Response(JSON.stringify({status: 'ok', models}), {status: 200})), ms));
        window.fetch = (url, init) => {
          if (!String(url).endsWith('/health')) return realFetch(url, init);
          asked += 1;
          return asked === 1
            ? answer([{name: 'basic-pitch', version: 'old'}], 1500)
            : answer([{name: 'silero-vad', version: 'new'}], 0);
        };
        document.getElementById('model').replaceChildren();
        document.getElementById('api-url').dispatchEvent(new Event('change'));
        document.getElementById('api-url').dispatchEvent(new Event('change'));"""
    )
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#model option"), timeout=10)
    time.sleep(2.5)  # the older answer has arrived by now
    options = [option.text for option in browser.find_elements(By.CSS_SELECTOR, "#model option")]
    assert options == ["silero-vad new"], options
