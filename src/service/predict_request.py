"""Turn a POST /predict request into audio bytes and validated parameters, before any work.

Two forms: `multipart/form-data` with one `file` part and optional parameter
fields, or the audio itself as the body (`audio/*`, `application/octet-stream`);
parameters may also come in the query string, each at most once. Multipart bodies are parsed by
python-multipart. Everything a client can get wrong is refused here with its
4xx, so a refused request never reaches storage.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File, FormParser, parse_options_header

from inference.config import SERVER_SETTINGS, InferenceParameters, coerce
from inference.errors import ConfigError
from service import errors

# What a client may set: the CLI's parameters. Batch size, runtime and threads are the server's resources.
CLIENT_PARAMETERS = tuple(f.name for f in dataclasses.fields(InferenceParameters) if f.name not in SERVER_SETTINGS)
_PARAMETER_TYPES = {f.name: f.type for f in dataclasses.fields(InferenceParameters)}
RAW_AUDIO_TYPES = ("application/octet-stream",)
MIDI_TYPES = ("audio/midi", "audio/x-midi")
_FILENAME_MAX = 200


@dataclass(frozen=True, kw_only=True)
class PredictRequest:
    audio: bytes
    content_type: str
    """The audio's own media type as the client declared it (application/octet-stream when unknown)."""
    filename: str | None
    """The client's file name, sanitized to printable ASCII: metadata only, never a key."""
    parameters: InferenceParameters
    wants_midi: bool
    """The client asked for the MIDI file itself (Accept: audio/midi)."""


def parse_predict_request(
    *,
    headers: Mapping[str, str],
    query: Mapping[str, Sequence[str]],
    body: bytes,
    defaults: InferenceParameters,
    max_upload_bytes: int,
    long_audio_hint: str,
) -> PredictRequest:
    """Validate content type, size and parameters; `headers` keys are lower-case."""
    raw_type = headers.get("content-type", "")
    media_type, options = _media_type(raw_type)
    if not media_type:
        raise errors.unsupported_media_type(_FORMS_HINT)
    if len(body) > max_upload_bytes:
        raise errors.payload_too_large(
            f"the request body has {len(body):,} bytes; a synchronous request may carry at most "
            f"{max_upload_bytes:,}: {long_audio_hint}"
        )
    wants_midi = _wants_midi(headers.get("accept", ""))
    if media_type == "multipart/form-data":
        boundary = options.get("boundary", "")
        if not boundary:
            raise errors.bad_request("the multipart/form-data content type has no boundary")
        form = _parse_multipart(body, raw_type, boundary)
        supplied = {name: [*query.get(name, []), *form.fields.get(name, [])] for name in {*query, *form.fields}}
        parameters = client_parameters(defaults, supplied)
        return PredictRequest(
            audio=form.file,
            content_type=form.file_type,
            filename=form.filename,
            parameters=parameters,
            wants_midi=wants_midi,
        )
    if media_type.startswith("audio/") or media_type in RAW_AUDIO_TYPES:
        if not body:
            raise errors.ApiError(422, "empty_audio", "no audio bytes were sent")
        return PredictRequest(
            audio=body,
            content_type=media_type,
            filename=None,
            parameters=client_parameters(defaults, query),
            wants_midi=wants_midi,
        )
    raise errors.unsupported_media_type(f"{media_type} is not accepted: {_FORMS_HINT}")


_FORMS_HINT = (
    "send multipart/form-data with a 'file' part (parameters as fields), "
    "or the audio itself with an audio/* content type (parameters in the query string)"
)


@dataclass
class _Form:
    file: bytes
    file_type: str
    filename: str | None
    fields: dict[str, list[str]]


