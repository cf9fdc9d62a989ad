"""HTTP with bounded retries on 429, 502, 503 and 504 only.

urllib3's `Retry` makes every decision (which statuses, how many times, exponential backoff with
jitter, `Retry-After` honoured); the loop here only re-sends, building each attempt's body afresh, so
a streamed upload is retried whole (urllib3's own loop cannot rewind a streamed body). Connection
errors and timeouts are not retried: a POST may already have been taken.
The API key goes only to the API's own URLs, never to the presigned storage URLs, and is never logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


class Transport:
    """One `requests` session, the retry policy and the API key."""

    def __init__(self, *, api_key: str | None, max_retries: int, backoff_s: float) -> None:
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

        `api`: the URL is the API's (the key is sent); False for presigned storage URLs.
        `body`: builds the attempt's body arguments (data, headers) each time.
        """
        headers = dict(kwargs.pop("headers", {}))
        if api and self._api_key:
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
            if not retry.is_retry(method, response.status_code, "Retry-After" in response.headers):
                return response
            try:
                retry = retry.increment(method, url, response=response.raw)
            except MaxRetryError:
                return response
            retry.sleep(response.raw)

    def close(self) -> None:
        self._session.close()


def _host(url: str) -> str:
    """The scheme and host only: presigned URLs carry signatures that do not belong in messages."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
