"""`make serve`: the real Lambda handler on http://127.0.0.1:8080 over an embedded AWS emulator.

Starts moto in this process, creates the two buckets in it, points the
service's settings at them, imports `service.handler` (which loads the default
model) and serves it with uvicorn: each HTTP request becomes the REST proxy
event API Gateway would send (`emulation.gateway`), the handler runs on a worker
thread, and its answer goes back as HTTP. The handler takes one request at a time, as one Lambda
execution environment does (`INVOCATIONS_AT_ONCE`); more wait their turn.

The platform's limits hold as on AWS, so tests see them: a request body over API Gateway's 10 MB is
refused (413) from its Content-Length before it is read, or as soon as a chunked body passes the limit;
a body that stops coming is answered 408 (`BODY_TIMEOUT_S`), headers that do not arrive 408
(`HEADER_TIMEOUT_S`); an answer over Lambda's 6 MB response limit (the proxy answer as JSON, a binary
body as base64) is a 502, and a function still running at API Gateway's integration timeout (29 s) a
504, while it goes on in the background. Each answer the gateway gives itself is logged as one JSON line.
SIGTERM or Ctrl-C at any point stops the server within a few seconds (`STOP_GRACE_S`), exit code 0.

    python -m emulation.local_server [--host 127.0.0.1] [--port 8080] [--emulator-port N] [--api-keys [ENV]]

`--api-keys` (or `make serve SERVE_ARGS=--api-keys`) plays API Gateway's keys and usage plans: a key
per consumer of the environment, printed at start (`emulation.api_keys`).

Not part of the Lambda image: uvicorn, Starlette and moto are development dependencies.
"""

from __future__ import annotations

from emulation import early_stop  # noqa: F401  first: SIGTERM during the imports below exits 0

# isort: split
import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import FrameType
from typing import Any

import boto3
import uvicorn
from moto.server import ThreadedMotoServer
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from config.environments import DEV, ENVIRONMENTS
from contract import http as http_contract
from contract import page_policy
from contract.env_names import INFERENCE_SETTINGS, SERVICE_SETTINGS
from contract.settings import ServiceSettings
from emulation import gateway
from emulation.api_keys import LocalKeys
from emulation.header_timeout import header_timeout_protocol
from emulation.local_jobs import JOB_THREAD, QueuePoller, create_pipeline
from emulation.post_policy import PolicyEnforcingMotoServer
from inference.config import load_config

INPUT_BUCKET = "audio-inference-local-input"
OUTPUT_BUCKET = "audio-inference-local-output"
LOCAL_ORIGINS = DEV.api.cors_allowed_origins
"""The dev environment's (api.cors_allowed_origins): its page, served here, and any local tool may call
it; deployed environments name theirs."""

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
PAGE_DIR = Path(__file__).resolve().parents[2] / "web"
"""The page `make serve` serves at / (a checkout's web/ folder; not part of the Lambda image)."""
PAGE_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}


@dataclass(frozen=True)
class LocalContext:
    """The Lambda context fields Powertools reads."""

    aws_request_id: str
    function_name: str = "audio-inference-local-predict"
    memory_limit_in_mb: int = 3008
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:audio-inference-local-predict"
    function_version: str = "$LATEST"


