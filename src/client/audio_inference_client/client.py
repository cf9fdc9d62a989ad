"""`Client.transcribe`: one call for any length of audio.

What fits a request (`SYNC_LIMIT_BYTES` of body, the service's `audio.max_upload_bytes`) goes to
`POST /predict`; anything larger, or audio the service finds too long for a request, goes through
the jobs flow: `POST /jobs`, the file uploaded straight to storage with the presigned form, the job's
status polled with growing intervals, the result downloaded. The whole call is bounded by `timeout`.
"""

from __future__ import annotations

import io
import os
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests
from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor

from audio_inference_client.errors import (
    AudioInferenceError,
    BadAudioJobError,
    BadInputError,
    JobFailedError,
    ServiceError,
    TranscriptionTimeout,
)
from audio_inference_client.result import Result, result_for
from audio_inference_client.transport import Transport, is_loopback, origin

SYNC_LIMIT_BYTES = 4_500_000
"""The largest body `POST /predict` takes (the service's audio.max_upload_bytes)."""

BASIC_PITCH, SILERO_VAD = "basic-pitch", "silero-vad"
MODEL_PARAMETERS: dict[str, dict[str, type]] = {
    BASIC_PITCH: {
        "onset_threshold": float,
        "frame_threshold": float,
        "minimum_note_length_ms": float,
        "minimum_frequency_hz": float,
        "maximum_frequency_hz": float,
        "melodia_trick": bool,
        "include_pitch_bends": bool,
        "multiple_pitch_bends": bool,
        "midi_tempo": float,
        "precision": str,
    },
    SILERO_VAD: {
        "threshold": float,
        "min_speech_duration_ms": float,
        "min_silence_duration_ms": float,
        "speech_pad_ms": float,
    },
}
"""What `transcribe` accepts as keyword parameters for each model this client knows (openapi.yaml: the
same names on both routes; ranges are the service's to check). A model not listed here (a deployment's
own) takes whatever it is sent: the service checks it."""
PARAMETERS = MODEL_PARAMETERS[BASIC_PITCH]
"""Basic Pitch's parameters: the one list there was before models could be chosen."""
MODELS_WITH_MIDI = frozenset({BASIC_PITCH})
"""The models whose result comes with a MIDI file."""
PRECISIONS = ("exact", "fast")
"""`precision`: exact (the default: f32, the validated results) or fast (int8 and bf16 where the
service's CPU computes them natively; the result's model.compute says what ran)."""

TOO_LONG_FOR_A_REQUEST = frozenset({"payload_too_large", "audio_too_long", "request_too_large"})
AUDIO_FAULTS = frozenset(
    {"undecodable_audio", "empty_audio", "audio_too_long", "unsupported_audio_format", "upload_rejected"}
)
"""Job failure codes that are the audio's fault (BadAudioJobError) rather than the service's."""

CONTENT_TYPES = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".mp3": "audio/mpeg",
}
MAGIC = ((b"RIFF", "audio/wav"), (b"fLaC", "audio/flac"), (b"OggS", "audio/ogg"), (b"ID3", "audio/mpeg"))

UploadProgress = Callable[[int, int], None]
"""Called with (bytes sent, bytes in all) as an upload goes."""
JobProgress = Callable[[str, float], None]
"""Called with (job status, seconds since the job was created) at every poll."""


@dataclass(frozen=True)
class _Audio:
    """The input, whichever form it came in: re-openable, so a retried upload starts from its first byte."""

    name: str
    content_type: str
    size: int
    path: Path | None
    data: bytes | None

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        if self.path is not None:
            with self.path.open("rb") as handle:
                yield handle
        else:
            yield io.BytesIO(self.data or b"")


