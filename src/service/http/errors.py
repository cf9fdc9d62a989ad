"""HTTP errors as types, and how the runtime's typed errors become them.

Every refusal raises an `ApiError`; the handler renders it in one place as the
contract's JSON shape. Messages say what was wrong and what is allowed, and
never carry tracebacks, file paths or bucket names.
"""

from __future__ import annotations

from collections.abc import Callable

from contract.validation import ConfigError
from inference.errors import (
    AudioError,
    AudioTooLargeError,
    AudioTooLongError,
    EmptyAudioError,
    InferenceError,
    OutputTooLargeError,
    TooManyChannelsError,
    UnsupportedAudioFormatError,
    UnsupportedSampleRateError,
)

MAX_MESSAGE_CHARS = 1000
"""No error message is longer: each quotes what it refuses by its start (`contract.validation.shown`),
and this bounds any that does not, so a refusal always fits Lambda's 6 MB response."""


class ApiError(Exception):
    """An answer other than success: HTTP status, stable machine-readable code, message for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        if len(message) > MAX_MESSAGE_CHARS:  # a message quoting a client's value whole would be megabytes
            message = f"{message[: MAX_MESSAGE_CHARS - 30]}... ({len(message):,} characters)"
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers: dict[str, str] = {}
        """Headers the answer carries besides the error (Retry-After on a 429)."""


def _kind(status: int, code: str) -> Callable[[str], ApiError]:
    """A constructor for one kind of refusal: the status and code fixed, the message per case."""

    def make(message: str) -> ApiError:
        return ApiError(status, code, message)

    return make


bad_request = _kind(400, "bad_request")
not_found = _kind(404, "not_found")
method_not_allowed = _kind(405, "method_not_allowed")
payload_too_large = _kind(413, "payload_too_large")
unsupported_media_type = _kind(415, "unsupported_media_type")
invalid_parameter = _kind(422, "invalid_parameter")
not_acceptable = _kind(406, "not_acceptable")


def internal_error() -> ApiError:
    return ApiError(500, "internal_error", "the service failed to answer this request; it has been logged")


def from_inference_error(exc: InferenceError | ConfigError, *, long_audio_hint: str) -> ApiError:
    """The HTTP error for a runtime error; audio problems are the client's, anything else is ours."""
    if isinstance(exc, AudioTooLongError):
        return ApiError(413, "audio_too_long", f"{exc}; {long_audio_hint}")
    if isinstance(exc, AudioTooLargeError):
        return ApiError(413, "audio_too_large", f"{exc}; {long_audio_hint}")
    if isinstance(exc, OutputTooLargeError):
        return ApiError(422, "output_too_large", str(exc))
    if isinstance(exc, UnsupportedSampleRateError):
        return ApiError(422, "unsupported_sample_rate", str(exc))
    if isinstance(exc, TooManyChannelsError):
        return ApiError(422, "too_many_channels", str(exc))
    if isinstance(exc, UnsupportedAudioFormatError):
        return ApiError(415, "unsupported_audio_format", str(exc))
    if isinstance(exc, EmptyAudioError):
        return ApiError(422, "empty_audio", str(exc))
    if isinstance(exc, AudioError):
        return ApiError(422, "undecodable_audio", str(exc))
    if isinstance(exc, ConfigError):
        return invalid_parameter(str(exc))
    return internal_error()
