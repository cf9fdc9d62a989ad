"""A deadline for a request's headers, for the local server's HTTP/1.1 connections.

uvicorn has no header timeout: its keep-alive timer runs only between requests and stops at the
first byte of the next one, and `h11_max_incomplete_event_size` bounds the headers' size, not their
time. A client that opens a connection and sends its headers a byte at a time would hold it forever
(slowloris). This protocol is uvicorn's h11 protocol with one timer more: armed when a connection
opens and when the first byte of each later request arrives, disarmed when the request's headers are
complete (the body has its own timeout, in the app). When it fires, a client that had started a
request gets the server's 408 and the connection is closed; one that sent nothing is closed quietly,
as uvicorn closes an idle keep-alive connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def header_timeout_protocol(timeout_s: float, refusal: Callable[[], bytes]) -> type[H11Protocol]:
    """uvicorn's h11 protocol, cutting off a request whose headers are not complete within `timeout_s`
    (from the connection's start, or from the first byte of a later request on it); `refusal()` gives
    the raw HTTP answer written before the connection is closed."""

    class HeaderTimeoutProtocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self.conn.their_state is h11.IDLE and self._header_timer is None:
                self._arm()  # the first byte of a later request on a kept-alive connection
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()  # the headers are complete: the request is the app's now

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(timeout_s, self._headers_timed_out)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_timed_out(self) -> None:
            self._header_timer = None
            if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
                return
            started, _ = self.conn.trailing_data  # what came of a request whose headers are not complete
            if started:
                self.transport.write(refusal())
            self.transport.close()

    return HeaderTimeoutProtocol