class Client:
    """A client for one deployment of the API (or `make serve`'s http://127.0.0.1:8080).

    `timeout` bounds a whole `transcribe` call (requests, upload, waiting for a job); `request_timeout`
    each HTTP request. 429, 502, 503 and 504 are retried up to `max_retries` times with backoff and jitter.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: float = 3600.0,
        *,
        request_timeout: float = 60.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        sync_limit_bytes: int = SYNC_LIMIT_BYTES,
        poll_interval_s: float = 0.5,
        max_poll_interval_s: float = 10.0,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise BadInputError(f"the API URL must start with http:// or https://, got {base_url!r}", code="bad_url")
        scheme, host, _ = origin(base_url)
        if api_key and scheme != "https" and not is_loopback(host):
            raise BadInputError(
                f"the API URL {base_url!r} is plain http to another machine: the API key would cross the "
                "network readable; use https (plain http only to localhost or 127.0.0.1)",
                code="insecure_url",
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.request_timeout = request_timeout
        self.sync_limit_bytes = sync_limit_bytes
        self.poll_interval_s = poll_interval_s
        self.max_poll_interval_s = max_poll_interval_s
        self._has_key = bool(api_key)
        self._transport = Transport(
            api_url=self.base_url, api_key=api_key or None, max_retries=max_retries, backoff_s=backoff_s
        )

    def __repr__(self) -> str:  # never the key itself
        return f"Client({self.base_url!r}, api_key={'<set>' if self._has_key else None})"

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def health(self) -> dict[str, Any]:
        """GET /health: the service's model and version."""
        response = self._transport.request("GET", f"{self.base_url}/health", timeout=self.request_timeout)
        return self._json_or_raise(response, expected=(200,))

    def transcribe(
        self,
        audio: str | os.PathLike[str] | bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        on_upload: UploadProgress | None = None,
        on_job: JobProgress | None = None,
        model: str | None = None,
        **parameters: float | bool | str,
    ) -> Result:
        """Run `model` (None: the service's default, basic-pitch unless the deployment says otherwise) on
        a file (path) or audio bytes with that model's parameters (see MODEL_PARAMETERS). The result is
        the model's kind: `Transcription` (notes), `SpeechSegments` (speech), else a plain `Result`."""
        deadline = time.monotonic() + self.timeout
        fields = _parameter_fields(model, parameters)
        source = _audio(audio, filename, content_type)
        if model is not None:
            fields = {"model": model, **fields}
        if _multipart_size(source, fields) <= self.sync_limit_bytes:
            try:
                return self._predict(source, fields, deadline, on_upload)
            except BadInputError as error:
                if error.code not in TOO_LONG_FOR_A_REQUEST:
                    raise
        return self._job(source, model, parameters, deadline, on_upload, on_job)

    # POST /predict -----------------------------------------------------------------------------------

    def _predict(
        self, source: _Audio, fields: dict[str, str], deadline: float, on_upload: UploadProgress | None
    ) -> Result:
        with source.open() as handle:

            def attempt() -> dict[str, Any]:
                handle.seek(0)
                encoder = _monitored({**fields, "file": (source.name, handle, source.content_type)}, on_upload)
                return {"data": encoder, "headers": {"Content-Type": encoder.content_type}}

            response = self._transport.request(
                "POST", f"{self.base_url}/predict", body=attempt, timeout=self._remaining(deadline)
            )
        answer = self._json_or_raise(response, expected=(200,))
        return result_for(
            answer["result"],
            via="predict",
            reference=str(answer.get("request_id", "")),
            midi_url=answer["downloads"].get("midi_url"),
            transport=self._transport,
            request_timeout=self.request_timeout,
        )

    # The jobs flow -----------------------------------------------------------------------------------

    def _job(
        self,
        source: _Audio,
        model: str | None,
        parameters: dict[str, float | bool | str],
        deadline: float,
        on_upload: UploadProgress | None,
        on_job: JobProgress | None,
    ) -> Result:
        request: dict[str, Any] = {
            "filename": source.name,
            "content_type": source.content_type,
            "size_bytes": source.size,
            "parameters": parameters,
        }
        if model is not None:
            request["model"] = model
        created = self._json_or_raise(
            self._transport.request(
                "POST",
                f"{self.base_url}/jobs",
                json=request,
                timeout=self._remaining(deadline),
            ),
            expected=(201,),
        )
        job_id = str(created["job_id"])
        self._upload(source, created["upload"], deadline, on_upload)
        status = self._wait(created["status_url"], job_id, deadline, on_job)
        outcome = status["result"]
        document = self._json_or_raise(
            self._transport.request("GET", outcome["json_url"], api=False, timeout=self._remaining(deadline)),
            expected=(200,),
        )
        return result_for(
            document,
            via="job",
            reference=job_id,
            midi_url=outcome.get("midi_url"),
            transport=self._transport,
            request_timeout=self.request_timeout,
        )

    def _upload(self, source: _Audio, form: dict[str, Any], deadline: float, on_upload: UploadProgress | None) -> None:
        """The presigned POST: every field it returned, then the file last (storage's rule)."""
        with source.open() as handle:

            def attempt() -> dict[str, Any]:
                handle.seek(0)
                encoder = _monitored(
                    [*form["fields"].items(), ("file", (source.name, handle, source.content_type))], on_upload
                )
                return {"data": encoder, "headers": {"Content-Type": encoder.content_type}}

            response = self._transport.request(
                "POST", form["url"], api=False, body=attempt, timeout=self._remaining(deadline)
            )
        if response.status_code not in (200, 201, 204):
            code, message = _storage_error(response)
            error = BadInputError if 400 <= response.status_code < 500 else ServiceError
            raise error(f"the upload was refused: {message}", code=code, status=response.status_code)

    def _wait(self, status_url: str, job_id: str, deadline: float, on_job: JobProgress | None) -> dict[str, Any]:
        """Poll the job's status until it is final, the interval growing 1.5x per poll up to its cap."""
        interval = self.poll_interval_s
        started = time.monotonic()
        while True:
            status = self._json_or_raise(
                self._transport.request("GET", status_url, timeout=self._remaining(deadline, job_id)),
                expected=(200,),
            )
            state = str(status["status"])
            if on_job is not None:
                on_job(state, time.monotonic() - started)
            if state == "succeeded":
                return status
            if state == "failed":
                error = status.get("error") or {}
                code = str(error.get("code", "job_failed"))
                message = str(error.get("message", "the job failed"))
                if code in AUDIO_FAULTS:
                    raise BadAudioJobError(message, code=code, job_id=job_id)
                raise JobFailedError(message, code=code, job_id=job_id)
            if time.monotonic() + interval > deadline:
                raise TranscriptionTimeout(
                    f"job {job_id} was still {state} after {self.timeout:.0f} s; its status: {status_url}",
                    code="job_timeout",
                )
            time.sleep(interval)
            interval = min(interval * 1.5, self.max_poll_interval_s)

    # Helpers -----------------------------------------------------------------------------------------

    def _remaining(self, deadline: float, job_id: str | None = None) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            what = f"job {job_id}" if job_id else "the transcription"
            raise TranscriptionTimeout(f"{what} did not finish within {self.timeout:.0f} s", code="timeout")
        return min(self.request_timeout, left)

    @staticmethod
    def _json_or_raise(response: requests.Response, *, expected: tuple[int, ...]) -> dict[str, Any]:
        if response.status_code in expected:
            try:
                body: dict[str, Any] = response.json()
            except ValueError:
                raise ServiceError(
                    "the service answered with something that is not JSON",
                    code="bad_answer",
                    status=response.status_code,
                ) from None
            return body
        raise _api_error(response)


