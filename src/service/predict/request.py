"""Turn a POST /predict request into audio bytes and validated parameters, before any work.

Two forms: `multipart/form-data` with one `file` part and optional parameter
fields, or the audio itself as the body (`audio/*`, `application/octet-stream`);
parameters may also come in the query string, each at most once. Multipart bodies are parsed by
python-multipart. Everything a client can get wrong is refused here with its
4xx, so a refused request never reaches storage.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File, FormParser, parse_options_header

from contract.validation import shown
from inference.models.registry import get_spec
from service.http import errors
from service.http.parameters import RAW_AUDIO_TYPES, model_and_parameters, sanitize_filename

MIDI_TYPES = ("audio/midi", "audio/x-midi")

# python-multipart logs what it skips ("Expected boundary character ...") as plain text through the
# last-resort handler; a malformed body is refused with its 400 and logged as such by the resolver.
_MULTIPART_LOG = logging.getLogger("python_multipart")
_MULTIPART_LOG.addHandler(logging.NullHandler())
_MULTIPART_LOG.propagate = False


@dataclass(frozen=True, kw_only=True)
class PredictRequest:
    audio: bytes
    content_type: str
    """The audio's own media type as the client declared it (application/octet-stream when unknown)."""
    filename: str | None
    """The client's file name, sanitized to printable ASCII: metadata only, never a key."""
    model: str
    """The served model the request chose (form field, query parameter `model`; default model.name)."""
    parameters: Any
    """That model's parameters (its spec's dataclass), validated."""
    wants_midi: bool
    """The client asked for the MIDI file itself (Accept: audio/midi)."""


def parse_predict_request(
    *,
    headers: Mapping[str, str],
    query: Mapping[str, Sequence[str]],
    body: bytes,
    models: Mapping[str, Any],
    max_upload_bytes: int,
    long_audio_hint: str,
) -> PredictRequest:
    """Validate content type, size, the model and its parameters; `headers` keys are lower-case.
    `models` maps each served model's name to its loaded Transcriber, the default first."""
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
        if not _BOUNDARY.match(boundary):
            raise errors.bad_request(
                f"the multipart boundary {shown(boundary, 40)} is invalid: allowed 1-70 characters of letters, "
                "digits and '()+_,-./:=? (RFC 2046), not ending with a space"
            )
        form = _parse_multipart(body, raw_type, boundary)
        supplied = {name: [*query.get(name, []), *form.fields.get(name, [])] for name in {*query, *form.fields}}
        model, parameters = model_and_parameters(models, supplied)
        return PredictRequest(
            audio=form.file,
            content_type=form.file_type,
            filename=form.filename,
            model=model,
            parameters=parameters,
            wants_midi=_midi_possible(model, wants_midi),
        )
    if media_type.startswith("audio/") or media_type in RAW_AUDIO_TYPES:
        if not body:
            raise errors.ApiError(422, "empty_audio", "no audio bytes were sent")
        model, parameters = model_and_parameters(models, query)
        return PredictRequest(
            audio=body,
            content_type=media_type,
            filename=None,
            model=model,
            parameters=parameters,
            wants_midi=_midi_possible(model, wants_midi),
        )
    raise errors.unsupported_media_type(f"{media_type} is not accepted: {_FORMS_HINT}")


_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")
"""RFC 2046's bchars, 1-70 of them; python-multipart's parser refuses more than 256 in its constructor."""


_FORMS_HINT = (
    "send multipart/form-data with a 'file' part (parameters as fields), "
    "or the audio itself with an audio/* content type (parameters in the query string)"
)


def _without_preamble(body: bytes, boundary: str) -> bytes:
    """The body from its first delimiter line on: RFC 2046 lets text precede it (a preamble, which
    receivers ignore), and the parser expects the delimiter first."""
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    if body.startswith(delimiter):
        return body
    found = body.find(b"\r\n" + delimiter)
    if found < 0:
        raise errors.bad_request(f"the multipart body is malformed (no line starts with its boundary, --{boundary})")
    return body[found + 2 :]


