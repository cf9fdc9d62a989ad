"""The HTTP contract the stacks, the handlers and the local emulation share.

Routes, the request bodies API Gateway passes as binary, the CORS request
headers, API Gateway's limits, and the one JSON error shape, including the
errors API Gateway answers itself (gateway responses) before the function
runs. The stacks build the REST API from it, the service answers by it, the
emulation behaves like that API.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class RouteSpec:
    method: str
    path: str
    public: bool
    """True: never behind an API key (health checks); False: the environment's key setting applies."""


PREDICT = RouteSpec(method="POST", path="/predict", public=False)
HEALTH = RouteSpec(method="GET", path="/health", public=True)
CREATE_JOB = RouteSpec(method="POST", path="/jobs", public=False)
GET_JOB = RouteSpec(method="GET", path="/jobs/{job_id}", public=False)
ROUTES = (PREDICT, HEALTH, CREATE_JOB, GET_JOB)


def route_pattern(path: str) -> str:
    """A route's path as a regular expression ({name} matches one path segment)."""
    return (
        "^"
        + "".join(
            f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", path)
        )
        + "$"
    )


# Request bodies API Gateway hands the function base64-encoded (and responses it decodes back to
# bytes when the client's Accept matches, as for audio/midi). Everything else arrives as text.
BINARY_MEDIA_TYPES = ("multipart/form-data", "audio/*", "application/octet-stream")
CORS_ALLOW_HEADERS = ("Content-Type", "Accept", "X-Api-Key", "Authorization", "X-Amz-Date", "X-Amz-Security-Token")
CORS_MAX_AGE_S = 600

# API Gateway's hard limits in front of the function.
GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024
"""REST APIs refuse larger request bodies (REQUEST_TOO_LARGE)."""
LAMBDA_MAX_EVENT_BYTES = 6 * 1024 * 1024
"""A synchronous invocation's payload: the whole proxy event, body base64-encoded."""
LAMBDA_MAX_RESPONSE_BYTES = 6 * 1024 * 1024
"""A synchronous invocation's response: the whole proxy answer as JSON, a binary body base64-encoded.
Larger, Lambda fails the invocation and API Gateway answers 502."""
GATEWAY_TIMEOUT_S = 29
"""API Gateway's integration timeout: a function still running then is answered 504 by the gateway."""


@dataclass(frozen=True, kw_only=True)
class GatewayError:
    """How the API answers an error API Gateway raises itself, in the service's error shape."""

    status: int | None
    """The HTTP status; None keeps API Gateway's own."""
    code: str
    message: str | None
    """None: API Gateway's own message ($context.error.message)."""


GATEWAY_ERRORS: dict[str, GatewayError] = {
    "DEFAULT_4XX": GatewayError(status=None, code="bad_request", message=None),
    "DEFAULT_5XX": GatewayError(status=None, code="internal_error", message=None),
    # REST APIs answer an unknown path or method as a missing authentication token (403).
    "MISSING_AUTHENTICATION_TOKEN": GatewayError(
        status=404, code="not_found", message="no route matches this method and path (see openapi.yaml)"
    ),
    "INVALID_API_KEY": GatewayError(
        status=403, code="invalid_api_key", message="send a valid API key in the x-api-key header"
    ),
    "THROTTLED": GatewayError(status=429, code="throttled", message="too many requests: retry with backoff"),
    "QUOTA_EXCEEDED": GatewayError(
        status=429, code="quota_exceeded", message="this API key's request quota is used up for the period"
    ),
    "REQUEST_TOO_LARGE": GatewayError(
        status=413,
        code="request_too_large",
        message="the request body is over API Gateway's 10 MB limit: send shorter audio",
    ),
    "INTEGRATION_TIMEOUT": GatewayError(
        status=504, code="timeout", message=f"the request took longer than API Gateway's {GATEWAY_TIMEOUT_S} s"
    ),
}


def error_body(code: str, message: str, request_id: str) -> dict[str, Any]:
    """The one error shape of every answer that is not a success."""
    return {"error": {"code": code, "message": message, "request_id": request_id}}


def gateway_error_template(error: GatewayError) -> str:
    """The gateway response's body template (VTL): the same shape, filled in by API Gateway."""
    message = json.dumps(error.message) if error.message is not None else "$context.error.messageString"
    return (
        f'{{"error": {{"code": {json.dumps(error.code)}, "message": {message}, "request_id": "$context.requestId"}}}}'
    )