def _api_error(response: requests.Response) -> AudioInferenceError:
    """The service's error shape, {"error": {"code", "message", "request_id"}}, as a typed error."""
    request_id = response.headers.get("X-Request-Id")
    code, message = f"http_{response.status_code}", response.reason or "request failed"
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
        request_id = error.get("request_id") or request_id
    except (ValueError, KeyError, TypeError):
        pass
    status = response.status_code
    kind = BadInputError if 400 <= status < 500 and status != 429 else ServiceError
    return kind(message, code=code, status=status, request_id=request_id)


def _storage_error(response: requests.Response) -> tuple[str, str]:
    """S3 answers in XML: <Error><Code>EntityTooLarge</Code><Message>...</Message></Error>."""
    try:
        root = ElementTree.fromstring(response.content)
        return root.findtext("Code") or f"http_{response.status_code}", root.findtext("Message") or response.reason
    except ElementTree.ParseError:
        return f"http_{response.status_code}", response.reason or "refused"


def _audio(audio: str | os.PathLike[str] | bytes, filename: str | None, content_type: str | None) -> _Audio:
    if isinstance(audio, bytes | bytearray):
        data = bytes(audio)
        if not data:
            raise BadInputError("the audio is empty", code="empty_audio")
        name = filename or "audio"
        return _Audio(name, content_type or _content_type(name, data[:16]), len(data), None, data)
    path = Path(audio)
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as error:
        raise BadInputError(f"cannot read {path}: {error.strerror}", code="unreadable_file") from None
    if size == 0:
        raise BadInputError(f"{path} is empty", code="empty_audio")
    name = filename or path.name
    return _Audio(name, content_type or _content_type(name, head), size, path, None)


