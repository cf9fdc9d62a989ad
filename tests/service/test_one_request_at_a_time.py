"""`make serve` lets one request into the API handler at a time, as one Lambda environment does.

Powertools' resolver keeps the event it is resolving in class attributes (`BaseRouter.current_event`),
so two requests in the handler of one process read each other's: the soak test once saw a truncated
upload answered with another request's media type. Here many requests, each naming its own media
type, go through the local server's ASGI app at once, with the interpreter switching threads every
microsecond to make any overlap show (with 4 let in at once, about a fifth of the answers were
another request's); every answer must be its own request's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio

from emulation.local_server import create_app
from tests.support.soak import null_storage_resolver

REQUESTS = 200


async def post(app: Any, content_type: str) -> dict[str, Any]:
    """One POST /predict through the ASGI app, as uvicorn would hand it over."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", content_type.encode()), (b"content-length", b"1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"x", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return {"status": start["status"], "body": json.loads(body), "request_id": headers.get("x-amzn-requestid")}


def test_concurrent_requests_each_get_their_own_answer(model_artifact: Path) -> None:
    resolver = null_storage_resolver()
    app = create_app(lambda event, context: resolver.resolve(event, context))
    answers: dict[int, dict[str, Any]] = {}

    async def one(index: int) -> None:
        answers[index] = await post(app, f"application/x-request-{index}")

    async def all_at_once() -> None:
        async with anyio.create_task_group() as group:
            for index in range(REQUESTS):
                group.start_soon(one, index)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        anyio.run(all_at_once)
    finally:
        sys.setswitchinterval(interval)

    assert len(answers) == REQUESTS
    crossed = [
        (index, answer)
        for index, answer in answers.items()
        if answer["status"] != 415
        or f"application/x-request-{index} is not accepted" not in answer["body"]["error"]["message"]
        or answer["body"]["error"]["request_id"] != answer["request_id"]
    ]
    assert not crossed, f"{len(crossed)} of {REQUESTS} answers were another request's: {crossed[:3]}"
