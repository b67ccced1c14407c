"""Typed access to decoded JSON/YAML objects for the readers.

Every accessor checks the type and range of one field and, when it is wrong,
raises ReaderError naming the field path and the rule it broke, so a reader's
user hears "DurationHistogram.Count must be a number, got object" instead of a
KeyError.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any, NoReturn, Protocol

from smp.errors import ReaderError
from smp.units import duration_to_ms

_JSON_TYPES = ((bool, "boolean"), ((int, float), "number"), (str, "string"), (list, "array"))


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "object"
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "other")


class Fields:
    """Typed access to one decoded JSON/YAML object; errors name the field path and rule."""

    def __init__(self, obj: Any, path: str, format: str) -> None:
        if not isinstance(obj, dict):
            where = path or "the document"
            raise ReaderError(format, f"{where} must be an object, got {json_type(obj)}")
        self.obj: dict[str, Any] = obj
        self.path = path
        self.format = format

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, rule: str) -> NoReturn:
        raise ReaderError(self.format, f"{self.where(key)} {rule}")

    def has(self, key: str) -> bool:
        return self.obj.get(key) is not None

    def _get(self, key: str, required: bool = False) -> Any:
        if required and not self.has(key):
            self.fail(key, "is missing")
        return self.obj.get(key)

    def need_number(self, key: str) -> float:
        value = self._get(key, required=True)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, f"must be a number, got {json_type(value)}")
        if not math.isfinite(value):
            self.fail(key, f"must be a finite number, got {value!r}")
        return float(value)

    def need_count(self, key: str) -> int:
        """A whole number >= 0; uint64 written as a JSON string (protobuf style) is accepted."""
        value = self._get(key, required=True)
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        number = self.need_number(key)
        if number < 0 or number != int(number):
            self.fail(key, f"must be a whole number >= 0, got {value!r}")
        return int(number)

    def number(self, key: str) -> float | None:
        return self.need_number(key) if self.has(key) else None

    def count(self, key: str) -> int | None:
        return self.need_count(key) if self.has(key) else None

    def text(self, key: str, required: bool = False) -> str | None:
        value = self._get(key, required)
        if value is not None and not isinstance(value, str):
            self.fail(key, f"must be a string, got {json_type(value)}")
        return value

    def duration_ms(self, key: str) -> float | None:
        """A duration string (Go's ``1.5ms``, protobuf's ``0.0015s``) >= 0, in ms."""
        value = self._get(key)
        if value is None:
            return None
        ms = -1.0
        if isinstance(value, str) and value.strip():
            try:
                ms = duration_to_ms(value, self.format)
            except ReaderError:
                ms = -1.0
        if ms < 0:
            got = repr(value) if isinstance(value, str) else json_type(value)
            self.fail(key, f"must be a duration >= 0 like '1.5ms' or '0.0015s', got {got}")
        return ms

    def child(self, key: str) -> Fields | None:
        return Fields(self.obj[key], self.where(key), self.format) if self.has(key) else None

    def array(self, key: str, required: bool = False) -> list[Any]:
        value = self._get(key, required)
        if value is not None and not isinstance(value, list):
            self.fail(key, f"must be an array, got {json_type(value)}")
        return value or []


def parse_timestamp(value: Any, where: str, format: str) -> dt.datetime:
    """An RFC 3339 timestamp with a timezone (string, or a datetime YAML already built)."""
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ReaderError(
                format, f"{where} must be an RFC 3339 timestamp, got {value!r}"
            ) from None
    else:
        raise ReaderError(format, f"{where} must be an RFC 3339 timestamp, got {json_type(value)}")
    if stamp.tzinfo is None:
        raise ReaderError(format, f"{where} has no timezone ({value!r}); it must name one")
    return stamp


def end_time(
    start: dt.datetime | None, seconds: float | None, fields: Fields, key: str
) -> dt.datetime | None:
    """``start`` + ``seconds`` (the duration read from ``fields[key]``), if both are known."""
    if start is None or seconds is None:
        return None
    try:
        return start + dt.timedelta(seconds=seconds)
    except OverflowError:
        fields.fail(key, f"({seconds:g} s) is out of range")


class CsvRows(Protocol):
    """What csv.reader returns: rows of cells and the current physical line number."""

    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...
