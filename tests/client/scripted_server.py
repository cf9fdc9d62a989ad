"""An HTTP server that answers from a script, for what `make serve` will not do on demand: 503s,
hangs, jobs that never finish. It records every request (method, path, headers) it receives."""

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


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class ScriptedServer:
    """`script[path]`: the answers, in order; the last one repeats."""

    def __init__(self) -> None:
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
                    self.send_response(answer.status)
                    for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    pass

            do_GET = do_POST = _answer

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    @contextmanager
    def running(self) -> Iterator[ScriptedServer]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
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
