"""Reading the service's JSON answers strictly: each field the client uses is there and of its type,
or `OffContract` names the field (`result.notes[3].start_s: a number, got 'x'`). The caller turns it
into a ProtocolError showing the answer's first bytes."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, NoReturn

from audio_inference_client.errors import printable


class OffContract(ValueError):
    """A field missing or of the wrong type; the message names it by its path in the answer."""


def parse(raw: bytes) -> Any:
    """JSON, NaN and Infinity refused (JSON has neither); OffContract if it is not JSON."""
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise OffContract(f"not JSON ({printable(str(error), 120)})") from None


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def is_object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _wrong(path, "an object", value)
    return value


def obj(parent: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    return is_object(_get(parent, key, path), f"{path}.{key}")


def array(parent: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = _get(parent, key, path)
    if not isinstance(value, list):
        _wrong(f"{path}.{key}", "an array", value)
    return value


def text(parent: Mapping[str, Any], key: str, path: str) -> str:
    value = _get(parent, key, path)
    if not isinstance(value, str):
        _wrong(f"{path}.{key}", "a string", value)
    return value


def optional_text(parent: Mapping[str, Any], key: str, path: str) -> str | None:
    """A string, or None where the field is absent or null."""
    if parent.get(key) is None:
        return None
    return text(parent, key, path)


def number(parent: Mapping[str, Any], key: str, path: str) -> float:
    value = _get(parent, key, path)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        _wrong(f"{path}.{key}", "a number", value)
    return float(value)


def integer(parent: Mapping[str, Any], key: str, path: str) -> int:
    return is_integer(_get(parent, key, path), f"{path}.{key}")


def is_integer(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _wrong(path, "an integer", value)
    return value


def _get(parent: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in parent:
        raise OffContract(f"{path}.{key} is missing")
    return parent[key]


def _wrong(path: str, kind: str, value: Any) -> NoReturn:
    if isinstance(value, list | dict):
        shown = "an array" if isinstance(value, list) else "an object"
    else:
        shown = json.dumps(value)[:60]
    raise OffContract(f"{path}: {kind}, got {printable(shown, 80)}")