def _content_type(name: str, head: bytes) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame
        return "audio/mpeg"
    return "application/octet-stream"


def _parameter_fields(model: str | None, parameters: dict[str, float | bool | str]) -> dict[str, str]:
    """The parameters as form fields, after checking here that `model` has them and their types (ranges
    are the service's to check). Without a model, each must be some known model's and all the same one's;
    a model this client does not know gets them unchecked."""
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise BadInputError(f"model must be a model's name, got {model!r}", code="invalid_parameter")
    kinds = _parameter_kinds(model, parameters)
    fields = {}
    for name, value in parameters.items():
        kind = kinds.get(name)
        if kind is None:  # a model this client does not know: the service checks
            fields[name] = _form_value(name, value)
            continue
        if kind is bool and not isinstance(value, bool):
            raise BadInputError(f"{name} must be true or false, got {value!r}", code="invalid_parameter")
        if kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise BadInputError(f"{name} must be a number, got {value!r}", code="invalid_parameter")
        if kind is str:
            if value not in PRECISIONS:
                raise BadInputError(
                    f"{name} must be one of {', '.join(PRECISIONS)}, got {value!r}", code="invalid_parameter"
                )
            fields[name] = str(value)
            continue
        fields[name] = ("true" if value else "false") if isinstance(value, bool) else repr(float(value))
    return fields


def _parameter_kinds(model: str | None, parameters: dict[str, float | bool | str]) -> dict[str, type]:
    """The types of the parameters `model` takes ({} for a model this client does not know)."""
    if model is not None:
        if model not in MODEL_PARAMETERS:
            return {}
        kinds = MODEL_PARAMETERS[model]
        for name in parameters:
            if name not in kinds:
                owner = next((other for other, names in MODEL_PARAMETERS.items() if name in names), None)
                elsewhere = f" ({owner}'s parameter)" if owner else ""
                raise BadInputError(
                    f"unknown parameter {name!r} for model {model}{elsewhere}; allowed: {', '.join(kinds)}",
                    code="invalid_parameter",
                )
        return kinds
    owners = {}
    for name in parameters:
        owner = next((other for other, names in MODEL_PARAMETERS.items() if name in names), None)
        if owner is None:
            allowed = "; ".join(f"{other}: {', '.join(names)}" for other, names in MODEL_PARAMETERS.items())
            raise BadInputError(f"unknown parameter {name!r}; allowed: {allowed}", code="invalid_parameter")
        owners[name] = owner
    if len(set(owners.values())) > 1:
        mixed = ", ".join(f"{name} ({owner})" for name, owner in owners.items())
        raise BadInputError(
            f"parameters of different models: {mixed}; name the model and send only its parameters",
            code="invalid_parameter",
        )
    return {name: MODEL_PARAMETERS[owner][name] for name, owner in owners.items()}


def _form_value(name: str, value: object) -> str:
    """A parameter of a model this client does not know, as the service reads a form field."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value) if not isinstance(value, float) else repr(value)
    raise BadInputError(f"{name} must be a number, true/false or a string, got {value!r}", code="invalid_parameter")


def _multipart_size(source: _Audio, fields: dict[str, str]) -> int:
    """The exact size of the /predict body (the encoder counts it without reading the file)."""
    with source.open() as handle:
        return int(MultipartEncoder({**fields, "file": (source.name, handle, source.content_type)}).len)


def _monitored(fields: Any, on_upload: UploadProgress | None) -> MultipartEncoderMonitor:
    encoder = MultipartEncoder(fields)
    if on_upload is None:
        return MultipartEncoderMonitor(encoder)
    total = int(encoder.len)
    return MultipartEncoderMonitor(encoder, lambda monitor: on_upload(int(monitor.bytes_read), total))
