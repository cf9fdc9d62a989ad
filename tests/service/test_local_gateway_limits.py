"""`make serve` holds the platform's limits as AWS does, so tests can see them (issue #27).

The answer: a function's answer over Lambda's 6 MB response limit (the proxy answer as JSON, a binary
body as base64) fails the invocation and the gateway answers 502, never the body; a function still
running at the integration timeout is answered 504 while it goes on. The request: a body over API
Gateway's 10 MB is refused from its Content-Length before it is read, or as soon as a chunked body
passes the limit; headers or a body that stop coming are cut off (408). Stub handlers stand in for the
function (no model); the process-level stop (SIGTERM) runs the real server in its own process.
"""

from __future__ import annotations

import base64
import http.client
import inspect
import io
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
import requests
import soundfile as sf
import uvicorn

from contract import http as http_contract
from emulation.local_server import GATEWAY_LOG, create_app, free_port, server_config
from tests.support.service import LocalServer

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
RESPONSE_LIMIT = http_contract.LAMBDA_MAX_RESPONSE_BYTES
BODY_LIMIT = http_contract.GATEWAY_MAX_BODY_BYTES
LOOSE_S = 15.0
"""Upper bounds on timings are loose: the machine may be busy with a whole test run."""


# --- driving the app -------------------------------------------------------------------------------


def asgi_get(app: Any, path: str = "/health", headers: dict[str, str] | None = None) -> dict[str, Any]:
    """One GET through the ASGI app, as uvicorn hands it over (run inside an event loop)."""
    return anyio.run(_asgi_get, app, path, headers or {})


async def _asgi_get(app: Any, path: str, headers: dict[str, str]) -> dict[str, Any]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {
        "status": start["status"],
        "headers": {k.decode().lower(): v.decode() for k, v in start["headers"]},
        "body": body,
    }


@contextmanager
def serving(app: Any, *, header_timeout_s: float = 10.0) -> Iterator[int]:
    """The app behind uvicorn as `make serve` configures it, on a free loopback port, in this process."""
    port = free_port()
    server = uvicorn.Server(server_config(app, port=port, header_timeout_s=header_timeout_s))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + LOOSE_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=LOOSE_S)


def read_answer(conn: socket.socket) -> tuple[int, dict[str, Any], bytes]:
    """Status, JSON body and raw bytes of the one answer on `conn`, read until the server closes it."""
    raw = b""
    while True:
        try:
            chunk = conn.recv(65536)
        except ConnectionResetError:
            break  # the server closed with our body unread: what it wrote before is what we have
        if not chunk:
            break
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), raw[:300]
    return int(head.split()[1]), json.loads(body) if body else {}, raw


def assert_error_shape(body: dict[str, Any], code: str) -> dict[str, str]:
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "request_id"}, body
    assert body["error"]["code"] == code and body["error"]["request_id"], body
    error: dict[str, str] = body["error"]
    return error


def answering(body: str, *, binary: bool = False) -> Handler:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "audio/midi" if binary else "application/json"},
            "body": body,
            "isBase64Encoded": binary,
        }

    return handler


def text_answer_of_size(total: int) -> str:
    """A text body that makes the handler's whole proxy answer `total` bytes as JSON."""
    overhead = len(json.dumps(answering("")({}, None)))
    return "x" * (total - overhead)