SERVED_MODELS = INFERENCE_SETTINGS[("model", "served")]
INVOCATIONS_AT_ONCE = 1
"""The API handler runs one request at a time, as one Lambda execution environment does. Not a
tuning knob: Powertools' resolver keeps the request it is resolving in class attributes
(`BaseRouter.current_event`, `lambda_context`) and its route in a shared `context`, so two requests
in the handler of one process read each other's events (with 4 at once, the soak test once saw a
truncated Ogg upload answered as another request's media type; with 8 threads and a 1 us switch
interval, 875 of 4,000 answers were built from another request). On Lambda each concurrent request
has its own environment. One at a time also keeps memory at one request's peak: onnxruntime's arena
and glibc's per-thread arenas keep theirs. The jobs worker runs on its own thread, one batch at a
time (`emulation.local_jobs`)."""
BODY_TIMEOUT_S = 30.0
"""How long the server waits for a request's whole body (API Gateway cuts slow clients off too)."""
HEADER_TIMEOUT_S = 10.0
"""How long the server waits for a request's headers, from the connection's start (or the first byte
of a later request on it): a client that sends them slowly is cut off (`emulation.header_timeout`)."""
INTEGRATION_TIMEOUT_S = float(http_contract.GATEWAY_TIMEOUT_S)
"""API Gateway's integration timeout: a function still running then is answered 504."""
STOP_GRACE_S = 3
"""On SIGTERM or Ctrl-C, how long requests in flight may still finish; the rest are answered 503."""
LAMBDA_RESPONSE_LIMIT_MESSAGE = "the function's answer is over Lambda's 6 MB response limit"

GATEWAY_LOG = logging.getLogger("emulation.gateway")
"""The answers the emulated gateway gives itself (refusals, limits, timeouts), one record each; `make
serve` writes them to stdout as JSON lines, beside the functions' own."""


class _BodyTooLarge(Exception):
    """The body passed API Gateway's limit while it arrived."""


def create_app(
    handler: Handler,
    origins: tuple[str, ...] = LOCAL_ORIGINS,
    *,
    body_timeout_s: float = BODY_TIMEOUT_S,
    integration_timeout_s: float = INTEGRATION_TIMEOUT_S,
    keys: LocalKeys | None = None,
) -> ASGIApp:
    """An ASGI app that plays API Gateway in front of `handler`: every method and path reaches it
    (no router of its own, so an odd path gets the gateway's answer, not a framework's). A body over
    API Gateway's 10 MB is answered 413 as soon as its Content-Length says so or, chunked, as soon as
    it passes the limit; one that does not arrive within `body_timeout_s` is answered 408; a client
    that goes away is let go quietly. A function still running after `integration_timeout_s` is
    answered 504 (it goes on, and the next request waits for it, as in one Lambda environment); an
    answer over Lambda's 6 MB is a 502. While the server stops, a request it cannot finish gets 503."""

    invocations: _Invocations | None = None  # made on the server's event loop, at the first request

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal invocations
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        request = Request(scope, receive)
        page = page_file(request.method, request.url.path)
        if page is not None:
            await page(scope, receive, send)
            return
        invocations = invocations or _Invocations()
        try:
            answer, close = await _answer(
                request, receive, handler, origins, invocations, body_timeout_s, integration_timeout_s, keys
            )
        except ClientDisconnect:
            return  # nobody to answer
        except asyncio.CancelledError:  # the server is stopping and its grace period is over
            answer, close = _stopping(request, origins), True
        await _send(scope, receive, send, answer, close=close)

    return app


async def _answer(
    request: Request,
    receive: Receive,
    handler: Handler,
    origins: tuple[str, ...],
    invocations: _Invocations,
    body_timeout_s: float,
    integration_timeout_s: float,
    keys: LocalKeys | None = None,
) -> tuple[gateway.HttpResponse, bool]:
    """The answer to one request, and whether its connection must close (a body left unread)."""
    limit = http_contract.GATEWAY_MAX_BODY_BYTES
    if _declared_length(request.headers) > limit:  # refused before a byte of the body is read
        return _too_large(request, origins, "Content-Length"), True
    try:
        body = await asyncio.wait_for(_read_body(receive, limit), timeout=body_timeout_s)
    except TimeoutError:
        return _request_timed_out(request, origins, "body", body_timeout_s), True
    except _BodyTooLarge:
        return _too_large(request, origins, "chunked body"), True
    http = gateway.HttpRequest(
        method=request.method,
        path=request.url.path,
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
        query=list(request.query_params.multi_items()),
        body=body,
        source_ip=request.client.host if request.client else "127.0.0.1",
        domain_name=_bound_address(request.scope),
    )
    request_id = gateway.new_request_id()
    answer = await invocations.run(
        lambda: answer_request(handler, http, origins, request_id=request_id, keys=keys), integration_timeout_s
    )
    if answer is None:
        _log_refusal(
            504,
            request_id,
            request.method,
            request.url.path,
            f"the function ran past the {integration_timeout_s:g} s integration timeout",
        )
        return gateway.gateway_error("INTEGRATION_TIMEOUT", request_id, origins, status=504, message=""), False
    return answer, False