@dataclass
class _Form:
    file: bytes
    file_type: str
    filename: str | None
    fields: dict[str, list[str]]


def _parse_multipart(body: bytes, content_type: str, boundary: str) -> _Form:
    files: list[tuple[str, bytes, str, str | None]] = []
    fields: dict[str, list[str]] = {}
    nameless_files: list[bytes] = []

    def on_field(field: Field) -> None:
        name = (field.field_name or b"").decode("utf-8", "replace")
        if name == "file":  # the audio, sent without `filename=` (curl -F 'file=<x', or `filename*=` alone)
            nameless_files.append(field.value or b"")
            return
        try:
            value = (field.value or b"").decode("utf-8")
        except UnicodeDecodeError:
            raise errors.bad_request(f"form field {shown(name)} is not UTF-8 text") from None
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

    body = _without_preamble(body, boundary)
    try:  # the constructor checks the boundary too: it belongs inside
        parser = FormParser(
            "multipart/form-data",
            on_field,
            on_file,
            boundary=boundary.encode("latin-1", "replace"),
            config={"MAX_MEMORY_FILE_SIZE": len(body) + 1, "UPLOAD_KEEP_FILENAME": False},
        )
        parser.write(body)
        parser.finalize()
    except (FormParserError, ValueError) as exc:
        raise errors.bad_request(f"the multipart body is malformed ({exc})") from None
    if not _ends_with_closing_boundary(body, boundary):
        raise errors.bad_request("the multipart body is malformed (it ends before its closing boundary)")

    # A `file` field sent without a plain file name (curl -F 'file=<song.wav', or RFC 5987's `filename*=`
    # alone, which the form parser does not read as a file) is still the file: its bytes, as they came.
    for data in nameless_files:
        files.append(("file", data, "application/octet-stream", None))
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
    """python-multipart accepts a body cut off mid-part; a complete one has its closing delimiter line,
    --boundary--, followed by nothing, or by a line break and an epilogue (RFC 2046: ignored)."""
    closing = b"\r\n--" + boundary.encode("latin-1", "replace") + b"--"
    at = body.rfind(closing)
    rest = body[at + len(closing) :] if at >= 0 else None
    return rest is not None and (rest.strip(b" \t\r\n") == b"" or rest.lstrip(b" \t").startswith(b"\r\n"))


def _part_type(file: File) -> str:
    declared = getattr(file, "content_type", None)
    text = declared.decode("latin-1") if isinstance(declared, bytes) else (declared or "")
    media_type, _ = _media_type(text)
    return media_type or "application/octet-stream"


def _media_type(header: str) -> tuple[str, dict[str, str]]:
    value, options = parse_options_header(header)
    media_type = value.decode("latin-1").strip().lower()
    return media_type, {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in options.items()}


def _midi_possible(model: str, wants_midi: bool) -> bool:
    """A MIDI answer only from a model that has notes: asking another one for it is a 406."""
    spec = get_spec(model)
    if wants_midi and not spec.produces_midi:
        raise errors.not_acceptable(
            f"model {model} answers {', '.join(spec.result_types)}, not audio/midi: ask for application/json"
        )
    return wants_midi


def _wants_midi(accept: str) -> bool:
    """True when the Accept header's first type is MIDI (and not refused with q=0).

    API Gateway turns a base64 body back into bytes only when the first type the client lists is a
    binary media type; answering MIDI to a client that listed JSON first, whatever its q-values,
    would send it base64 text labelled audio/midi. So the first type decides, as the gateway does.
    """
    first = accept.split(",", 1)[0]
    media_type, options = _media_type(first)
    if media_type not in MIDI_TYPES:
        return False
    try:
        return float(options.get("q", "1")) > 0
    except ValueError:
        return False
