"""An HTTP server that answers from a script, for what `make serve` will not do on demand: 503s,
hangs, jobs that never finish, and hostile answers (bodies that trickle or never end, raw bytes that
are not HTTP). It records every request (method, path, headers) it receives. It listens on 127.0.0.1,
or another loopback address (127.0.0.2: another host as far as a client can tell)."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int
    body: Any = None
    """JSON-serialisable, or bytes as they are."""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    trickle_s: float = 0.0
    """Send the body one byte at a time, this long apart."""
    repeat: int = 1
    """Send the body this many times over (a large answer without holding it whole)."""
    declare_length: bool = True
    """False: no Content-Length, the body ends when the connection closes."""
    raw: bytes | None = None
    """Bytes to send as they are instead of an HTTP answer (trickled with trickle_s)."""


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class ScriptedServer:
    """`script[path]`: the answers, in order; the last one repeats."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.script: dict[str, list[Answer]] = {}
        self.seen: list[Seen] = []
        self._served: dict[str, int] = defaultdict(int)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                outer.seen.append(Seen(self.command, path, {k.lower(): v for k, v in self.headers.items()}))
                answers = outer.script.get(path) or [Answer(404, {"error": {"code": "not_found", "message": path}})]
                answer = answers[min(outer._served[path], len(answers) - 1)]
                outer._served[path] += 1
                time.sleep(answer.delay_s)
                body = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
                try:
                    if answer.raw is not None:
                        self._send_bytes(answer.raw, answer.trickle_s)
                        self.close_connection = True
                        return
                    self.send_response(answer.status)
                    for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                        self.send_header(name, value)
                    if answer.declare_length:
                        self.send_header("Content-Length", str(len(body) * answer.repeat))
                    else:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    self.end_headers()
                    for _ in range(answer.repeat):
                        self._send_bytes(body, answer.trickle_s)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    self.close_connection = True

            def _send_bytes(self, data: bytes, trickle_s: float) -> None:
                if not trickle_s:
                    self.wfile.write(data)
                    return
                for index in range(len(data)):
                    self.wfile.write(data[index : index + 1])
                    self.wfile.flush()
                    time.sleep(trickle_s)

            do_GET = do_POST = _answer

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://{host}:{self.port}"

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    @contextmanager
    def running(self) -> Iterator[ScriptedServer]:
        thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


def error(status: int, code: str, message: str = "scripted", request_id: str = "req-1") -> Answer:
    return Answer(status, {"error": {"code": code, "message": message, "request_id": request_id}})


def result_document(notes: int = 2) -> dict[str, Any]:
    return {
        "schema_version": "1.0",
        "model": {"name": "basic-pitch", "version": "0.4.0", "sha256": "0" * 64},
        "parameters": {"onset_threshold": 0.5},
        "audio": {"duration_s": 2.0, "sample_rate": 44100, "channels": 1, "format": "WAV"},
        "notes": [
            {"start_s": 0.1 * i, "end_s": 0.1 * i + 0.5, "pitch": 60 + i, "velocity": 80, "amplitude": 0.6}
            for i in range(notes)
        ],
    }
