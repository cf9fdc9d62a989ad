"""HTTP under one deadline, with bounded retries on 429, 502, 503 and 504 only.

Every call (a transcription, `health`, `save_midi`) has a `Deadline`; nothing here outlives it. Each
attempt is watched by a timer that shuts its connection down when the deadline passes, whatever the
attempt is doing then (connecting, sending an upload a server reads slowly, waiting for headers,
reading a body that trickles): a socket timeout bounds each read, not the whole. `Retry-After` is
honoured up to RETRY_AFTER_CAP_S and only while it ends before the deadline. Bodies are read in
chunks, each answer under a size cap (a larger one is a ProtocolError, an error answer is cut).

urllib3's `Retry` counts the attempts and computes the backoff (exponential, with jitter); the loop
here re-sends, building each attempt's body afresh, so a streamed upload is retried whole. Connection
errors and timeouts are not retried: a POST may already have been taken.

The API key goes only to the API's own origin (the base URL's scheme, host and port), never to the
presigned storage URLs nor to any other URL an answer names, is never carried across a redirect (a
request with the key does not follow one), and is never logged. Which origin a URL connects to is
decided by the parser the connection itself uses (urls.py), on the prepared request.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.poolmanager import ProxyManager
from urllib3.util.retry import Retry

from audio_inference_client.errors import ProtocolError, ServiceError, TranscriptionTimeout, printable
from audio_inference_client.urls import Origin, UnsafeUrl, checked, storage_link, where
from audio_inference_client.version import __version__

RETRY_STATUSES = frozenset({429, 502, 503, 504})
USER_AGENT = f"audio-inference-client/{__version__}"
RETRY_AFTER_CAP_S = 30.0
"""The longest wait between attempts, whatever a server's Retry-After asks (the page uses the same)."""
JSON_LIMIT_BYTES = 64 * 1024 * 1024
"""The largest JSON answer read (a long job's result is a few MB)."""
MIDI_LIMIT_BYTES = 64 * 1024 * 1024
"""The largest MIDI file downloaded (the service's are under 12 MB)."""
ERROR_LIMIT_BYTES = 1024 * 1024
"""How much of an error answer is read (the service's are under 1 kB); the rest is not."""
MAX_REDIRECTS = 5
"""Redirects followed on a storage link (never on the API's own URLs)."""
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Deadline:
    """When a call must be over: `seconds` after it began."""

    seconds: float
    ends: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(seconds, time.monotonic() + seconds)

    def left(self) -> float:
        return self.ends - time.monotonic()

    def passed(self, what: str) -> TranscriptionTimeout:
        return TranscriptionTimeout(f"{what} did not finish within the {self.seconds:g} s timeout", code="timeout")


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, its body read (up to the cap)."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes
    url: str
    truncated: bool = False
    """An error answer longer than ERROR_LIMIT_BYTES: only its first bytes are in `body`."""

    @property
    def is_redirect(self) -> bool:
        return self.status in (301, 302, 303, 307, 308) and "Location" in self.headers


def retry_policy(max_retries: int, backoff_s: float) -> Retry:
    """At most `max_retries` more attempts, on RETRY_STATUSES only; waits grow as backoff_s x 2^n plus
    up to backoff_s of jitter, capped at RETRY_AFTER_CAP_S (what a server's Retry-After asks, capped the same)."""
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
        backoff_max=RETRY_AFTER_CAP_S,
        respect_retry_after_header=False,  # read here, capped: urllib3 would sleep whatever it says
        raise_on_status=False,
    )


