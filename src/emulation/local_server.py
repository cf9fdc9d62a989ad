"""`make serve`: the real Lambda handler on http://127.0.0.1:8080 over an embedded AWS emulator.

Starts moto in this process, creates the two buckets in it, points the
service's settings at them, imports `service.handler` (which loads the default
model) and serves it with uvicorn: each HTTP request becomes the REST proxy
event API Gateway would send (`emulation.gateway`), the handler runs on a worker
thread, and its answer goes back as HTTP. The handler takes one request at a time, as one Lambda
execution environment does (`INVOCATIONS_AT_ONCE`); more wait their turn.

    python -m emulation.local_server [--host 127.0.0.1] [--port 8080] [--emulator-port N]

Not part of the Lambda image: uvicorn, Starlette and moto are development dependencies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import boto3
import uvicorn
from moto.server import ThreadedMotoServer
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from config.environments import DEV
from contract import http as http_contract
from contract.env_names import INFERENCE_SETTINGS, SERVICE_SETTINGS
from contract.settings import ServiceSettings
from emulation import gateway
from emulation.local_jobs import QueuePoller, create_pipeline
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


def create_app(
    handler: Handler,
    origins: tuple[str, ...] = LOCAL_ORIGINS,
    *,
    body_timeout_s: float = BODY_TIMEOUT_S,
) -> ASGIApp:
    """An ASGI app that plays API Gateway in front of `handler`: every method and path reaches it
    (no router of its own, so an odd path gets the gateway's answer, not a framework's). A body that
    does not arrive within `body_timeout_s` is answered 408; a client that goes away is let go quietly."""

    invocations: anyio.CapacityLimiter | None = None  # made on the server's event loop, at the first request

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
        try:
            body = await asyncio.wait_for(request.body(), timeout=body_timeout_s)
        except TimeoutError:
            await _send(scope, receive, send, _body_timed_out(body_timeout_s, origins), close=True)
            return
        except ClientDisconnect:
            return  # nobody to answer
        http = gateway.HttpRequest(
            method=request.method,
            path=request.url.path,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            query=list(request.query_params.multi_items()),
            body=body,
            source_ip=request.client.host if request.client else "127.0.0.1",
            domain_name=_bound_address(scope),
        )
        invocations = invocations or anyio.CapacityLimiter(INVOCATIONS_AT_ONCE)
        answer = await anyio.to_thread.run_sync(answer_request, handler, http, origins, limiter=invocations)
        await _send(scope, receive, send, answer)

    return app


def _body_timed_out(timeout_s: float, origins: tuple[str, ...]) -> gateway.HttpResponse:
    """The server's own answer to a body that stopped coming (the front door's, not the function's)."""
    request_id = gateway.new_request_id()
    body = http_contract.error_body(
        "request_timeout", f"the request body did not arrive within {timeout_s:g} s: send it again", request_id
    )
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    headers.append(("Access-Control-Allow-Origin", origins[0]))
    return gateway.HttpResponse(status=408, headers=headers, body=json.dumps(body).encode())


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
    files that are there, by name: nothing outside web/ can be asked for."""
    if method not in ("GET", "HEAD"):
        return None
    name = "index.html" if path == "/" else path.removeprefix("/page/") if path.startswith("/page/") else None
    if name is None or name not in _page_files():
        return None
    target = PAGE_DIR / name
    return Response(
        content=target.read_bytes(),
        media_type=PAGE_TYPES[target.suffix],
        headers={
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": page_content_security_policy(os.environ.get("AWS_ENDPOINT_URL", "")),
            "Referrer-Policy": "no-referrer",
        },
    )


PAGE_API_ORIGINS = ("https://*.amazonaws.com",)
"""Besides this server: deployed stages (execute-api) and their buckets' presigned links (S3)."""


