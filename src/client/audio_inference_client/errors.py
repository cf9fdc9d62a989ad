"""Typed errors: what went wrong, in the service's own words (code, message, request id).

`BadInputError` is the caller's to fix (4xx, an unreadable file, audio the service cannot use);
`ServiceError` is the service's (5xx, throttling that outlasted the retries, a network failure);
`TranscriptionTimeout` means the work did not finish in time. The CLI maps them to exit codes 2, 3, 4.
"""

from __future__ import annotations


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


class TranscriptionTimeout(AudioInferenceError):
    """The transcription did not finish within the client's timeout (the job may still finish)."""


class NotInResultError(BadInputError):
    """Asked a result for what its model does not answer: notes of speech segments, MIDI of a model
    without notes, segments of a transcription."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="not_in_result")

    def __str__(self) -> str:
        return f"{self.message} ({self.code})"