def retry_after_s(value: str | None) -> float | None:
    """A Retry-After header in seconds from now (delay-seconds or an HTTP date); None when absent or
    unreadable. Not capped here."""
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+", value):
        return float(value) if len(value) <= 12 else float("inf")
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Transport:
    """One `requests` session, the retry policy and the API key, pinned to the API's origin."""

    def __init__(
        self,
        *,
        api_url: str,
        api_key: str | None,
        max_retries: int,
        backoff_s: float,
        request_timeout: float = 60.0,
    ) -> None:
        self._api_origin = checked(api_url)
        self._api_key = api_key
        self._policy = retry_policy(max_retries, backoff_s)
        self.request_timeout = request_timeout
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        adapter = _WatchedAdapter()
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"Transport(api_key={'<set>' if self._api_key else None})"

    @property
    def api_origin(self) -> Origin:
        return self._api_origin

    def request(
        self,
        method: str,
        url: str,
        *,
        deadline: Deadline,
        api: bool = True,
        body: Callable[[], dict[str, Any]] | None = None,
        limit: int = JSON_LIMIT_BYTES,
        what: str = "the request",
        **kwargs: Any,
    ) -> Answer:
        """Send, retrying as the policy says, within `deadline`; the last answer is returned whatever
        its status, its body read (a success over `limit` bytes is a ProtocolError).

        `api`: the URL is the API's (the key is sent; the URL must be on the API's origin, and a redirect
        is not followed but reported); False for storage links (https, or http on loopback; no key; GET
        follows up to MAX_REDIRECTS redirects, each checked the same).
        `body`: builds the attempt's body arguments (data, headers) each time.
        `what`: names the call in a timeout's message.
        """
        headers = dict(kwargs.pop("headers", {}))
        if api:
            self.check_api_url(url)
            if self._api_key:
                headers["x-api-key"] = self._api_key
        else:
            _check_storage_url(url, what)
        retry = self._policy
        redirects = 0
        while True:
            attempt = body() if body is not None else {}
            prepared = self._session.prepare_request(
                requests.Request(method, url, headers={**headers, **attempt.pop("headers", {})}, **attempt, **kwargs)
            )
            # What the adapter connects to is read from the prepared URL: check that one too.
            if api:
                self.check_api_url(prepared.url or "")
            else:
                _check_storage_url(prepared.url or "", what)
            answer = self._send(prepared, deadline, limit, what)
            if answer.is_redirect:
                if api:
                    raise ServiceError(
                        f"the API answered {answer.status} with a redirect to "
                        f"{where(answer.headers.get('Location', ''))}; requests with the API key do not follow "
                        "redirects: use the final URL as the API URL",
                        code="redirected",
                        status=answer.status,
                    )
                if method.upper() == "GET":
                    redirects += 1
                    if redirects > MAX_REDIRECTS:
                        raise ProtocolError(
                            f"{what}: more than {MAX_REDIRECTS} redirects from {where(url)} (a redirect loop?)",
                            code="too_many_redirects",
                            status=answer.status,
                        )
                    url = urljoin(url, answer.headers["Location"])
                    _check_storage_url(url, what)
                    continue
            if answer.status not in RETRY_STATUSES or not retry.is_retry(method, answer.status):
                return answer
            try:
                retry = retry.increment(method, url)
            except MaxRetryError:  # the retries are spent
                return answer
            self._wait_to_retry(answer, retry, deadline, what)

    def check_api_url(self, url: str, what: str = "an API call") -> None:
        """ProtocolError unless `url` connects to the API's own origin (where the key goes)."""
        try:
            target = checked(url)
        except UnsafeUrl as unsafe:
            raise ProtocolError(f"the service named {unsafe} for {what}", code="unsafe_url") from None
        if target != self._api_origin:
            raise ProtocolError(
                f"the service named {target} for {what}; the API key goes only to {self._api_origin}",
                code="foreign_url",
            )

    @staticmethod
    def check_storage_url(url: str, what: str) -> None:
        """ProtocolError unless `url` is a storage link the client follows (https, or http on loopback)."""
        _check_storage_url(url, what)

    def _send(self, prepared: requests.PreparedRequest, deadline: Deadline, limit: int, what: str) -> Answer:
        """One attempt, watched: its connection is shut down when the deadline passes."""
        left = deadline.left()
        if left <= 0:
            raise deadline.passed(what)
        host = where(prepared.url or "")
        settings = self._session.merge_environment_settings(prepared.url or "", {}, True, None, None)
        watch = _Watch(deadline)
        _current.watch = watch
        try:
            watch.start()
            try:
                response = self._session.send(
                    prepared, timeout=min(self.request_timeout, left), allow_redirects=False, **settings
                )
            finally:
                _current.watch = None
            try:
                return _read(response, limit if response.status_code < 300 else ERROR_LIMIT_BYTES, watch, what)
            finally:
                response.close()
        except (ProtocolError, TranscriptionTimeout):
            raise
        except Exception as error:
            if watch.fired or deadline.left() <= 0:
                raise deadline.passed(what) from None
            if isinstance(error, requests.Timeout | Urllib3Timeout | TimeoutError):
                raise TranscriptionTimeout(
                    f"no answer from {host} within {min(self.request_timeout, left):g} s", code="request_timeout"
                ) from None
            if isinstance(error, requests.ConnectionError):
                raise ServiceError(f"could not connect to {host}", code="connection_failed") from None
            if isinstance(error, Urllib3Error | OSError):
                raise ServiceError(
                    f"{what}: the connection to {host} broke while the answer arrived", code="connection_failed"
                ) from None
            raise ServiceError(
                f"{what}: the exchange with {host} failed ({type(error).__name__}: {printable(str(error), 200)})",
                code="connection_failed",
            ) from None
        finally:
            watch.stop()

    def _wait_to_retry(self, answer: Answer, retry: Retry, deadline: Deadline, what: str) -> None:
        asked = retry_after_s(answer.headers.get("Retry-After"))
        wait = min(asked if asked is not None else retry.get_backoff_time(), RETRY_AFTER_CAP_S)
        if wait >= deadline.left():
            if asked is None:
                asking = "is busy"
            else:
                asking = f"asked to retry in {f'{asked:.0f} s' if asked < 1e9 else 'ages'} (Retry-After)"
            raise TranscriptionTimeout(
                f"{what} did not finish within the {deadline.seconds:g} s timeout: the service answered "
                f"HTTP {answer.status} and {asking}",
                code="timeout",
                status=answer.status,
            )
        time.sleep(max(wait, 0.0))

    def close(self) -> None:
        self._session.close()


