"""A client's JSON body, parsed with its cost bounded before and while parsing.

`json.loads` alone turns hostile bodies into server errors: 2,000 nested arrays exhaust the
recursion limit, a 4,301-digit integer trips Python's int-string limit, and `NaN`/`Infinity`
are accepted though JSON has no such numbers. Here the body's size and nesting are checked
before parsing, and each number's length while parsing; every refusal is a 400 naming the rule.
"""

from __future__ import annotations

import json
import math
from typing import Any

from service.http import errors

MAX_BODY_BYTES = 64 * 1024
"""A job request is a few hundred bytes; anything near this is not one."""
MAX_DEPTH = 8
"""Objects and arrays inside each other; a job request needs two."""
MAX_NUMBER_CHARS = 32
"""Digits, sign, point and exponent of one number: more than any parameter or size needs."""


class _Refused(ValueError):
    """Valid JSON we still refuse (a number too long, NaN/Infinity, a key given twice): its 400's message."""


def parse_json_body(body: bytes) -> Any:
    """The body's JSON value; a 400 for a body too large, too deep, with a too-long or non-JSON number,
    or with a key given twice in one object (`{"model": "a", "model": "b"}` would silently take the last)."""
    if len(body) > MAX_BODY_BYTES:
        raise errors.bad_request(
            f"the body has {len(body):,} bytes; a JSON request may have at most {MAX_BODY_BYTES:,}"
        )
    depth = nesting_depth(body)
    if depth > MAX_DEPTH:
        raise errors.bad_request(f"the JSON nests {depth} levels deep; at most {MAX_DEPTH} are allowed")
    try:
        return json.loads(
            body or b"null",
            parse_int=_bounded(int),
            parse_float=_bounded(float),
            parse_constant=_no_constant,
            object_pairs_hook=_unique_keys,
        )
    except _Refused as exc:
        raise errors.bad_request(str(exc)) from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise errors.bad_request("the body is not valid JSON") from None


def nesting_depth(body: bytes) -> int:
    """How deep objects and arrays nest, counted outside strings (linear, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _bounded(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        if len(text) > MAX_NUMBER_CHARS:
            raise _Refused(
                f"a number in the body has {len(text):,} characters ({text[:12]}...); "
                f"numbers may have at most {MAX_NUMBER_CHARS}"
            )
        value = kind(text)
        if not math.isfinite(value):
            raise _Refused(f"the number {text} is out of range: send a finite number")
        if value == 0 and any(digit in "123456789" for digit in text.lower().split("e")[0]):
            raise _Refused(f"the number {text} is out of range: it is too small to tell from 0")
        return value

    return parse


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number: send a finite number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        shown = ", ".join(repr(key[:40]) for key in repeated[:3])
        raise _Refused(f"the key(s) {shown} appear more than once in one object: give each once")
    return dict(pairs)
