"""What both routes that take audio accept from a client: a model, its parameters, a file name.

POST /predict (form fields, query) and POST /jobs (a JSON object) validate the same parameters the
same way, so a job never fails later for something /predict would have refused at once. Which
parameters exist, their types and ranges are the chosen model's (its spec in the registry): a Basic
Pitch parameter sent to another model is refused, and the reverse.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from contract.validation import ConfigError, shown
from inference.config import coerce
from inference.models.registry import get_spec
from service.http import errors

MODEL_FIELD = "model"
"""The form field, query parameter or job field that names the model (default: model.name)."""
RAW_AUDIO_TYPES = ("application/octet-stream",)
"""Besides audio/*: the body is audio whose format the server finds out itself."""
_FILENAME_MAX = 200


def model_and_parameters(models: Mapping[str, Any], supplied: Mapping[str, Sequence[str]]) -> tuple[str, Any]:
    """The model a request names among `models` (served name -> its loaded Transcriber, the default
    first) and its validated parameters, from the request's fields."""
    fields = dict(supplied)
    named = fields.pop(MODEL_FIELD, None)
    if named is not None and len(named) != 1:
        raise errors.invalid_parameter(f"parameter {MODEL_FIELD!r} is given {len(named)} times: give it once")
    model = choose_model(named[0] if named else None, list(models))
    return model, client_parameters(model, models[model].defaults, fields)


def choose_model(requested: str | None, served: Sequence[str]) -> str:
    """The model a request names (or the first served, the default), refused unless this deployment
    serves it."""
    if requested is None:
        return served[0]
    if requested not in served:
        raise errors.invalid_parameter(f"model={requested[:64]!r} is not served here: allowed {', '.join(served)}")
    return requested


def client_parameters(model: str, defaults: Any, supplied: Mapping[str, Sequence[str]]) -> Any:
    """`model`'s defaults with the client's values, each coerced to its type and checked against its
    range; a parameter the model does not have is refused with the ones it does."""
    spec = get_spec(model)
    allowed = spec.client_parameters
    types = spec.parameter_types()
    changes: dict[str, object] = {}
    for name, values in supplied.items():
        if name not in allowed:
            raise errors.invalid_parameter(
                f"unknown parameter {name[:64]!r} for model {model}: allowed {', '.join(allowed)}"
            )
        if len(values) != 1:
            raise errors.invalid_parameter(f"parameter {name!r} is given {len(values)} times: give it once")
        try:
            changes[name] = coerce(name, values[0], types[name])
        except ConfigError as exc:
            raise errors.invalid_parameter(str(exc)) from None
    try:
        return dataclasses.replace(defaults, **{k: v for k, v in changes.items() if v is not None})
    except ConfigError as exc:
        field = exc.field.rsplit(".", 1)[-1]
        raise errors.invalid_parameter(f"{field}={shown(exc.value)} is invalid: allowed {exc.allowed}") from None


def sanitize_filename(raw: str | None) -> str | None:
    """The client's file name as safe metadata: last path component (RFC 7578 asks receivers to drop
    any path), no control characters, non-ASCII percent-encoded (S3 metadata is ASCII), at most 200
    characters, no leading or trailing dots; None when nothing is left. /predict keeps it as metadata
    only; a job's upload key ends with it, one component inside the job's own folder
    (`uploads/jobs/<job id>/<name>`), so it can name no other object."""
    if not raw:
        return None
    name = re.split(r"[\\/]", raw)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".")
    if not name:
        return None
    encoded, length = [], 0
    for ch in name:  # cut on a character, never inside one's %XX escapes
        piece = urllib.parse.quote(ch, safe=" ._-()[]+,")
        if length + len(piece) > _FILENAME_MAX:
            break
        encoded.append(piece)
        length += len(piece)
    return "".join(encoded) or None