def never_called(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise AssertionError("the function was invoked")


# --- Lambda's 6 MB response limit ------------------------------------------------------------------


def test_an_answer_over_six_mb_is_a_502_not_the_body(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(answering(text_answer_of_size(RESPONSE_LIMIT + 64)))
    with caplog.at_level(logging.WARNING, logger=GATEWAY_LOG.name):
        answer = asgi_get(app)
    assert answer["status"] == 502
    assert len(answer["body"]) < 1000, "the body never reaches the client"
    error = assert_error_shape(json.loads(answer["body"]), "internal_error")
    assert error["message"] == "Internal server error"  # what API Gateway says, in the deployed stack's shape
    assert answer["headers"]["x-amzn-requestid"] == error["request_id"]
    logged = [r for r in caplog.records if r.name == GATEWAY_LOG.name and getattr(r, "status", None) == 502]
    assert logged and "6 MB response limit" in logged[0].getMessage(), caplog.text


def test_an_answer_just_under_six_mb_passes() -> None:
    body = text_answer_of_size(RESPONSE_LIMIT - 64)
    answer = asgi_get(create_app(answering(body)))
    assert answer["status"] == 200
    assert answer["body"] == body.encode()


def test_a_binary_answer_counts_as_base64() -> None:
    """4.6 MiB of MIDI is 6.1 MiB as base64 in the proxy answer: over; 4.4 MiB is 5.9 MiB: under."""
    over, under = b"\x01" * int(4.6 * 1024 * 1024), b"\x02" * int(4.4 * 1024 * 1024)
    assert len(over) < RESPONSE_LIMIT < len(base64.b64encode(over))
    accept = {"Accept": "audio/midi"}
    refused = asgi_get(create_app(answering(base64.b64encode(over).decode(), binary=True)), headers=accept)
    assert refused["status"] == 502
    assert_error_shape(json.loads(refused["body"]), "internal_error")
    passed = asgi_get(create_app(answering(base64.b64encode(under).decode(), binary=True)), headers=accept)
    assert passed["status"] == 200 and passed["body"] == under


# --- API Gateway's integration timeout -------------------------------------------------------------


def test_integration_timeout_defaults_to_api_gateways_29_s() -> None:
    default = inspect.signature(create_app).parameters["integration_timeout_s"].default
    assert default == http_contract.GATEWAY_TIMEOUT_S == 29


def test_a_slow_function_is_answered_504_at_the_timeout_and_runs_on_alone() -> None:
    """The client is answered at the timeout while the function goes on; the next request waits for
    that invocation to end (one at a time, as one Lambda environment), then runs."""
    release = threading.Event()
    calls: list[float] = []
    finished: list[float] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(time.monotonic())
        if len(calls) == 1:
            release.wait(60)
        finished.append(time.monotonic())
        return answering('{"ok": true}')(event, context)

    app = create_app(handler, integration_timeout_s=1.5)
    answers: dict[str, Any] = {}

    async def scenario() -> None:
        started = time.monotonic()
        answers["slow"] = await _asgi_get(app, "/health", {})
        answers["slow_s"] = time.monotonic() - started
        answers["running_when_answered"] = not finished
        async with anyio.create_task_group() as group:
            group.start_soon(_next)
            await anyio.sleep(1.0)
            answers["calls_while_first_runs"] = len(calls)
            release.set()

    async def _next() -> None:
        answers["next"] = await _asgi_get(app, "/health", {})

    try:
        anyio.run(scenario)
    finally:
        release.set()
    assert answers["slow"]["status"] == 504
    assert_error_shape(json.loads(answers["slow"]["body"]), "timeout")
    assert 1.5 <= answers["slow_s"] < LOOSE_S
    assert answers["running_when_answered"], "the client is answered while the function still runs"
    assert answers["calls_while_first_runs"] == 1, "the next invocation waits for the first to end"
    assert answers["next"]["status"] == 200 and len(calls) == 2


# --- the request: 10 MB, slow bodies, slow headers ---------------------------------------------------


def _head(port: int, extra: str) -> bytes:
    return (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/octet-stream\r\n{extra}\r\n"
    ).encode()


def test_a_content_length_over_10_mb_is_refused_before_the_body_is_read() -> None:
    with serving(create_app(never_called)) as port:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=LOOSE_S) as conn:
            conn.sendall(_head(port, f"Content-Length: {BODY_LIMIT + 1}\r\n"))  # and not a byte of the body
            status, body, raw = read_answer(conn)
        elapsed = time.monotonic() - started
    assert status == 413, raw[:300]
    assert b"connection: close" in raw.lower()
    assert_error_shape(body, "request_too_large")
    assert elapsed < LOOSE_S


def test_a_chunked_body_is_counted_and_cut_at_10_mb() -> None:
    """A 300 MB chunked body: the server stops reading at the limit and answers 413; the client can
    send no more than the limit plus what the sockets' buffers hold."""
    chunk = b"\x00" * (256 * 1024)
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = [0]

    def send_body(conn: socket.socket) -> None:
        try:
            while sent[0] < 300 * 1024 * 1024:
                conn.sendall(framed)
                sent[0] += len(chunk)
        except OSError:
            pass  # the server closed the connection: the point

    with (
        serving(create_app(never_called)) as port,
        socket.create_connection(("127.0.0.1", port), timeout=LOOSE_S) as conn,
    ):
        conn.sendall(_head(port, "Transfer-Encoding: chunked\r\n"))
        sender = threading.Thread(target=send_body, args=(conn,), daemon=True)
        sender.start()
        status, body, raw = read_answer(conn)
        with suppress(OSError):  # unblock the sender if it still were sending
            conn.shutdown(socket.SHUT_RDWR)
        sender.join(timeout=LOOSE_S)
    assert status == 413, raw[:300]
    assert_error_shape(body, "request_too_large")
    assert not sender.is_alive()
    assert BODY_LIMIT < sent[0] < 4 * BODY_LIMIT, f"the client sent {sent[0]:,} bytes"


def test_a_chunked_body_under_10_mb_reaches_the_function_whole() -> None:
    received: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        received.append(len(base64.b64decode(event["body"])))
        return answering("{}")(event, context)

    body = [b"\x07" * (64 * 1024)] * 16  # 1 MiB, sent chunked (a generator has no length)
    with serving(create_app(handler)) as port:
        response = requests.post(
            f"http://127.0.0.1:{port}/predict",
            data=iter(body),
            headers={"Content-Type": "application/octet-stream"},
            timeout=LOOSE_S,
        )
    assert response.status_code == 200, response.text
    assert received == [1024 * 1024]


def test_a_body_that_stops_coming_is_still_answered_408() -> None:
    with serving(create_app(never_called, body_timeout_s=1.0)) as port:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=LOOSE_S) as conn:
            conn.sendall(_head(port, "Content-Length: 1000\r\n") + b"x" * 10)
            status, body, raw = read_answer(conn)
        elapsed = time.monotonic() - started
    assert status == 408, raw[:300]
    assert_error_shape(body, "request_timeout")
    assert 1.0 <= elapsed < LOOSE_S


