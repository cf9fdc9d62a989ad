"""The validators every settings dataclass of the project uses, and their one error type.

The deployment settings (`config.schema`), the runtime's (`inference.config`)
and the service's (`contract.settings`) validate in `__post_init__` with these
functions, so every invalid value fails the same way: `ConfigError` naming the
field, the value and what is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection

__all__ = ["ConfigError", "int_in", "matches", "number_in", "one_of", "require", "shown"]


SHOWN_VALUE_CHARS = 200
"""How much of a refused value a message quotes: enough to recognise it. A client's value can be megabytes
(and each control character's escape is four times its size); an answer quoting it whole would pass
Lambda's 6 MB response limit and turn a 4xx into a 502."""


def shown(value: object, limit: int = SHOWN_VALUE_CHARS) -> str:
    """`value`'s repr, cut to `limit` characters with its length said when longer."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f"{len(value):,} characters" if isinstance(value, (str, bytes)) else f"{len(text):,} characters shown"
    return f"{text[:limit]}... ({size})"


class ConfigError(ValueError):
    """A configuration value is invalid: names the field, the value (its start: `shown`) and what is allowed."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}={shown(value)} is invalid: allowed {allowed}")


def require(ok: bool, field: str, value: object, allowed: str) -> None:
    """Raise ConfigError(field, value, allowed) unless `ok`."""
    if not ok:
        raise ConfigError(field, value, allowed)


def int_in(field: str, value: object, lo: int, hi: int) -> None:
    """An integer (not a bool) from `lo` to `hi` inclusive."""
    ok = isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi
    require(ok, field, value, f"an integer from {lo} to {hi}")


def number_in(field: str, value: object, lo: float, hi: float) -> None:
    """A finite int or float (not a bool) from `lo` to `hi` inclusive."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and lo <= value <= hi
    require(ok, field, value, f"a number from {lo:g} to {hi:g}")


def one_of(field: str, value: object, options: Collection[object]) -> None:
    """One of a fixed set of values."""
    require(value in options, field, value, f"one of {tuple(options)}")


def matches(field: str, value: object, pattern: str | re.Pattern[str], allowed: str) -> None:
    """A string that matches `pattern` from its start (use `$` to anchor the end)."""
    ok = isinstance(value, str) and re.match(pattern, value) is not None
    require(ok, field, value, allowed)
