"""Bad input through `make serve`'s server: each gets its 4xx in the one JSON shape and writes nothing."""

from __future__ import annotations

import io
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import requests
import soundfile as sf

from inference.testing import signals
from tests.support.audio import wav_bytes
from tests.support.service import LocalServer, assert_follows_contract, contract, error_of

WAV = wav_bytes(signals.render(signals.chords(2, 2.0), 22050, 2.0, seed=2), 22050)


def long_silent_flac(seconds: float) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(int(8000 * seconds), dtype=np.float32), 8000, format="FLAC")
    return buffer.getvalue()


def encoded(seconds: float, rate: int, channels: int, fmt: str, subtype: str | None = None) -> bytes:
    """A tone, written in blocks (libsndfile's Vorbis encoder crashes on one large write)."""
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype(np.float32)
    frames = np.stack([tone] * channels, axis=1)
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", rate, channels, format=fmt, subtype=subtype) as out:
        for start in range(0, len(frames), 8192):
            out.write(frames[start : start + 8192])
    return buffer.getvalue()


def silent_flac(seconds: int, rate: int, channels: int) -> bytes:
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", rate, channels, format="FLAC") as out:
        for _ in range(seconds):
            out.write(np.zeros((rate, channels), dtype=np.float32))
    return buffer.getvalue()


def wav_at_rate(rate: int, frames: int) -> bytes:
    """A WAV whose header says `rate` (libsndfile will not write 1 Hz itself): the fmt chunk patched."""
    data = bytearray(wav_bytes(np.zeros(frames, dtype=np.float32), 8000))
    data[24:28] = rate.to_bytes(4, "little")
    data[28:32] = min(rate * 2, 2**32 - 1).to_bytes(4, "little")
    return bytes(data)


OGG = encoded(6.0, 44100, 2, "OGG", "VORBIS")
MP3 = encoded(6.0, 44100, 2, "MP3", "MPEG_LAYER_III")
RF64 = encoded(2.0, 22050, 1, "RF64", "PCM_16")
"""RF64: the size in its ds64 chunk (RIFF's 32-bit field says 0xFFFFFFFF)."""
BW64 = b"BW64" + RF64[4:]
"""BW64 (ITU-R BS.2088) is RF64's layout under another magic; libsndfile knows only RF64's."""


def with_rf64_size(data: bytes, riff_size: int) -> bytes:
    """The RF64 file with its ds64 chunk's riffSize replaced (what a hostile header claims)."""
    assert data[12:16] == b"ds64"
    return data[:20] + riff_size.to_bytes(8, "little") + data[28:]


def form(filename: str, data: bytes, **fields: str) -> dict[str, object]:
    return {"files": {"file": (filename, data, "audio/wav")}, "data": fields}


def raw(body: bytes, content_type: str, path: str = "/predict") -> dict[str, object]:
    return {"data": body, "headers": {"Content-Type": content_type}, "path": path}


@dataclass(frozen=True)
class Case:
    name: str
    request: Callable[[], dict[str, object]]
    status: int
    code: str
    method: str = "POST"


