"""How answers and request bodies are framed for API Gateway's proxy integration."""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from contract import http as http_contract
from service.http import errors

ENVELOPE_ALLOWANCE_BYTES = 16 * 1024
"""The proxy answer around a body: status, headers (CORS, request id, disposition), the JSON framing."""
ANSWER_LIMIT_BYTES = http_contract.LAMBDA_MAX_RESPONSE_BYTES - ENVELOPE_ALLOWANCE_BYTES
"""The most a body may count (as `answer_bytes` counts it) for the whole answer to fit Lambda's limit."""


def answer_bytes(body: bytes, *, binary: bool) -> int:
    """What a body costs inside Lambda's response: base64 for a binary one; a text one as a JSON string
    (quotes and control characters escaped, non-ASCII as \\u escapes), which is how the proxy answer carries it."""
    if binary:
        return 4 * ((len(body) + 2) // 3)
    return len(json.dumps(body.decode("utf-8")))


def json_response(status: int, body: dict[str, Any], headers: dict[str, str]) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers=dict(headers),
    )


def attachment(filename: str) -> str:
    """A Content-Disposition that saves as `filename` in every browser (RFC 6266): an ASCII fallback in
    `filename="..."` and, for any other name, the UTF-8 name in `filename*`."""
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in filename) or "download"
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(filename, safe='')}"


def download_stem(sanitized_filename: str | None) -> str | None:
    """The stem to save results under: the client's file name (kept percent-encoded as S3 metadata) decoded
    back and without its extension."""
    if not sanitized_filename:
        return None
    name = urllib.parse.unquote(sanitized_filename)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem or None


def request_id(app: APIGatewayRestResolver) -> str:
    """API Gateway's id of the request being resolved: every answer and log line carries it."""
    return str(app.current_event.request_context.request_id or "unknown")


def api_key_id(app: APIGatewayRestResolver) -> str | None:
    """The id of the API key API Gateway checked for this request (never the key itself); None when the
    route asks for none (the local server, /health)."""
    identity = (app.current_event.raw_event.get("requestContext") or {}).get("identity") or {}
    key_id = identity.get("apiKeyId")
    return str(key_id) if key_id else None


def lower_case_headers(app: APIGatewayRestResolver) -> dict[str, str]:
    return {k.lower(): v for k, v in (app.current_event.headers or {}).items()}


def body_bytes(app: APIGatewayRestResolver) -> bytes:
    """The request body as bytes: API Gateway base64-encodes the binary media types, passes text otherwise."""
    event = app.current_event
    body, is_base64 = event.body, bool(event.is_base64_encoded)
    if body is None:
        return b""
    if not is_base64:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except ValueError:
        raise errors.bad_request("the request body is not valid base64 although marked so") from None
