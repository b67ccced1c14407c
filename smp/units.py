"""Unit conversions shared by the readers. Everything ends in ms or seconds."""

from __future__ import annotations

import datetime as dt
import math
import re

from smp.errors import ReaderError

_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_TO_MS = {
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,
    "μs": 1e-3,
    "ms": 1.0,
    "s": 1e3,
    "m": 60e3,
    "h": 3600e3,
}


def duration_to_ms(text: str, format: str) -> float:
    """Parse a duration like ``1.5ms``, ``0.000059131s``, ``1m30.5s`` or ``250us`` to ms.

    Accepts Go's ``time.Duration`` strings (several parts, signed) and the
    protobuf Duration JSON form (seconds with an ``s``). Raises ReaderError
    naming the text when it is not a duration.
    """
    raw = text.strip()
    sign = 1.0
    body = raw
    if body[:1] and body[:1] in "+-":
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    if body == "0":
        return 0.0
    pos = 0
    total = 0.0
    for match in _GO_DURATION_PART.finditer(body):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _TO_MS[match.group(2)]
        pos = match.end()
    if pos != len(body) or pos == 0:
        raise ReaderError(format, f"{text!r} is not a duration (expected e.g. 1.5ms, 2s, 1m30s)")
    return sign * total


def seconds_to_ms(value: float) -> float:
    return value * 1e3


def finite(value: float, format: str, field: str) -> float:
    """Return ``value`` as float, or raise ReaderError naming ``field`` if NaN/inf."""
    number = float(value)
    if not math.isfinite(number):
        raise ReaderError(format, f"{field} is {value!r}; it must be a finite number")
    return number


_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$"
)


def parse_timestamp(text: str) -> dt.datetime:
    """RFC 3339 text (zone required, up to 9 fraction digits) -> aware datetime.

    Fractions beyond microseconds are truncated. Raises ValueError otherwise.
    """
    if not _RFC3339.match(text):
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp with a time zone")
    return dt.datetime.fromisoformat(text.upper())