BOUNDARY = "xyzBOUNDARYxyz"
CASES = [
    Case(
        "malformed multipart",
        lambda: raw(
            b"--" + BOUNDARY.encode() + b"\r\ngarbage without headers", f"multipart/form-data; boundary={BOUNDARY}"
        ),
        400,
        "bad_request",
    ),
    Case("multipart without boundary", lambda: raw(b"abc", "multipart/form-data"), 400, "bad_request"),
    Case("no file part", lambda: {"files": {"onset_threshold": (None, "0.5")}}, 400, "bad_request"),
    Case(
        "two file parts",
        lambda: {"files": [("file", ("a.wav", WAV, "audio/wav")), ("file", ("b.wav", WAV, "audio/wav"))]},
        400,
        "bad_request",
    ),
    Case("wrong content type", lambda: raw(b"hello", "text/plain"), 415, "unsupported_media_type"),
    Case("JSON instead of audio", lambda: {"json": {"audio": "UklGRg=="}}, 415, "unsupported_media_type"),
    Case(
        "non-audio bytes", lambda: form("notes.txt", b"this is not audio at all" * 10), 415, "unsupported_audio_format"
    ),
    Case("truncated WAV", lambda: form("cut.wav", WAV[: len(WAV) // 3]), 422, "undecodable_audio"),
    Case("empty file", lambda: form("empty.wav", b""), 422, "empty_audio"),
    Case("empty raw body", lambda: raw(b"", "audio/wav"), 422, "empty_audio"),
    Case(
        "a WAV that holds no samples",
        lambda: form("none.wav", wav_bytes(np.zeros(0, dtype=np.float32), 22050)),
        422,
        "empty_audio",
    ),
    Case("a tempo MIDI cannot hold", lambda: form("a.wav", WAV, midi_tempo="1"), 422, "invalid_parameter"),
    Case("body over the synchronous limit", lambda: raw(b"\0" * 4_600_000, "audio/wav"), 413, "payload_too_large"),
    Case(
        "body over API Gateway's 10 MB",
        lambda: raw(b"\0" * (10 * 1024 * 1024 + 1), "audio/wav"),
        413,
        "request_too_large",
    ),
    Case(
        "audio over the duration limit",
        lambda: {"files": {"file": ("long.flac", long_silent_flac(660), "audio/flac")}},
        413,
        "audio_too_long",
    ),
    Case("threshold out of range", lambda: form("a.wav", WAV, onset_threshold="1.5"), 422, "invalid_parameter"),
    Case("non-numeric parameter", lambda: form("a.wav", WAV, midi_tempo="fast"), 422, "invalid_parameter"),
    Case("non-boolean parameter", lambda: form("a.wav", WAV, melodia_trick="maybe"), 422, "invalid_parameter"),
    Case("unknown parameter", lambda: form("a.wav", WAV, batch_size="64"), 422, "invalid_parameter"),
    Case(
        "parameter given twice",
        lambda: raw(WAV, "audio/wav", "/predict?onset_threshold=0.4&onset_threshold=0.6"),
        422,
        "invalid_parameter",
    ),
    Case(
        "min frequency above max",
        lambda: form("a.wav", WAV, minimum_frequency_hz="900", maximum_frequency_hz="100"),
        422,
        "invalid_parameter",
    ),
    Case("file name with NUL", lambda: form("evil\0.wav", WAV), 400, "bad_request"),
    Case(
        "multipart boundary of 257 characters",
        lambda: raw(b"--" + b"b" * 257 + b"--\r\n", "multipart/form-data; boundary=" + "b" * 257),
        400,
        "bad_request",
    ),
    Case(
        "multipart boundary of 71 characters",
        lambda: raw(b"--" + b"b" * 71 + b"--\r\n", "multipart/form-data; boundary=" + "b" * 71),
        400,
        "bad_request",
    ),
    Case(
        "a 1 Hz WAV (500 frames: 500 s)", lambda: form("slow.wav", wav_at_rate(1, 500)), 422, "unsupported_sample_rate"
    ),
    Case("a 384 kHz WAV", lambda: form("fast.wav", wav_at_rate(384_000, 1000)), 422, "unsupported_sample_rate"),
    Case(
        "nine channels",
        lambda: form("many.wav", wav_bytes(np.zeros((1000, 9), dtype=np.float32), 22050)),
        422,
        "too_many_channels",
    ),
    Case(
        "151 s of 192 kHz stereo: over the decoding budget",
        lambda: {"files": {"file": ("hires.flac", silent_flac(151, 192_000, 2), "audio/flac")}},
        413,
        "audio_too_large",
    ),
    Case("half an RF64 WAV", lambda: raw(RF64[: len(RF64) // 2], "audio/wav"), 422, "undecodable_audio"),
    Case("half a BW64 WAV", lambda: form("cut.wav", BW64[: len(BW64) // 2]), 422, "undecodable_audio"),
    Case(
        "an RF64 claiming 2**62 bytes",
        lambda: raw(with_rf64_size(RF64, 2**62)[:3000], "audio/wav"),
        422,
        "undecodable_audio",
    ),
    Case("a WAV at 0 Hz", lambda: form("zero.wav", wav_at_rate(0, 1000)), 422, "unsupported_sample_rate"),
    Case("a WAV at 2**32-1 Hz", lambda: form("max.wav", wav_at_rate(2**32 - 1, 1000)), 422, "unsupported_sample_rate"),
    Case("half an Ogg", lambda: raw(OGG[: len(OGG) // 2], "audio/ogg"), 422, "undecodable_audio"),
    Case("an Ogg without its last 100 bytes", lambda: raw(OGG[:-100], "audio/ogg"), 422, "undecodable_audio"),
    Case("half an MP3", lambda: raw(MP3[: len(MP3) // 2], "audio/mpeg"), 422, "undecodable_audio"),
    Case("Arabic-Indic digits", lambda: form("a.wav", WAV, onset_threshold="٠.٥"), 422, "invalid_parameter"),
    Case("full-width digits", lambda: form("a.wav", WAV, onset_threshold="０.５"), 422, "invalid_parameter"),
    Case(
        "digits with an underscore", lambda: raw(WAV, "audio/wav", "/predict?midi_tempo=1_0"), 422, "invalid_parameter"
    ),
    Case("NaN", lambda: raw(WAV, "audio/wav", "/predict?midi_tempo=nan"), 422, "invalid_parameter"),
    Case(
        "a 5,000-digit number",
        lambda: raw(WAV, "audio/wav", "/predict?midi_tempo=" + "9" * 5000),
        422,
        "invalid_parameter",
    ),
    Case("unknown route", lambda: {"path": "/predictions"}, 404, "not_found", method="GET"),
    Case("wrong method", lambda: {"path": "/predict"}, 404, "not_found", method="GET"),
    Case("wrong method on health", lambda: {"path": "/health"}, 404, "not_found", method="DELETE"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_its_4xx_and_leaves_both_buckets_as_they_were(local_server: LocalServer, case: Case) -> None:
    before = local_server.objects()
    spec = dict(case.request())
    path = str(spec.pop("path", "/predict"))
    response = requests.request(case.method, f"{local_server.url}{path}", timeout=60, **spec)  # type: ignore[arg-type]
    assert response.status_code == case.status, response.text
    error = error_of(response)
    assert error["code"] == case.code, error
    assert len(error["message"]) < 600, "a message never echoes what the client sent at length"
    assert local_server.objects() == before
    if case.code not in ("request_too_large", "not_found"):  # the gateway's own answers are not operations
        assert_follows_contract(contract(local_server.url), response)


@pytest.mark.parametrize("filename", ["../../../etc/passwd.wav", "C:\\Users\\me\\song.wav", "ピアノ ソナタ.wav"])
def test_any_file_name_is_metadata_only_under_the_servers_key(local_server: LocalServer, filename: str) -> None:
    """RFC 7578: a path in a file name is dropped, not refused; unicode is kept (encoded for S3)."""
    before = local_server.objects()
    response = requests.post(f"{local_server.url}/predict", files={"file": (filename, WAV, "audio/wav")}, timeout=60)
    assert response.status_code == 200, response.text
    request_id = response.json()["request_id"]
    after = local_server.objects()
    added = {bucket: sorted(set(keys) - set(before[bucket])) for bucket, keys in after.items()}
    assert added == {
        "audio-inference-local-input": [f"uploads/predict/{request_id}"],
        "audio-inference-local-output": [
            f"results/predict/{request_id}/result.json",
            f"results/predict/{request_id}/result.mid",
        ],
    }
    metadata = local_server.s3().head_object(Bucket="audio-inference-local-input", Key=f"uploads/predict/{request_id}")[
        "Metadata"
    ]
    stored_name = urllib.parse.unquote(metadata["original-filename"])
    assert stored_name == filename.replace("\\", "/").rsplit("/", 1)[-1]
    assert "/" not in metadata["original-filename"] and ".." not in metadata["original-filename"]


GSM_WAV = encoded(2.0, 8000, 1, "WAV", "GSM610")
"""GSM 6.10 in WAV (telephony, voicemail): libsndfile opens it as not seekable."""


@pytest.mark.parametrize(
    "data, content_type, seconds",
    [
        (OGG, "audio/ogg", 6.0),
        (MP3, "audio/mpeg", 6.0),
        (RF64, "audio/wav", 2.0),
        (BW64, "audio/wav", 2.0),
        (GSM_WAV, "audio/wav", 2.0),
    ],
    ids=["ogg", "mp3", "rf64", "bw64", "gsm-wav"],
)
def test_whole_files_still_transcribe(
    local_server: LocalServer, data: bytes, content_type: str, seconds: float
) -> None:
    """The truncation checks refuse only what is cut: the same files whole answer 200 (BW64 too: the
    format table names it)."""
    response = requests.post(
        f"{local_server.url}/predict", data=data, headers={"Content-Type": content_type}, timeout=60
    )
    assert response.status_code == 200, response.text
    audio = response.json()["result"]["audio"]
    assert audio["duration_s"] == pytest.approx(seconds, abs=0.1)


MEGABYTE_OF_CONTROLS = "\x01" * 1_500_000
"""Each escapes to four characters: an error quoting it whole is 6 MB, past Lambda's response limit."""


@pytest.mark.parametrize(
    "request_args",
    [
        {
            "method": "POST",
            "path": "/predict",
            "files": {"file": ("a.wav", WAV, "audio/wav"), "precision": (None, MEGABYTE_OF_CONTROLS)},
        },
        {
            "method": "POST",
            "path": "/predict",
            "files": {"file": ("a.wav", WAV, "audio/wav"), "include_pitch_bends": (None, "é" * 700_000)},
        },
        {"method": "GET", "path": "/jobs/" + "a" * 60_000},
        {"method": "POST", "path": "/jobs", "json": {"filename": "a.wav", "content_type": "text/" + "b" * 5000}},
        {"method": "POST", "path": "/jobs", "json": {"filename": "a.wav", "content_type": "audio/" + "b" * 5000}},
    ],
    ids=["precision", "bool-parameter", "job-id", "content-type", "audio-content-type"],
)
def test_a_refused_value_is_quoted_by_its_start_so_the_answer_stays_small(
    local_server: LocalServer, request_args: dict[str, Any]
) -> None:
    """A stranger got a 502 by sending a megabyte-long parameter value: the 422 quoted it whole."""
    method, path = request_args.pop("method"), request_args.pop("path")
    response = requests.request(method, f"{local_server.url}{path}", timeout=60, **request_args)
    assert 400 <= response.status_code < 500, response.text[:300]
    assert len(response.content) < 2000, response.text[:300]
    message = error_of(response)["message"]
    assert "characters)" in message, message


def test_the_largest_budget_the_decoder_accepts_is_transcribed(local_server: LocalServer) -> None:
    """150 s of 192 kHz stereo is exactly the budget (57,600,000 samples): accepted."""
    data = silent_flac(150, 192_000, 2)
    response = requests.post(
        f"{local_server.url}/predict", data=data, headers={"Content-Type": "audio/flac"}, timeout=120
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "accept, midi",
    [
        ("audio/midi", True),
        ("audio/midi;q=0.1, application/json", True),
        ("application/json;q=0.1, audio/midi;q=0.9", False),
        ("text/html, audio/midi", False),
    ],
)
def test_midi_comes_as_bytes_only_when_its_type_is_first(local_server: LocalServer, accept: str, midi: bool) -> None:
    """API Gateway converts a binary answer only when Accept's first type is binary; the local server
    does the same, so an answer in MIDI to any other Accept would reach the client as base64 text."""
    response = requests.post(
        f"{local_server.url}/predict", data=WAV, headers={"Content-Type": "audio/wav", "Accept": accept}, timeout=60
    )
    assert response.status_code == 200, response.text
    if midi:
        assert response.headers["content-type"] == "audio/midi" and response.content[:4] == b"MThd"
    else:
        assert response.headers["content-type"].startswith("application/json") and "result" in response.json()
