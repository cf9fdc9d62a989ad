"""HTTP with bounded retries on 429, 502, 503 and 504 only.

urllib3's `Retry` makes every decision (which statuses, how many times, exponential backoff with
jitter, `Retry-After` honoured); the loop here only re-sends, building each attempt's body afresh, so
a streamed upload is retried whole (urllib3's own loop cannot rewind a streamed body). Connection
errors and timeouts are not retried: a POST may already have been taken.
The API key goes only to the API's own origin (the base URL's scheme, host and port), never to the
presigned storage URLs nor to any other URL an answer names, is never carried across a redirect (a
request with the key does not follow one), and is never logged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from audio_inference_client.errors import ServiceError, TranscriptionTimeout
from audio_inference_client.version import __version__

RETRY_STATUSES = frozenset({429, 502, 503, 504})
USER_AGENT = f"audio-inference-client/{__version__}"


def retry_policy(max_retries: int, backoff_s: float) -> Retry:
    """At most `max_retries` more attempts, on RETRY_STATUSES only; waits grow as backoff_s x 2^n plus
    up to backoff_s of jitter, capped at 30 s, or what the server's Retry-After asks."""
    return Retry(
        total=max_retries,
        connect=0,
        read=0,
        redirect=0,
        other=0,
        status=max_retries,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,  # POST too: these statuses mean the request was not taken
        backoff_factor=backoff_s,
        backoff_jitter=backoff_s,
        backoff_max=30.0,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, the port made explicit: what the key is pinned to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme, 0)


def is_loopback(host: str) -> bool:
    """localhost or a loopback address: plain http cannot be read by anyone else there."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Transport:
    """One `requests` session, the retry policy and the API key, pinned to the API's origin."""

    def __init__(self, *, api_url: str, api_key: str | None, max_retries: int, backoff_s: float) -> None:
        self._api_origin = origin(api_url)
        self._api_key = api_key
        self._policy = retry_policy(max_retries, backoff_s)
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT

    def __repr__(self) -> str:
        return f"Transport(api_key={'<set>' if self._api_key else None})"

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        api: bool = True,
        body: Callable[[], dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send, retrying as the policy says; the last answer is returned whatever its status.

        `api`: the URL is the API's (the key is sent; the URL must be on the API's origin, and a redirect
        is not followed but reported); False for presigned storage URLs.
        `body`: builds the attempt's body arguments (data, headers) each time.
        """
        headers = dict(kwargs.pop("headers", {}))
        if api:
            if origin(url) != self._api_origin:
                raise ServiceError(
                    f"the service named {_host(url)} for an API call; the API key goes only to "
                    f"{_origin_text(self._api_origin)}",
                    code="foreign_url",
                )
            kwargs["allow_redirects"] = False
            if self._api_key:
                headers["x-api-key"] = self._api_key
        retry = self._policy
        while True:
            attempt = body() if body is not None else {}
            try:
                response = self._session.request(
                    method,
                    url,
                    headers={**headers, **attempt.pop("headers", {})},
                    timeout=timeout,
                    **attempt,
                    **kwargs,
                )
            except requests.Timeout:
                raise TranscriptionTimeout(
                    f"no answer from {_host(url)} within {timeout:.0f} s", code="request_timeout"
                ) from None
            except requests.ConnectionError:
                raise ServiceError(f"could not connect to {_host(url)}", code="connection_failed") from None
            if api and response.is_redirect:
                raise ServiceError(
                    f"the API answered {response.status_code} with a redirect to "
                    f"{_host(response.headers.get('Location', ''))}; requests with the API key do not follow "
                    "redirects: use the final URL as the API URL",
                    code="redirected",
                    status=response.status_code,
                )
            if not retry.is_retry(method, response.status_code, "Retry-After" in response.headers):
                return response
            try:
                retry = retry.increment(method, url, response=response.raw)
            except MaxRetryError:
                return response
            retry.sleep(response.raw)

    def close(self) -> None:
        self._session.close()


def _origin_text(api_origin: tuple[str, str, int]) -> str:
    scheme, host, port = api_origin
    return f"{scheme}://{host}:{port}"


def _host(url: str) -> str:
    """The scheme and host only: presigned URLs carry signatures that do not belong in messages."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
