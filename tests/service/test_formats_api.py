"""The formats phones and browsers make, through `make serve`'s server on both paths: each new format
on /predict and as a job gives the notes the same audio gives as WAV, within what lossy coding allows
(onset F1 >= 0.9); whatever the declared content type, the bytes decide."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import requests

from inference.testing import signals
from inference.testing.scoring import onset_f1
from tests.support.audio import clusters_of_unknown_size, encoded_bytes, libvorbis_webm, wav_bytes
from tests.support.service import LocalServer, assert_follows_contract, contract, error_of

SECONDS = 8.0
RECORDER_BITRATE = 128_000
"""What browsers' MediaRecorder uses for Opus (libopus' default for mono, ~64 kbit/s, is a voice setting).

The material is chords (42 notes in 8 s): on the denser `piece` (chords under a melody), lossy coding at
these rates moves 5-12% of the onsets against the WAV (F1 0.85-0.95, measured per codec), because many of its
quiet notes sit at the onset threshold; Ogg/Vorbis, served before, scores 0.86 there too (libvorbis)."""


def _source(rate: int) -> np.ndarray:
    return signals.render(signals.chords(33, SECONDS), rate, SECONDS, seed=33)


def _stereo(samples: np.ndarray) -> np.ndarray:
    return np.stack([samples, samples], axis=1)


# (name, file name, the type a browser or phone declares, the result's audio.format, the bytes)
FORMATS: list[tuple[str, str, str, str, Callable[[], bytes]]] = [
    (
        "m4a-aac",
        "memo.m4a",
        "audio/x-m4a",
        "MP4/AAC",
        lambda: encoded_bytes(_stereo(_source(44100)), 44100, "ipod", "aac"),
    ),
    ("mp4-alac", "take.m4a", "audio/mp4", "MP4/ALAC", lambda: encoded_bytes(_source(44100), 44100, "ipod", "alac")),
    (
        "ogg-opus",
        "voice.opus",
        "audio/ogg",
        "OGG/Opus",
        lambda: encoded_bytes(_source(48000), 48000, "ogg", "libopus", bit_rate=RECORDER_BITRATE),
    ),
    (
        "webm-opus",
        "take.webm",
        "audio/webm",
        "WebM/Opus",
        lambda: encoded_bytes(_source(48000), 48000, "webm", "libopus", bit_rate=RECORDER_BITRATE),
    ),
    (
        "webm-recording",
        "recording.webm",
        "video/webm",
        "WebM/Opus",
        lambda: clusters_of_unknown_size(
            encoded_bytes(_source(48000), 48000, "webm", "libopus", live=True, bit_rate=RECORDER_BITRATE)
        ),
    ),
    (
        "webm-vorbis",
        "take.webm",
        "audio/webm",
        "WebM/Vorbis",
        lambda: libvorbis_webm(_stereo(_source(44100)), 44100),
    ),
]
IDS = [f[0] for f in FORMATS]


def _notes(result: dict[str, Any]) -> list[tuple[float, float, int]]:
    return [(n["start_s"], n["end_s"], n["pitch"]) for n in result["notes"]]


@pytest.fixture(scope="module")
def as_wav(local_server: LocalServer) -> list[tuple[float, float, int]]:
    """The notes of the same audio sent as a 16-bit WAV."""
    answer = requests.post(
        f"{local_server.url}/predict",
        files={"file": ("piece.wav", wav_bytes(_source(44100), 44100), "audio/wav")},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    notes = _notes(answer.json()["result"])
    assert len(notes) > 20
    return notes


@pytest.mark.parametrize("name, filename, declared, result_format, build", FORMATS, ids=IDS)
def test_predict_transcribes_each_format_as_its_wav(
    local_server, as_wav, name, filename, declared, result_format, build
):
    data = build()
    answer = requests.post(f"{local_server.url}/predict", files={"file": (filename, data, declared)}, timeout=120)
    assert answer.status_code == 200, answer.text
    assert_follows_contract(contract(local_server.url), answer)
    result = answer.json()["result"]
    assert result["audio"]["format"] == result_format
    assert abs(result["audio"]["duration_s"] - SECONDS) < 0.05
    assert onset_f1(as_wav, _notes(result)) >= 0.9


def test_a_raw_body_is_sniffed_not_taken_from_its_type(local_server, as_wav):
    """An M4A posted as the body with the wrong audio/* type is still an M4A."""
    data = FORMATS[0][4]()
    answer = requests.post(f"{local_server.url}/predict", data=data, headers={"Content-Type": "audio/wav"}, timeout=120)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["audio"]["format"] == "MP4/AAC"


@pytest.mark.parametrize("name, filename, declared, result_format, build", FORMATS, ids=IDS)
def test_a_job_transcribes_each_format_as_its_wav(local_server, as_wav, name, filename, declared, result_format, build):
    data = build()
    created = requests.post(
        f"{local_server.url}/jobs",
        json={"filename": filename, "content_type": declared, "size_bytes": len(data)},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    job = created.json()
    form = job["upload"]
    uploaded = requests.post(form["url"], data=form["fields"], files={"file": (filename, data, declared)}, timeout=60)
    assert uploaded.status_code == 204, uploaded.text
    final = _poll(job["status_url"])
    assert final["status"] == "succeeded", final
    result = requests.get(final["result"]["json_url"], timeout=10).json()
    assert result["audio"]["format"] == result_format
    assert onset_f1(as_wav, _notes(result)) >= 0.9


@pytest.mark.parametrize(
    "name, body",
    [
        (
            "an HLS playlist",
            b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:9/a.ts\n#EXT-X-ENDLIST\n",
        ),
        ("an ffconcat script", b"ffconcat version 1.0\nfile '/etc/passwd'\n"),
        ("a file URL", b"file:///etc/passwd"),
        ("a loopback URL", b"http://127.0.0.1:9/x"),
    ],
)
def test_playlists_and_urls_are_415_naming_what_was_found(local_server, name, body):
    answer = requests.post(f"{local_server.url}/predict", files={"file": ("song.m4a", body, "audio/x-m4a")}, timeout=30)
    assert answer.status_code == 415
    error = error_of(answer)
    assert error["code"] == "unsupported_audio_format"
    assert "MP4/M4A (AAC, ALAC)" in error["message"] and "this is " in error["message"]


@pytest.mark.parametrize("cut", [0.3, 0.9])
@pytest.mark.parametrize("name", ["m4a-aac", "webm-opus", "ogg-opus"])
def test_a_cut_file_is_422_truncated(local_server, name, cut):
    data = {f[0]: f[4] for f in FORMATS}[name]()
    answer = requests.post(
        f"{local_server.url}/predict",
        files={"file": ("cut.bin", data[: int(len(data) * cut)], "audio/mp4")},
        timeout=30,
    )
    assert answer.status_code == 422
    assert error_of(answer)["code"] == "undecodable_audio" and "truncated" in error_of(answer)["message"]


def _poll(url: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = requests.get(url, timeout=10).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"the job stayed {job['status']}")
