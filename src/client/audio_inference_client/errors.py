"""Typed errors: what went wrong, in the service's own words (code, message, request id).

`BadInputError` is the caller's to fix (4xx, an unreadable file, audio the service cannot use);
`ServiceError` is the service's (5xx, throttling that outlasted the retries, a network failure);
`TranscriptionTimeout` means the work did not finish in time (the call's whole timeout, retries,
waits and slow answers included); `ProtocolError` (a `ServiceError`) that an answer was off the API's
contract: not JSON, a missing or mistyped field, a URL the client will not use, an answer too large.
The CLI maps them to exit codes 2, 3, 4 and 5.

Whatever a server says (its messages, codes, the first bytes of an off-contract answer) goes through
`printable` before it reaches a message: control characters and escape sequences shown escaped, the
length capped.
"""

from __future__ import annotations

import unicodedata

PREVIEW_CHARS = 200
"""How much of an off-contract answer a ProtocolError shows."""
MESSAGE_CHARS = 1000
"""The longest a server's own message is shown."""

_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class AudioInferenceError(Exception):
    """Base of every error this client raises."""

    def __init__(
        self, message: str, *, code: str = "client_error", status: int | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        where = f"HTTP {self.status} " if self.status else ""
        request = f", request {self.request_id}" if self.request_id else ""
        return f"{self.message} ({where}{self.code}{request})"


class BadInputError(AudioInferenceError):
    """The request or the audio was refused (4xx), or the file could not be read."""


class ServiceError(AudioInferenceError):
    """The service failed (5xx), stayed throttled through the retries, or could not be reached."""


class JobFailedError(AudioInferenceError):
    """A job ended `failed` for a reason of the service's (its input is kept there)."""

    def __init__(self, message: str, *, code: str, job_id: str) -> None:
        super().__init__(message, code=code, request_id=None)
        self.job_id = job_id

    def __str__(self) -> str:
        return f"{self.message} ({self.code}, job {self.job_id})"


class BadAudioJobError(BadInputError):
    """A job ended `failed` because of its audio (undecodable, empty, too long, refused upload)."""

    def __init__(self, message: str, *, code: str, job_id: str) -> None:
        super().__init__(message, code=code)
        self.job_id = job_id

    def __str__(self) -> str:
        return f"{self.message} ({self.code}, job {self.job_id})"


class ProtocolError(ServiceError):
    """The service answered off its contract (openapi.yaml): not JSON, not an object, a field missing or
    of the wrong type, a URL the client will not use, a redirect loop, an answer over its size cap. The
    message shows the first bytes of the answer, made printable."""

    def __init__(
        self,
        message: str,
        *,
        answer: object = None,
        code: str = "protocol_error",
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        if answer is not None:
            message = f"{message}; the answer began: {printable(answer, PREVIEW_CHARS)}"
        super().__init__(message, code=code, status=status, request_id=request_id)


class TranscriptionTimeout(AudioInferenceError):
    """The transcription did not finish within the client's timeout (the job may still finish)."""


class NotInResultError(BadInputError):
    """Asked a result for what its model does not answer: notes of speech segments, MIDI of a model
    without notes, segments of a transcription."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="not_in_result")

    def __str__(self) -> str:
        return f"{self.message} ({self.code})"


def printable(value: object, limit: int = MESSAGE_CHARS) -> str:
    """`value` (text, or bytes read as UTF-8) safe for a terminal and a log line: control characters,
    ANSI escape sequences, bidi overrides and line breaks shown as escapes (`\\x1b`, `\\n`, `\\u202e`),
    at most `limit` characters, then how much more there was."""
    if isinstance(value, bytes | bytearray):
        total = f"{len(value)} bytes"
        text = bytes(value[: limit * 4]).decode("utf-8", errors="backslashreplace")
    else:
        text = value if isinstance(value, str) else repr(value)
        total = f"{len(text)} characters"
    shown: list[str] = []
    length = 0
    for char in text:
        piece = char.encode("unicode_escape").decode("ascii") if unicodedata.category(char) in _UNSAFE else char
        if length + len(piece) > limit:
            return "".join(shown) + f"... ({total} in all)"
        shown.append(piece)
        length += len(piece)
    return "".join(shown)