def _declared_length(headers: Mapping[str, str]) -> int:
    """The body's size as its Content-Length states it (0 when none: chunked, or no body); h11 has
    already refused a malformed or repeated one."""
    value = headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else 0


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The body as it arrives, counted: `_BodyTooLarge` as soon as it passes `limit` (nothing more is read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class _Invocations:
    """The function's execution environment: one invocation at a time (`INVOCATIONS_AT_ONCE`), each on
    a daemon thread of its own, so the gateway can stop waiting for it (504) and the server can stop
    while it runs; the next invocation starts only when the last one has ended, whoever waited for it."""

    def __init__(self) -> None:
        self._slots = asyncio.Semaphore(INVOCATIONS_AT_ONCE)

    async def run(self, call: Callable[[], gateway.HttpResponse], timeout_s: float) -> gateway.HttpResponse | None:
        """`call()`'s answer; None when it runs past `timeout_s` from its start (it goes on)."""
        await self._slots.acquire()
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[gateway.HttpResponse] = loop.create_future()

        def settle(answer: gateway.HttpResponse | None, error: BaseException | None) -> None:
            self._slots.release()
            if outcome.done():  # timed out or cancelled: nobody waits for this answer any more
                return
            if error is not None:
                outcome.set_exception(error)
            else:
                assert answer is not None
                outcome.set_result(answer)

        def invoke() -> None:
            answer: gateway.HttpResponse | None = None
            error: BaseException | None = None
            try:
                answer = call()
            except BaseException as exc:  # handed to the waiting request, as run_sync would
                error = exc
            with contextlib.suppress(RuntimeError):  # the server's loop has closed: nobody waits
                loop.call_soon_threadsafe(settle, answer, error)

        try:
            threading.Thread(target=invoke, name=INVOCATION_THREAD, daemon=True).start()
        except BaseException:
            self._slots.release()
            raise
        try:
            return await asyncio.wait_for(outcome, timeout_s)  # on a timeout or cancel, outcome is cancelled
        except TimeoutError:
            return None


INVOCATION_THREAD = "lambda-invocation"


def _too_large(request: Request, origins: tuple[str, ...], what: str) -> gateway.HttpResponse:
    request_id = gateway.new_request_id()
    _log_refusal(
        413,
        request_id,
        request.method,
        request.url.path,
        f"the {what} is over API Gateway's {http_contract.GATEWAY_MAX_BODY_BYTES} bytes",
    )
    return gateway.gateway_error("REQUEST_TOO_LARGE", request_id, origins, status=413, message="")


def _request_timed_out(
    request: Request | None, origins: tuple[str, ...], what: str, timeout_s: float
) -> gateway.HttpResponse:
    """The server's own answer to a request that stopped coming (the front door's, not the function's)."""
    request_id = gateway.new_request_id()
    method, path = (request.method, request.url.path) if request is not None else ("", "")
    _log_refusal(408, request_id, method, path, f"the request {what} did not arrive within {timeout_s:g} s")
    body = http_contract.error_body(
        "request_timeout", f"the request {what} did not arrive within {timeout_s:g} s: send it again", request_id
    )
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    headers.append(("Access-Control-Allow-Origin", origins[0]))
    return gateway.HttpResponse(status=408, headers=headers, body=json.dumps(body).encode())


def _stopping(request: Request, origins: tuple[str, ...]) -> gateway.HttpResponse:
    """The answer to a request the server cannot finish because it is stopping (SIGTERM, Ctrl-C)."""
    request_id = gateway.new_request_id()
    _log_refusal(503, request_id, request.method, request.url.path, "the local server is stopping")
    body = http_contract.error_body(
        "service_unavailable", "the local server is stopping: send the request again once it runs", request_id
    )
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    headers.append(("Access-Control-Allow-Origin", origins[0]))
    return gateway.HttpResponse(status=503, headers=headers, body=json.dumps(body).encode())


def _raw_answer(answer: gateway.HttpResponse) -> bytes:
    """An answer as bytes on the wire, closing the connection (for the protocol, outside any request)."""
    lines = [
        f"HTTP/1.1 {answer.status} {HTTPStatus(answer.status).phrase}",
        *(f"{name}: {value}" for name, value in answer.headers),
        f"Content-Length: {len(answer.body)}",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + answer.body


def _log_refusal(status: int, request_id: str, method: str, path: str, reason: str) -> None:
    GATEWAY_LOG.warning(reason, extra={"status": status, "request_id": request_id, "method": method, "path": path})


async def _send(
    scope: Scope, receive: Receive, send: Send, answer: gateway.HttpResponse, *, close: bool = False
) -> None:
    response = Response(content=answer.body, status_code=answer.status)
    for name, value in answer.headers:
        response.headers.append(name, value)
    if close:  # the rest of the body may still come: this connection cannot carry another request
        response.headers["Connection"] = "close"
    with contextlib.suppress(OSError, ClientDisconnect):  # the client went away while we worked
        await response(scope, receive, send)


def _bound_address(scope: Scope) -> str:
    """host:port of the socket this request came in on (the server's, not the client's Host header)."""
    server = scope.get("server") or ("127.0.0.1", 80)
    host, port = server[0], server[1]
    host = f"[{host}]" if ":" in str(host) else str(host)
    return f"{host}:{port}" if port else host


def page_file(method: str, path: str) -> Response | None:
    """The consumers' page (web/): `/` and `/page/<file>`; every other path is the API's. Only the
    files that are there, by name: nothing outside web/ can be asked for. index.html goes out with its
    `<meta>` policy naming the emulated storage, as `make page` names a deployed stage's origins."""
    if method not in ("GET", "HEAD"):
        return None
    name = "index.html" if path == "/" else path.removeprefix("/page/") if path.startswith("/page/") else None
    if name is None or name not in _page_files():
        return None
    target = PAGE_DIR / name
    storage = os.environ.get("AWS_ENDPOINT_URL", "")
    connect = [storage] if storage else []
    content = target.read_bytes()
    if name == "index.html":
        content = page_policy.with_policy(content.decode(), connect).encode()
    return Response(
        content=content,
        media_type=PAGE_TYPES[target.suffix],
        headers={
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": page_policy.header_policy(connect),
            "Referrer-Policy": "no-referrer",
        },
    )


def _page_files() -> set[str]:
    return (
        {p.name for p in PAGE_DIR.iterdir() if p.is_file() and p.suffix in PAGE_TYPES} if PAGE_DIR.is_dir() else set()
    )


def answer_request(
    handler: Handler,
    http: gateway.HttpRequest,
    origins: tuple[str, ...],
    *,
    request_id: str | None = None,
    keys: LocalKeys | None = None,
) -> gateway.HttpResponse:
    """What API Gateway and the function together answer to one request; with `keys`, every route but
    the public ones needs one of them, within its usage plan (`emulation.api_keys`)."""
    request_id = request_id or gateway.new_request_id()
    if len(http.body) > http_contract.GATEWAY_MAX_BODY_BYTES:
        _log_refusal(413, request_id, http.method, http.path, "the body is over API Gateway's 10 MB")
        return gateway.gateway_error("REQUEST_TOO_LARGE", request_id, origins, status=413, message="")
    if http.method == "OPTIONS" and gateway.methods_of(http.path):
        return gateway.preflight(http.path, http.header("origin"), origins, request_id)
    route = gateway.route_for(http.method, http.path)
    if route is None:
        return gateway.gateway_error("MISSING_AUTHENTICATION_TOKEN", request_id, origins, status=403, message="")
    key = None
    if keys is not None and not route.public:
        key, refusal = keys.check(http.header("x-api-key"))
        if refusal is not None:
            error = http_contract.GATEWAY_ERRORS[refusal]
            _log_refusal(error.status or 403, request_id, http.method, http.path, error.message or refusal)
            return gateway.gateway_error(refusal, request_id, origins, status=error.status or 403, message="")
    event = gateway.to_proxy_event(
        http, route, request_id, api_key=key.value if key else None, api_key_id=key.key_id if key else None
    )
    if _payload_bytes(event) > http_contract.LAMBDA_MAX_EVENT_BYTES:
        # Lambda refuses the invocation; API Gateway answers with its 5XX response.
        _log_refusal(502, request_id, http.method, http.path, "the request is over Lambda's 6 MB invocation payload")
        return gateway.gateway_error(
            "DEFAULT_5XX",
            request_id,
            origins,
            status=502,
            message="the request is over Lambda's 6 MB invocation payload",
        )
    try:
        result = handler(event, LocalContext(aws_request_id=request_id))
        size = _answer_bytes(result)
        answer = gateway.from_proxy_result(result, http, request_id)
    except Exception:  # an unhandled error, or an answer Lambda or API Gateway cannot read: 502
        _log_refusal(502, request_id, http.method, http.path, "the function failed or its answer is malformed")
        return gateway.gateway_error("DEFAULT_5XX", request_id, origins, status=502, message="Internal server error")
    if size > http_contract.LAMBDA_MAX_RESPONSE_BYTES:
        # Lambda fails the invocation (Function.ResponseSizeTooLarge); API Gateway answers 502, not the body.
        _log_refusal(502, request_id, http.method, http.path, f"{LAMBDA_RESPONSE_LIMIT_MESSAGE}: {size} bytes")
        return gateway.gateway_error("DEFAULT_5XX", request_id, origins, status=502, message="Internal server error")
    return answer


def _answer_bytes(result: Any) -> int:
    """The invocation's response as Lambda counts it: the whole proxy answer serialized as JSON (a binary
    body is already base64 in it), as the Python 3.12 runtime writes it (UTF-8, not ASCII escapes)."""
    return len(json.dumps(result, ensure_ascii=False).encode())


def _payload_bytes(event: dict[str, Any]) -> int:
    """The invocation payload's size: the event as JSON (the base64 body needs no escaping)."""
    body = event.get("body") or ""
    return len(json.dumps({**event, "body": None})) + len(body.encode())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


EMULATOR_SECRET = "testing"
"""What this process's AWS clients sign with; the emulator checks presigned POSTs' signatures with it."""


def start_emulator(port: int) -> ThreadedMotoServer:
    """moto on loopback with the two buckets, S3's POST upload policies enforced (moto stores any upload);
    this process's AWS clients are pointed at it."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
    server = PolicyEnforcingMotoServer(secret=EMULATOR_SECRET, ip_address="127.0.0.1", port=port)
    server.start()
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    s3 = boto3.client("s3")
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        s3.create_bucket(Bucket=bucket)
    return server


def local_settings() -> ServiceSettings:
    """The dev environment's settings with the local buckets, named `local` in logs and metrics; the log
    level from $LOG_LEVEL (INFO when unset)."""
    dev = DEV.service_settings(input_bucket=INPUT_BUCKET, output_bucket=OUTPUT_BUCKET)
    return dataclasses.replace(
        dev, environment="local", log_level=os.environ.get(SERVICE_SETTINGS["log_level"], "INFO")
    )


def server_config(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    origins: tuple[str, ...] = LOCAL_ORIGINS,
) -> uvicorn.Config:
    """uvicorn as `make serve` runs it: HTTP/1.1 (h11) with a header timeout, and a stop that waits
    `STOP_GRACE_S` for requests in flight, then answers the rest 503."""

    def refusal() -> bytes:
        return _raw_answer(_request_timed_out(None, origins, "headers", header_timeout_s))

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=header_timeout_protocol(header_timeout_s, refusal),
        timeout_graceful_shutdown=STOP_GRACE_S,
    )


class _Stopped(BaseException):
    """SIGTERM or Ctrl-C before the server runs (uvicorn handles both while it serves). A BaseException,
    as KeyboardInterrupt is: no `except Exception` on the way (a retry loop, a model loader) may eat it."""


class _StopSignals:
    """SIGTERM and SIGINT for the whole of `main`: before the server runs, they stop the start-up
    (`_Stopped`, and `requested` keeps the server from starting should anything still catch it); once
    it runs they tell it to stop (uvicorn catches them while it serves, and raises them again once it
    has stopped: they land here); while it cleans up, they are noted only. Either way the process stops
    the emulator and exits 0, never killed half-way by the default handler."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested = False
        self.server: uvicorn.Server | None = None
        self.cleaning_up = False
        self._previous = {sig: signal.signal(sig, self) for sig in self.SIGNALS}

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        if self.server is not None:
            self.server.should_exit = True
        elif not self.cleaning_up:
            raise _Stopped

    def serve(self, server: uvicorn.Server) -> None:
        """Run `server` until a signal (one that came before it started included) stops it."""
        self.server = server
        if not self.requested:
            server.run()

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _log_gateway_to_stdout() -> None:
    """The gateway's records as JSON lines on stdout, in the functions' format."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(LambdaPowertoolsFormatter(service="local-gateway"))
    GATEWAY_LOG.addHandler(handler)
    GATEWAY_LOG.setLevel(logging.INFO)
    GATEWAY_LOG.propagate = False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulation.local_server", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--emulator-port", type=int, default=0, help="moto's port (default: a free one)")
    parser.add_argument(
        "--job-visibility-timeout",
        type=int,
        default=60,
        help="seconds before a job message no worker finished is delivered again (default 60)",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=float(os.environ.get("LOCAL_SERVER_BODY_TIMEOUT_S", BODY_TIMEOUT_S)),
        help=f"seconds to wait for a request's whole body before answering 408 (default {BODY_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=float(os.environ.get("LOCAL_SERVER_HEADER_TIMEOUT_S", HEADER_TIMEOUT_S)),
        help=f"seconds to wait for a request's headers before cutting the client off (default {HEADER_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--integration-timeout",
        type=float,
        default=float(os.environ.get("LOCAL_SERVER_INTEGRATION_TIMEOUT_S", INTEGRATION_TIMEOUT_S)),
        help=f"seconds the gateway waits for the function before answering 504 (default {INTEGRATION_TIMEOUT_S:g}, "
        "API Gateway's)",
    )
    parser.add_argument(
        "--api-keys",
        nargs="?",
        const="dev",
        default=os.environ.get("LOCAL_API_KEYS") or None,
        choices=sorted(ENVIRONMENTS),
        metavar="ENV",
        help="play API Gateway's API keys and usage plans: a key per consumer of ENV (dev when not named), "
        "printed at start; every route but /health then needs one (also $LOCAL_API_KEYS=ENV)",
    )
    args = parser.parse_args(argv)
    keys = LocalKeys.for_consumers(ENVIRONMENTS[args.api_keys].api) if args.api_keys else None

    stop = _StopSignals()
    emulator: ThreadedMotoServer | None = None
    poller: QueuePoller | None = None
    drainer: QueuePoller | None = None
    try:
        _log_gateway_to_stdout()
        emulator_port = args.emulator_port or free_port()
        emulator = start_emulator(emulator_port)
        os.environ.update(local_settings().to_environment())
        # The models dev serves (its `models` setting), as the stacks tell dev's functions; INFERENCE_MODELS wins.
        os.environ.setdefault(SERVED_MODELS, ",".join(DEV.served_models(load_config().model.name)))
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF lines are for CloudWatch, not a terminal
        queues = create_pipeline(local_settings(), visibility_timeout_s=args.job_visibility_timeout)
        os.environ[SERVICE_SETTINGS["job_queue_url"]] = queues.url  # a queued job's place
        if keys is not None:  # its consumers' keys, tagged, and their job limits
            keys.register(boto3.client("s3"), OUTPUT_BUCKET, local_settings().output_prefix)
            played = ENVIRONMENTS[args.api_keys].service_settings(
                input_bucket=INPUT_BUCKET, output_bucket=OUTPUT_BUCKET
            )
            os.environ[SERVICE_SETTINGS["consumer_job_limits"]] = ",".join(played.consumer_job_limits)
        from service import handler as lambda_entry  # loads and verifies the model
        from service import worker
        from service.json_stderr import route_stderr_to

        route_stderr_to(lambda_entry.logger)  # what the functions' libraries write is JSON, as on Lambda

        poller = QueuePoller(
            queues,
            worker.handler,
            lambda request_id: LocalContext(aws_request_id=request_id, function_name="audio-inference-local-worker"),
            sqs=boto3.client("sqs"),
        )
        poller.start()
        from service import dead_letters

        drainer = QueuePoller(
            queues.dead_letters(),
            dead_letters.handler,
            lambda request_id: LocalContext(aws_request_id=request_id, function_name="audio-inference-local-drainer"),
            sqs=boto3.client("sqs"),
            batch_size=10,
        )
        drainer.start()

        app = create_app(
            lambda_entry.handler,
            body_timeout_s=args.body_timeout,
            integration_timeout_s=args.integration_timeout,
            keys=keys,
        )
        server = uvicorn.Server(
            server_config(app, host=args.host, port=args.port, header_timeout_s=args.header_timeout)
        )
        _print_banner(args.host, args.port, emulator_port, keys)
        stop.serve(server)
    except _Stopped:
        pass  # stopped while starting: what was started is stopped below
    finally:
        stop.cleaning_up = True
        if poller is not None:
            poller.stop(timeout_s=STOP_GRACE_S)  # a job still running is left to its (daemon) thread
        if drainer is not None:
            drainer.stop(timeout_s=STOP_GRACE_S)
        if emulator is not None:
            emulator.stop()
        stop.restore()
    return 0


def _print_banner(host: str, port: int, emulator_port: int, keys: LocalKeys | None = None) -> None:
    url = f"http://{host}:{port}"
    print(
        f"audio inference API on {url} (emulated S3 at http://127.0.0.1:{emulator_port}: "
        f"{INPUT_BUCKET}, {OUTPUT_BUCKET})",
        flush=True,
    )
    print(f"  the page: open {url}/ in a browser", flush=True)
    print(f"  the client: audio-inference transcribe song.mp3 --url {url} --midi song.mid", flush=True)
    print(f"  curl -F file=@song.mp3 {url}/predict", flush=True)
    print(f"  curl -H 'Accept: audio/midi' -F file=@song.mp3 {url}/predict -o song.mid", flush=True)
    print(f"  speech segments: curl -F file=@talk.wav -F model=silero-vad {url}/predict", flush=True)
    print(
        f'  long audio: curl -H \'Content-Type: application/json\' -d \'{{"filename": "long.mp3", '
        f'"content_type": "audio/mpeg"}}\' {url}/jobs   (docs/api.md, Long audio: jobs)',
        flush=True,
    )
    if keys is not None:
        print("  API keys, one per consumer (send x-api-key; /health needs none):", flush=True)
        for line in keys.lines():
            print(line, flush=True)
    else:
        print("  no API key asked (--api-keys plays the consumers' keys and usage plans)", flush=True)
    print("Ctrl-C stops it.", flush=True)


def _exit(code: int) -> None:
    """Exit with `code`. An invocation or a job the server stopped waiting for may still run on its
    daemon thread, inside native code (onnxruntime): the interpreter's teardown would pull modules from
    under it, so the process ends at once, its output flushed."""
    left = {INVOCATION_THREAD, JOB_THREAD}
    if any(t.name in left and t.is_alive() for t in threading.enumerate()):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    _exit(main())