def page_content_security_policy(storage_origin: str) -> str:
    """The page's CSP: its own files only, no inline script; requests only to this server, the
    emulated storage (`storage_origin`) and AWS's API and S3 hosts; never framed (clickjacking)."""
    connect = " ".join(["'self'", *([storage_origin] if storage_origin else []), *PAGE_API_ORIGINS])
    return "; ".join(
        (
            "default-src 'self'",
            f"connect-src {connect}",
            "media-src 'self' blob:",  # the chosen file plays from a blob: URL
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def _page_files() -> set[str]:
    return (
        {p.name for p in PAGE_DIR.iterdir() if p.is_file() and p.suffix in PAGE_TYPES} if PAGE_DIR.is_dir() else set()
    )


def answer_request(handler: Handler, http: gateway.HttpRequest, origins: tuple[str, ...]) -> gateway.HttpResponse:
    """What API Gateway and the function together answer to one request."""
    request_id = gateway.new_request_id()
    if len(http.body) > http_contract.GATEWAY_MAX_BODY_BYTES:
        return gateway.gateway_error("REQUEST_TOO_LARGE", request_id, origins, status=413, message="")
    if http.method == "OPTIONS" and gateway.methods_of(http.path):
        return gateway.preflight(http.path, http.header("origin"), origins, request_id)
    route = gateway.route_for(http.method, http.path)
    if route is None:
        return gateway.gateway_error("MISSING_AUTHENTICATION_TOKEN", request_id, origins, status=403, message="")
    event = gateway.to_proxy_event(http, route, request_id)
    if _payload_bytes(event) > http_contract.LAMBDA_MAX_EVENT_BYTES:
        # Lambda refuses the invocation; API Gateway answers with its 5XX response.
        return gateway.gateway_error(
            "DEFAULT_5XX",
            request_id,
            origins,
            status=502,
            message="the request is over Lambda's 6 MB invocation payload",
        )
    try:
        result = handler(event, LocalContext(aws_request_id=request_id))
    except Exception:  # an unhandled error fails the invocation; API Gateway answers 502
        return gateway.gateway_error("DEFAULT_5XX", request_id, origins, status=502, message="Internal server error")
    return gateway.from_proxy_result(result, http, request_id)


def _payload_bytes(event: dict[str, Any]) -> int:
    """The invocation payload's size: the event as JSON (the base64 body needs no escaping)."""
    body = event.get("body") or ""
    return len(json.dumps({**event, "body": None})) + len(body.encode())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_emulator(port: int) -> ThreadedMotoServer:
    """moto on loopback with the two buckets; this process's AWS clients are pointed at it."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
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
    args = parser.parse_args(argv)

    emulator_port = args.emulator_port or free_port()
    emulator = start_emulator(emulator_port)
    os.environ.update(local_settings().to_environment())
    # The models dev serves (its `models` setting), as the stacks tell dev's functions; INFERENCE_MODELS wins.
    os.environ.setdefault(SERVED_MODELS, ",".join(DEV.served_models(load_config().model.name)))
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF lines are for CloudWatch, not a terminal
    from service import handler as lambda_entry  # loads and verifies the model
    from service import worker
    from service.json_stderr import route_stderr_to

    route_stderr_to(lambda_entry.logger)  # what the functions' libraries write is JSON, as on Lambda

    queues = create_pipeline(local_settings(), visibility_timeout_s=args.job_visibility_timeout)
    poller = QueuePoller(
        queues,
        worker.handler,
        lambda request_id: LocalContext(aws_request_id=request_id, function_name="audio-inference-local-worker"),
        sqs=boto3.client("sqs"),
    )
    poller.start()

    url = f"http://{args.host}:{args.port}"
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
        f'"content_type": "audio/mpeg"}}\' {url}/jobs   (README: the whole sequence)',
        flush=True,
    )
    print("Ctrl-C stops it.", flush=True)
    try:
        uvicorn.run(
            create_app(lambda_entry.handler, body_timeout_s=args.body_timeout),
            host=args.host,
            port=args.port,
            log_level="warning",
        )
    finally:
        poller.stop()
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