def test_headers_sent_slowly_are_cut_off_with_a_408() -> None:
    """A byte-trickle of header lines (slowloris): cut off at the header timeout, however it trickles."""
    stop = threading.Event()

    def trickle(conn: socket.socket) -> None:
        try:
            conn.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            for index in range(200):
                if stop.wait(0.2):
                    return
                conn.sendall(f"X-Slow-{index}: y\r\n".encode())
        except OSError:
            pass

    with serving(create_app(never_called), header_timeout_s=1.5) as port:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=LOOSE_S) as conn:
            sender = threading.Thread(target=trickle, args=(conn,), daemon=True)
            sender.start()
            status, body, raw = read_answer(conn)
            stop.set()
        elapsed = time.monotonic() - started
    assert status == 408, raw[:300]
    assert "headers" in assert_error_shape(body, "request_timeout")["message"]
    assert 1.5 <= elapsed < LOOSE_S


def test_a_connection_that_sends_nothing_is_closed() -> None:
    with serving(create_app(never_called), header_timeout_s=1.0) as port:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=LOOSE_S) as conn:
            assert conn.recv(1024) == b""  # closed quietly, no answer to a request never begun
        assert time.monotonic() - started < LOOSE_S


def test_the_header_timeout_spares_slow_functions_and_kept_alive_connections() -> None:
    """Only the headers are timed: a function slower than the header timeout is still answered, and a
    connection kept alive longer than it between two requests still carries the second one."""

    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        time.sleep(1.5)
        return answering('{"ok": true}')(event, context)

    with serving(create_app(slow), header_timeout_s=1.0) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=LOOSE_S)
        try:
            for _ in range(2):
                conn.request("GET", "/health")
                response = conn.getresponse()
                assert response.status == 200 and response.read() == b'{"ok": true}'
                time.sleep(1.5)  # idle between requests for longer than the header timeout
        finally:
            conn.close()


# --- a clean stop ----------------------------------------------------------------------------------


def _long_wav() -> bytes:
    """About 9 minutes of 8 kHz 8-bit audio (4.3 MB, under /predict's upload limit): seconds of work."""
    rate, seconds = 8000, 540
    t = np.arange(rate * seconds) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)
    buffer = io.BytesIO()
    sf.write(buffer, tone.astype(np.float32), rate, format="WAV", subtype="PCM_U8")
    return buffer.getvalue()


def test_sigterm_during_a_long_request_stops_the_server_cleanly(model_artifact: Path, tmp_path: Path) -> None:
    server = LocalServer(tmp_path / "serve.log")
    answer: dict[str, Any] = {}

    def predict() -> None:
        try:
            response = requests.post(
                f"{server.url}/predict", files={"file": ("long.wav", _long_wav(), "audio/wav")}, timeout=120
            )
            answer["status"], answer["body"] = response.status_code, response.text
        except requests.RequestException as exc:
            answer["error"] = repr(exc)

    try:
        client = threading.Thread(target=predict, daemon=True)
        client.start()
        time.sleep(3.0)  # the body is in, the function is at work
        assert client.is_alive(), f"the request ended before the signal: {answer}"
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=30)
        stopped_s = time.monotonic() - signalled
        client.join(timeout=LOOSE_S)
    finally:
        server.stop()
    output = server.output()
    assert code == 0, output[-3000:]
    assert stopped_s < LOOSE_S, f"stopped {stopped_s:.1f} s after SIGTERM"
    assert "Traceback" not in output, output[-3000:]
    # The request in flight was told, not left hanging: 503 when its work outlasts STOP_GRACE_S (the usual
    # case here), or its whole answer when it finished within the grace (seen on a loaded machine, where
    # the signal is handled late): either is an answer, never a dropped connection.
    assert answer.get("status") in (200, 503), answer
    if answer["status"] == 503:
        assert_error_shape(json.loads(answer["body"]), "service_unavailable")
    else:
        assert json.loads(answer["body"])["result"]["audio"]["duration_s"] == pytest.approx(540.0, abs=0.1)
    with pytest.raises(OSError):  # the embedded emulator went with it
        socket.create_connection(("127.0.0.1", server.emulator_port), timeout=2).close()


@pytest.mark.parametrize("moment", ["importing", "emulator-up"])
def test_sigterm_while_starting_exits_0(moment: str, model_artifact: Path, tmp_path: Path) -> None:
    """Before the server answers (its libraries importing; the emulator up, the model loading): exit 0,
    no traceback."""
    port, emulator_port = free_port(), free_port()
    command = ["-m", "emulation.local_server", "--port", str(port), "--emulator-port", str(emulator_port)]
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, *command], stdout=out, stderr=subprocess.STDOUT)
        try:
            if moment == "importing":
                time.sleep(0.3)
            deadline = time.monotonic() + 60
            while moment == "emulator-up" and time.monotonic() < deadline and process.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", emulator_port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    output = log.read_text()
    assert code == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
