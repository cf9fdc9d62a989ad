"""`Client.transcribe`: one call for any length of audio.

What fits a request (`SYNC_LIMIT_BYTES` of body, the service's `audio.max_upload_bytes`) goes to
`POST /predict`; anything larger, or audio the service finds too long for a request, goes through
the jobs flow: `POST /jobs`, the file uploaded straight to storage with the presigned form, the job's
status polled with growing intervals, the result downloaded. The whole call is bounded by `timeout`:
retries, `Retry-After` waits, uploads and slow answers included (transport.py).

Every answer is read against the API's contract before anything is done with it: a field missing or
mistyped, a body that is not a JSON object, a URL the client will not use (urls.py) is a ProtocolError
showing the answer's first bytes. A job's `status_url` and upload form are checked before the upload.
"""

from __future__ import annotations

import io
import os
import re
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor

from audio_inference_client import shapes
from audio_inference_client.errors import (
    AudioInferenceError,
    BadAudioJobError,
    BadInputError,
    JobFailedError,
    ProtocolError,
    ServiceError,
    TranscriptionTimeout,
    printable,
)
from audio_inference_client.result import Result, result_for
from audio_inference_client.transport import ERROR_LIMIT_BYTES, Answer, Deadline, Transport
from audio_inference_client.urls import UnsafeUrl, checked, storage_link

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
PENDING = re.compile(r"^[a-z][a-z_]{0,31}$")
"""A job status that is not final (awaiting_upload, queued, running, or one a newer service adds)."""
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")

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

    `timeout` bounds each whole call (`transcribe`: requests, retries, upload, waiting for a job, the
    result; `health`; a result's `save_midi`); `request_timeout` how long any one read or connect may
    wait. 429, 502, 503 and 504 are retried up to `max_retries` times with backoff and jitter, a
    `Retry-After` honoured up to 30 s and only where it ends before the deadline.
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
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise BadInputError(
                f"the API URL must start with http:// or https://, got {printable(repr(base_url), 200)}",
                code="bad_url",
            )
        try:
            api = checked(base_url)
        except UnsafeUrl as unsafe:
            raise BadInputError(f"the API URL is {unsafe}", code="bad_url") from None
        if api_key and api.scheme != "https" and not api.loopback:
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
            api_url=self.base_url,
            api_key=api_key or None,
            max_retries=max_retries,
            backoff_s=backoff_s,
            request_timeout=request_timeout,
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
        deadline = Deadline.after(self.timeout)
        answer = self._transport.request("GET", f"{self.base_url}/health", deadline=deadline, what="GET /health")
        return _json_object(answer, expected=(200,), what="GET /health")

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
        deadline = Deadline.after(self.timeout)
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
        self, source: _Audio, fields: dict[str, str], deadline: Deadline, on_upload: UploadProgress | None
    ) -> Result:
        with source.open() as handle:

            def attempt() -> dict[str, Any]:
                handle.seek(0)
                encoder = _monitored({**fields, "file": (source.name, handle, source.content_type)}, on_upload)
                return {"data": encoder, "headers": {"Content-Type": encoder.content_type}}

            answer = self._transport.request(
                "POST", f"{self.base_url}/predict", body=attempt, deadline=deadline, what="the transcription"
            )
        body = _json_object(answer, expected=(200,), what="POST /predict")
        try:
            downloads = shapes.obj(body, "downloads", "answer")
            midi_url = _link(downloads, "midi_url", "answer.downloads")
            json_url = _link(downloads, "json_url", "answer.downloads")
            reference = shapes.optional_text(body, "request_id", "answer") or ""
            # An answer over Lambda's 6 MB carries the stored result's links in place of the result.
            in_downloads = "result" not in body and isinstance(body.get("result_in_downloads"), dict)
            document = None if in_downloads else shapes.obj(body, "result", "answer")
            if in_downloads and json_url is None:
                raise shapes.OffContract("answer.downloads.json_url is missing")
        except shapes.OffContract as problem:
            raise _off_contract("POST /predict", problem, answer) from None
        if document is None:
            assert json_url is not None
            stored = self._transport.request("GET", json_url, api=False, deadline=deadline, what="the result download")
            document = _json_object(stored, expected=(200,), what="the stored result")
            answer = stored
        return result_for(
            document,
            answer=answer.body,
            via="predict",
            reference=printable(reference, 200),
            midi_url=midi_url,
            transport=self._transport,
            request_timeout=self.request_timeout,
            timeout=self.timeout,
        )

    # The jobs flow -----------------------------------------------------------------------------------

    def _job(
        self,
        source: _Audio,
        model: str | None,
        parameters: dict[str, float | bool | str],
        deadline: Deadline,
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
        answer = self._transport.request(
            "POST", f"{self.base_url}/jobs", json=request, deadline=deadline, what="POST /jobs"
        )
        job = self._checked_job(answer)
        self._upload(source, job, deadline, on_upload)
        status, answer = self._wait(job, deadline, on_job)
        try:
            outcome = shapes.obj(status, "result", "status")
            json_url = _link(outcome, "json_url", "status.result")
            midi_url = _link(outcome, "midi_url", "status.result")
            if json_url is None:
                raise shapes.OffContract("status.result.json_url is missing")
        except shapes.OffContract as problem:
            raise _off_contract(f"job {job.job_id}'s status", problem, answer) from None
        stored = self._transport.request("GET", json_url, api=False, deadline=deadline, what="the result download")
        document = _json_object(stored, expected=(200,), what="the stored result")
        return result_for(
            document,
            answer=stored.body,
            via="job",
            reference=job.job_id,
            midi_url=midi_url,
            transport=self._transport,
            request_timeout=self.request_timeout,
            timeout=self.timeout,
        )

    def _checked_job(self, answer: Answer) -> _Job:
        """POST /jobs's answer, every URL in it checked before anything is sent there: the status URL on
        the API's own origin (it gets the key), the upload form's URL a storage link."""
        created = _json_object(answer, expected=(201,), what="POST /jobs")
        try:
            job_id = shapes.text(created, "job_id", "answer")
            if not JOB_ID.match(job_id):
                raise shapes.OffContract(f"answer.job_id: not a job id: {printable(job_id, 60)}")
            upload = shapes.obj(created, "upload", "answer")
            upload_url = shapes.text(upload, "url", "answer.upload")
            fields = shapes.obj(upload, "fields", "answer.upload")
            form = [(name, shapes.text(fields, name, "answer.upload.fields")) for name in fields]
            status_url = shapes.text(created, "status_url", "answer")
        except shapes.OffContract as problem:
            raise _off_contract("POST /jobs", problem, answer) from None
        if status_url.startswith("/") and not status_url.startswith("//"):  # relative to the API's origin
            status_url = f"{self._transport.api_origin}{status_url}"
        self._transport.check_api_url(status_url, "the job's status URL")
        self._transport.check_storage_url(upload_url, "the job's upload form")
        return _Job(job_id, status_url, upload_url, form)

    def _upload(self, source: _Audio, job: _Job, deadline: Deadline, on_upload: UploadProgress | None) -> None:
        """The presigned POST: every field it returned, then the file last (storage's rule)."""
        with source.open() as handle:

            def attempt() -> dict[str, Any]:
                handle.seek(0)
                encoder = _monitored([*job.form, ("file", (source.name, handle, source.content_type))], on_upload)
                return {"data": encoder, "headers": {"Content-Type": encoder.content_type}}

            answer = self._transport.request(
                "POST", job.upload_url, api=False, body=attempt, deadline=deadline, what="the upload"
            )
        if answer.status not in (200, 201, 204):
            code, message = _storage_error(answer)
            error = BadInputError if 400 <= answer.status < 500 else ServiceError
            raise error(f"the upload was refused: {message}", code=code, status=answer.status)

    def _wait(self, job: _Job, deadline: Deadline, on_job: JobProgress | None) -> tuple[dict[str, Any], Answer]:
        """Poll the job's status until it is final, the interval growing 1.5x per poll up to its cap."""
        interval = self.poll_interval_s
        started = time.monotonic()
        what = f"job {job.job_id}"
        while True:
            answer = self._transport.request("GET", job.status_url, deadline=deadline, what=what)
            status = _json_object(answer, expected=(200,), what=f"{what}'s status")
            try:
                state = shapes.text(status, "status", "status")
                if not PENDING.match(state):
                    raise shapes.OffContract(f"status.status: not a job status: {printable(state, 60)}")
                failure: tuple[str | None, str | None] = (None, None)
                if state in ("failed", "expired") and status.get("error") is not None:
                    error = shapes.obj(status, "error", "status")
                    failure = (
                        shapes.optional_text(error, "code", "status.error"),
                        shapes.optional_text(error, "message", "status.error"),
                    )
            except shapes.OffContract as problem:
                raise _off_contract(f"{what}'s status", problem, answer) from None
            if on_job is not None:
                on_job(state, time.monotonic() - started)
            if state == "succeeded":
                return status, answer
            if state in ("failed", "expired"):
                code = printable(failure[0] or f"job_{state}", 100)
                reason = "the job's upload form expired before its upload arrived" if state == "expired" else ""
                message = printable(failure[1] or reason or "the job failed")
                if code in AUDIO_FAULTS:
                    raise BadAudioJobError(message, code=code, job_id=job.job_id)
                raise JobFailedError(message, code=code, job_id=job.job_id)
            if interval >= deadline.left():
                raise TranscriptionTimeout(
                    f"job {job.job_id} was still {state} after {self.timeout:g} s; its status: {job.status_url}",
                    code="job_timeout",
                )
            time.sleep(interval)
            interval = min(interval * 1.5, self.max_poll_interval_s)


@dataclass(frozen=True)
class _Job:
    """A job as POST /jobs answered it, its URLs checked."""

    job_id: str
    status_url: str
    upload_url: str
    form: list[tuple[str, str]]


def _link(parent: dict[str, Any], key: str, path: str) -> str | None:
    """A storage link an answer names (None where absent, null or empty): https, or http on loopback."""
    value = parent.get(key)
    if value is None or value == "":
        return None
    link = shapes.text(parent, key, path)
    try:
        storage_link(link)
    except UnsafeUrl as unsafe:
        raise shapes.OffContract(f"{path}.{key}: {unsafe}") from None
    return link


def _off_contract(what: str, problem: shapes.OffContract, answer: Answer) -> ProtocolError:
    return ProtocolError(f"{what} answered off the API's contract: {problem}", answer=answer.body, status=answer.status)


def _json_object(answer: Answer, *, expected: tuple[int, ...], what: str) -> dict[str, Any]:
    """The answer's JSON object if its status is one of `expected`; else the service's error, typed."""
    if answer.status not in expected and answer.status < 400:
        raise ProtocolError(
            f"{what} answered HTTP {answer.status}, not {' or '.join(map(str, expected))}",
            answer=answer.body,
            code="unexpected_status",
            status=answer.status,
        )
    if answer.status not in expected:
        raise _api_error(answer)
    try:
        return shapes.is_object(shapes.parse(answer.body), "answer")
    except shapes.OffContract as problem:
        raise ProtocolError(
            f"{what} answered HTTP {answer.status} with {problem}"
            if str(problem).startswith("not JSON")
            else f"{what} answered HTTP {answer.status} with something other than a JSON object",
            answer=answer.body,
            code="bad_answer",
            status=answer.status,
        ) from None


def _api_error(answer: Answer) -> AudioInferenceError:
    """The service's error shape, {"error": {"code", "message", "request_id"}}, as a typed error; what
    the server said made printable and capped."""
    request_id = answer.headers.get("X-Request-Id")
    code, message = f"http_{answer.status}", answer.reason or "request failed"
    if answer.truncated:
        message = f"{message} (an error answer over {ERROR_LIMIT_BYTES} bytes, not read further)"
    else:
        try:
            error = shapes.obj(shapes.is_object(shapes.parse(answer.body), "answer"), "error", "answer")
            code, message = shapes.text(error, "code", "error"), shapes.text(error, "message", "error")
            request_id = shapes.optional_text(error, "request_id", "error") or request_id
        except shapes.OffContract:
            pass
    status = answer.status
    kind = BadInputError if 400 <= status < 500 and status != 429 else ServiceError
    return kind(
        printable(message),
        code=printable(code, 100),
        status=status,
        request_id=printable(request_id, 100) if request_id else None,
    )


def _storage_error(answer: Answer) -> tuple[str, str]:
    """S3 answers in XML: <Error><Code>EntityTooLarge</Code><Message>...</Message></Error>."""
    code, message = f"http_{answer.status}", answer.reason or "refused"
    if not answer.truncated:
        try:
            root = ElementTree.fromstring(answer.body)
            code, message = root.findtext("Code") or code, root.findtext("Message") or message
        except ElementTree.ParseError:
            pass
    return printable(code, 100), printable(message)


def _audio(audio: str | os.PathLike[str] | bytes, filename: str | None, content_type: str | None) -> _Audio:
    if isinstance(audio, bytes | bytearray):
        data = bytes(audio)
        if not data:
            raise BadInputError("the audio is empty", code="empty_audio")
        name = filename or "audio"
        return _Audio(name, content_type or _content_type(name, data[:16]), len(data), None, data)
    path = Path(audio)
    if path.exists() and not path.is_file():  # a pipe or a device (`/dev/stdin`) states no size
        raise BadInputError(
            f"{path} is not a regular file (a pipe or a device): save the audio to a file first",
            code="unreadable_file",
        )
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