def _parse_multipart(body: bytes, content_type: str, boundary: str) -> _Form:
    files: list[tuple[str, bytes, str, str | None]] = []
    fields: dict[str, list[str]] = {}

    def on_field(field: Field) -> None:
        name = (field.field_name or b"").decode("utf-8", "replace")
        try:
            value = (field.value or b"").decode("utf-8")
        except UnicodeDecodeError:
            raise errors.bad_request(f"form field {name!r} is not UTF-8 text") from None
        fields.setdefault(name, []).append(value)

    def on_file(file: File) -> None:
        name = (file.field_name or b"").decode("utf-8", "replace")
        handle = file.file_object
        handle.seek(0)
        raw_name = file.file_name.decode("utf-8", "replace") if file.file_name else None
        if raw_name is not None and any(unicodedata.category(ch) == "Cc" for ch in raw_name):
            raise errors.bad_request("the file name contains control characters (such as NUL): send a plain name")
        files.append((name, handle.read(), _part_type(file), raw_name))
        file.close()

    parser = FormParser(
        "multipart/form-data",
        on_field,
        on_file,
        boundary=boundary.encode("latin-1", "replace"),
        config={"MAX_MEMORY_FILE_SIZE": len(body) + 1, "UPLOAD_KEEP_FILENAME": False},
    )
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise errors.bad_request(f"the multipart body is malformed ({exc})") from None
    if not _ends_with_closing_boundary(body, boundary):
        raise errors.bad_request("the multipart body is malformed (it ends before its closing boundary)")

    # A `file` field sent without a file name (curl -F 'file=<song.wav') is still the file.
    for text in fields.pop("file", []):
        files.append(("file", text.encode("utf-8"), "application/octet-stream", None))
    audio_parts = [f for f in files if f[0] == "file"]
    others = sorted({f[0] for f in files if f[0] != "file"})
    if others:
        raise errors.bad_request(f"unexpected file part(s) {others}: send the audio as the one 'file' part")
    if not audio_parts:
        raise errors.bad_request("the form has no 'file' part: send the audio as -F file=@song.wav")
    if len(audio_parts) > 1:
        raise errors.bad_request(f"the form has {len(audio_parts)} 'file' parts: send exactly one")
    _, data, part_type, raw_name = audio_parts[0]
    if not data:
        raise errors.ApiError(422, "empty_audio", "the 'file' part is empty (0 bytes)")
    return _Form(file=data, file_type=part_type, filename=sanitize_filename(raw_name), fields=fields)


def _ends_with_closing_boundary(body: bytes, boundary: str) -> bool:
    """python-multipart accepts a body cut off mid-part; a complete one ends with --boundary--."""
    return body.rstrip(b"\r\n").endswith(b"--" + boundary.encode("latin-1", "replace") + b"--")


def _part_type(file: File) -> str:
    declared = getattr(file, "content_type", None)
    text = declared.decode("latin-1") if isinstance(declared, bytes) else (declared or "")
    media_type, _ = _media_type(text)
    return media_type or "application/octet-stream"


def client_parameters(defaults: InferenceParameters, supplied: Mapping[str, Sequence[str]]) -> InferenceParameters:
    """The defaults with the client's values, each coerced to its type and checked against its range."""
    changes: dict[str, object] = {}
    for name, values in supplied.items():
        if name not in CLIENT_PARAMETERS:
            raise errors.invalid_parameter(f"unknown parameter {name!r}: allowed {', '.join(CLIENT_PARAMETERS)}")
        if len(values) != 1:
            raise errors.invalid_parameter(f"parameter {name!r} is given {len(values)} times: give it once")
        try:
            changes[name] = coerce(name, values[0], _PARAMETER_TYPES[name])
        except ConfigError as exc:
            raise errors.invalid_parameter(str(exc)) from None
    try:
        return defaults.with_overrides(**changes)
    except ConfigError as exc:
        field = exc.field.removeprefix("inference.")
        raise errors.invalid_parameter(f"{field}={exc.value!r} is invalid: allowed {exc.allowed}") from None


def _media_type(header: str) -> tuple[str, dict[str, str]]:
    value, options = parse_options_header(header)
    media_type = value.decode("latin-1").strip().lower()
    return media_type, {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in options.items()}


def _wants_midi(accept: str) -> bool:
    """True when the client prefers MIDI over JSON (q-values honoured, first listed wins a tie)."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept.split(",")):
        media_type, options = _media_type(item)
        try:
            quality = float(options.get("q", "1"))
        except ValueError:
            quality = 0.0
        if media_type and quality > 0:
            ranked.append((-quality, position, media_type))
    for _, _, media_type in sorted(ranked):
        if media_type in MIDI_TYPES:
            return True
        if media_type in ("application/json", "application/*", "*/*"):
            return False
    return False


def sanitize_filename(raw: str | None) -> str | None:
    """The client's file name as safe metadata: last path component (RFC 7578 asks receivers to drop
    any path), no control characters, non-ASCII percent-encoded (S3 metadata is ASCII), at most 200
    characters; None when nothing is left. It never becomes part of a key."""
    if not raw:
        return None
    name = re.split(r"[\\/]", raw)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".")
    if not name:
        return None
    return urllib.parse.quote(name, safe=" ._-()[]+,")[:_FILENAME_MAX]
