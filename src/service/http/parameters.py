"""What both routes that take audio accept from a client: parameters, a file name, raw audio types.

POST /predict (form fields, query) and POST /jobs (a JSON object) validate the same parameters the
same way, so a job never fails later for something /predict would have refused at once.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
import urllib.parse
from collections.abc import Mapping, Sequence

from contract.validation import ConfigError
from inference.config import SERVER_SETTINGS, InferenceParameters, coerce
from service.http import errors

# What a client may set: the CLI's parameters. Batch size, runtime and threads are the server's resources.
CLIENT_PARAMETERS = tuple(f.name for f in dataclasses.fields(InferenceParameters) if f.name not in SERVER_SETTINGS)
_PARAMETER_TYPES = {f.name: f.type for f in dataclasses.fields(InferenceParameters)}
RAW_AUDIO_TYPES = ("application/octet-stream",)
"""Besides audio/*: the body is audio whose format the server finds out itself."""
_FILENAME_MAX = 200


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
