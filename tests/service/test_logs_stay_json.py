"""Whatever clients send, every line the functions write is JSON: `make serve`'s server (its own
process, as on Lambda each line becomes a CloudWatch event) gets the worst inputs found so far, then
every line of its output after the start-up banner is parsed. Also the server's front door: a body
that stops coming is answered 408, and a client that goes away leaves no traceback."""

from __future__ import annotations

import io
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf

from inference.testing import signals
from tests.support.audio import wav_bytes
from tests.support.service import LocalServer

BODY_TIMEOUT_S = 2
WAV = wav_bytes(signals.render(signals.chords(2, 2.0), 22050, 2.0, seed=2), 22050)


@pytest.fixture(scope="module")
def server(model_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    running = LocalServer(
        tmp_path_factory.mktemp("logs") / "serve.log",
        environ={"LOCAL_SERVER_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S), "PYTHONWARNINGS": "always"},
    )
    yield running
    running.stop()


def _mp3(seconds: float) -> bytes:
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(22050 * seconds)) / 22050)).astype(np.float32)
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", 22050, 1, format="MP3", subtype="MPEG_LAYER_III") as out:
        for start in range(0, len(tone), 8192):
            out.write(tone[start : start + 8192])
    return buffer.getvalue()


def _worst_inputs(url: str) -> None:
    mp3 = _mp3(4.0)
    rng = np.random.default_rng(7)
    first_frame = mp3.find(b"\xff", 4)  # after the Xing/Info frame: a stream that states no length
    damaged = bytearray(mp3[first_frame:])
    for at in range(len(damaged) // 4, len(damaged) - 400, len(damaged) // 8):
        damaged[at : at + 200] = rng.integers(0, 256, 200, dtype=np.uint8).tobytes()
    bodies = [
        (bytes(damaged), "audio/mpeg"),  # libmpg123 writes its complaints to stderr
        (b"\xff\xfb\x90\x00" + rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes(), "audio/mpeg"),
        (mp3[: len(mp3) // 2], "audio/mpeg"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x10" + b"\xff" * 2000, "audio/mpeg"),
        (b"--xyz\r\nContent-Disposition: form-data\r\n\r\nabc\r\n-xyz--garbage", "multipart/form-data; boundary=xyz"),
        (b"--" + b"b" * 300, "multipart/form-data; boundary=" + "b" * 300),
        (b"RIFF\xff\xff\xff\x7fWAVEfmt " + b"\x00" * 200, "audio/wav"),
    ]
    for body, content_type in bodies:
        response = requests.post(f"{url}/predict", data=body, headers={"Content-Type": content_type}, timeout=60)
        assert response.status_code < 500, (content_type, response.status_code, response.text)
    jobs = [
        b"[" * 3000 + b"]" * 3000,
        b'{"filename": "a.mp3", "content_type": "audio/mpeg", "size_bytes": ' + b"9" * 5000 + b"}",
    ]
    for body in jobs:
        response = requests.post(f"{url}/jobs", data=body, headers={"Content-Type": "application/json"}, timeout=30)
        assert response.status_code == 400, response.text


def _send_part_of_a_body(port: int, declared: int, sent: bytes, *, wait_for_answer: bool) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=BODY_TIMEOUT_S + 20) as conn:
        head = (
            f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: audio/wav\r\n"
            f"Content-Length: {declared}\r\n\r\n"
        )
        conn.sendall(head.encode() + sent)
        if not wait_for_answer:
            return b""  # the client goes away mid-body
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
        return answer


def test_a_body_that_stops_coming_is_answered_408_in_the_error_shape(server: LocalServer) -> None:
    started = time.monotonic()
    answer = _send_part_of_a_body(server.port, declared=100_000, sent=WAV[:1000], wait_for_answer=True)
    elapsed = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    assert json.loads(body)["error"]["code"] == "request_timeout"
    assert BODY_TIMEOUT_S <= elapsed < BODY_TIMEOUT_S + 10


def test_every_line_the_functions_write_is_json_whatever_the_input(server: LocalServer) -> None:
    _worst_inputs(server.url)
    for _ in range(3):  # clients that go away in the middle of their body
        _send_part_of_a_body(server.port, declared=50_000, sent=WAV[:500], wait_for_answer=False)
    time.sleep(BODY_TIMEOUT_S + 1)
    assert requests.get(f"{server.url}/health", timeout=10).status_code == 200  # still serving

    output = server.output().splitlines()
    banner_end = next(i for i, line in enumerate(output) if line.startswith("Ctrl-C stops it."))
    records = []
    for line in output[banner_end + 1 :]:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"a line of the functions' output is not JSON: {line!r}")
    assert len(records) > 10
    stderr = [r for r in records if isinstance(r, dict) and r.get("source") == "stderr"]
    assert any("mpg123" in r["line"] or "MPEG" in r["line"] for r in stderr), (
        "the C libraries' stderr lines arrive as JSON records"
    )
    assert not any("Traceback" in json.dumps(r) for r in records), "no traceback, not even for a client gone away"
    assert os.environ.get("AWS_LAMBDA_FUNCTION_NAME") is None  # the server routed its own stderr, not the tests'