def _check_storage_url(url: str, what: str) -> None:
    try:
        storage_link(url)
    except UnsafeUrl as unsafe:
        raise ProtocolError(f"{what}: the service named {unsafe}", code="unsafe_url") from None


def _read(response: requests.Response, limit: int, watch: _Watch, what: str) -> Answer:
    """The body in chunks, under `limit`: a success over it is a ProtocolError, an error is cut."""
    declared = response.headers.get("Content-Length", "")
    success = response.status_code < 300
    if success and declared.isdigit() and int(declared) > limit:
        raise ProtocolError(
            f"{what}: the answer is {int(declared)} bytes, over the {limit}-byte cap",
            code="answer_too_large",
            status=response.status_code,
        )
    chunks: list[bytes] = []
    size = 0
    truncated = False
    while True:
        if watch.fired:
            raise TimeoutError
        chunk = response.raw.read(CHUNK_BYTES, decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            if success:
                raise ProtocolError(
                    f"{what}: the answer is over the {limit}-byte cap",
                    answer=b"".join(chunks)[:1024],
                    code="answer_too_large",
                    status=response.status_code,
                )
            truncated = True
            break
    if watch.fired:
        raise TimeoutError
    body = b"".join(chunks)
    return Answer(
        status=response.status_code,
        reason=printable(response.reason or "", 200),
        headers=response.headers,
        body=body[:limit] if truncated else body,
        url=response.url or "",
        truncated=truncated,
    )


# The watch on an attempt: a timer that shuts the attempt's connection down at the deadline. The
# connection is the one urllib3's pool hands out for the attempt (each attempt is one urlopen).


@dataclass
class _Watch:
    deadline: Deadline
    fired: bool = False
    _connection: object = None
    _timer: threading.Timer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self._timer = threading.Timer(max(self.deadline.left(), 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def attach(self, connection: object) -> None:
        with self._lock:
            self._connection = connection
            if self.fired:
                _shut(connection)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._connection is not None:
                _shut(self._connection)


def _shut(connection: object) -> None:
    """Wake whatever reads or writes the connection's socket (the base socket's shutdown: an SSL
    socket's own would drop its state under the reading thread). The socket the connection made is
    kept aside: http.client drops `sock` from a connection that closes after its answer, while the
    answer is still being read from it."""
    for sock in (getattr(connection, "sock", None), getattr(connection, "watched_socket", None)):
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Current(threading.local):
    watch: _Watch | None = None


_current = _Current()


def _attach(connection: object) -> None:
    watch = _current.watch
    if watch is not None:
        watch.attach(connection)


class _WatchedHTTPConnection(HTTPConnection):
    watched_socket: socket.socket | None = None

    def connect(self) -> None:
        super().connect()
        self.watched_socket = self.sock
        _attach(self)  # a deadline that passed while connecting shuts it now


class _WatchedHTTPSConnection(HTTPSConnection):
    watched_socket: socket.socket | None = None

    def connect(self) -> None:
        super().connect()
        self.watched_socket = self.sock
        _attach(self)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)
        _attach(connection)
        return connection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)
        _attach(connection)
        return connection


_WATCHED_POOLS: dict[str, type[HTTPConnectionPool]] = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter, its pools handing each attempt's connection to the attempt's watch."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> ProxyManager:
        manager: ProxyManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager
