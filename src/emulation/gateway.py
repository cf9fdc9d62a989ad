"""What API Gateway (REST, Lambda proxy) does around the function, for the local server.

Pure functions from an HTTP request to the proxy event API Gateway would send,
and from the function's answer back to HTTP, plus the answers API Gateway
gives itself (route not found, body too large, preflight) in the service's
error shape. The deployed API's equivalents are built by the stacks from the
same `contract.http`.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contract import http as http_contract

STAGE = "v1"


@dataclass(frozen=True, kw_only=True)
class HttpRequest:
    method: str
    path: str
    headers: list[tuple[str, str]]
    """As received, repeated names kept; names compared case-insensitively."""
    query: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    domain_name: str = "127.0.0.1"
    """The address this server answers on (host:port it is bound to), as API Gateway puts its own
    domain name in the request context: never the client's Host header."""

    def header(self, name: str) -> str:
        return next((v for k, v in reversed(self.headers) if k.lower() == name.lower()), "")


@dataclass(frozen=True, kw_only=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def new_request_id() -> str:
    return str(uuid.uuid4())


def is_binary(media_type: str) -> bool:
    """Whether API Gateway treats this media type as binary (binaryMediaTypes, wildcards allowed)."""
    bare = media_type.split(";", 1)[0].strip().lower()
    return bool(bare) and any(fnmatch.fnmatchcase(bare, pattern) for pattern in http_contract.BINARY_MEDIA_TYPES)


def route_for(method: str, path: str) -> http_contract.RouteSpec | None:
    return next((r for r in http_contract.ROUTES if r.method == method and _matches(r, path)), None)


def methods_of(path: str) -> list[str]:
    """A resource's methods, OPTIONS (its preflight) included; empty for an unknown path."""
    methods = {r.method for r in http_contract.ROUTES if _matches(r, path)}
    return sorted(methods | {"OPTIONS"}) if methods else []


def _path_parameters(route: http_contract.RouteSpec, path: str) -> dict[str, str] | None:
    match = re.match(http_contract.route_pattern(route.path), path)
    return match.groupdict() or None if match else None


def _matches(route: http_contract.RouteSpec, path: str) -> bool:
    return re.match(http_contract.route_pattern(route.path), path) is not None


def to_proxy_event(
    request: HttpRequest,
    route: http_contract.RouteSpec,
    request_id: str,
    *,
    api_key: str | None = None,
    api_key_id: str | None = None,
) -> dict[str, Any]:
    """The REST API proxy event: binary media types base64-encoded, everything else as text; the API
    key API Gateway checked, and its id, in the request context's identity (None where none was)."""
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in request.query:
        multi_query.setdefault(name, []).append(value)
    binary = is_binary(request.header("content-type"))
    now = time.time()
    return {
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": _path_parameters(route, request.path),
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "resourceId": "local",
            "stage": STAGE,
            "domainName": request.domain_name,
            "domainPrefix": request.domain_name.split(".", 1)[0],
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "path": request.path,  # as a custom domain has it: no stage in the local server's URLs
            "resourcePath": route.path,
            "httpMethod": request.method,
            "protocol": "HTTP/1.1",
            "identity": {
                "sourceIp": request.source_ip,
                "userAgent": request.header("user-agent"),
                "apiKey": api_key,
                **({"apiKeyId": api_key_id} if api_key_id else {}),
            },
        },
        "body": (base64.b64encode(request.body).decode() if binary else request.body.decode("utf-8", "replace"))
        if request.body
        else None,
        "isBase64Encoded": binary and bool(request.body),
    }


def from_proxy_result(result: Mapping[str, Any], request: HttpRequest, request_id: str) -> HttpResponse:
    """The function's answer as API Gateway returns it: base64 bodies decoded when the client accepts binary."""
    headers: list[tuple[str, str]] = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(name, str(v)) for v in values if (name, str(v)) not in headers]
    body = result.get("body") or ""
    binary = result.get("isBase64Encoded") and is_binary(request.header("accept").split(",", 1)[0])
    payload = base64.b64decode(body) if binary else body.encode("utf-8")
    headers.append(("x-amzn-RequestId", request_id))
    return HttpResponse(status=int(result.get("statusCode", 502)), headers=headers, body=payload)


def gateway_error(
    response_type: str, request_id: str, origins: tuple[str, ...], *, status: int, message: str
) -> HttpResponse:
    """An error API Gateway answers itself, with the gateway response the stacks configure for it."""
    error = (
        http_contract.GATEWAY_ERRORS.get(response_type)
        or http_contract.GATEWAY_ERRORS["DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"]
    )
    body = http_contract.error_body(error.code, error.message or message, request_id)
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-RequestId", request_id),
        *_static_cors(origins, methods=_all_methods()),
    ]
    return HttpResponse(status=error.status or status, headers=headers, body=json.dumps(body).encode())


def preflight(path: str, origin: str, origins: tuple[str, ...], request_id: str) -> HttpResponse:
    """The OPTIONS mock: echo an allowed Origin, else the first configured one (as the VTL template does)."""
    headers = _static_cors(origins, methods=methods_of(path))
    if origins != ("*",) and origin in origins:
        headers = [(k, origin if k == "Access-Control-Allow-Origin" else v) for k, v in headers]
    return HttpResponse(
        status=200,
        headers=[*headers, ("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)],
        body=b"{}",
    )


def _all_methods() -> list[str]:
    return sorted({r.method for r in http_contract.ROUTES} | {"OPTIONS"})


def _static_cors(origins: tuple[str, ...], *, methods: Iterable[str]) -> list[tuple[str, str]]:
    return [
        ("Access-Control-Allow-Origin", origins[0]),
        ("Access-Control-Allow-Headers", ",".join(http_contract.CORS_ALLOW_HEADERS)),
        ("Access-Control-Allow-Methods", ",".join(methods)),
    ]
