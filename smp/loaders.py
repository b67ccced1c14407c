"""Safe decoding of JSON and YAML documents from untrusted bytes.

Both loaders refuse what the standard libraries let through and a public
index must not: NaN and Infinity (not JSON, and poison for every statistic),
duplicate keys (the last one silently wins otherwise), YAML aliases (the
"billion laughs" bomb) and absurd nesting depth.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from smp.errors import ReaderError

MAX_DEPTH = 64
"""Deepest nesting of objects/arrays accepted; real SMP documents use < 10.

A hard ceiling that keeps the parsers' recursion bounded; the API's door applies
its own, lower limit (``SUBMISSION_MAX_DEPTH``) on top."""


class NestingTooDeepError(ReaderError):
    """The document nests deeper than :data:`MAX_DEPTH` (or than the parser can follow)."""

    def __init__(self, format: str) -> None:
        super().__init__(format, f"document nests deeper than {MAX_DEPTH} levels")


def decode_text(data: bytes, format: str) -> str:
    """UTF-8 (with or without BOM) text, or a ReaderError naming the byte offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReaderError(format, f"not UTF-8 text (bad byte at offset {exc.start})") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    # JSON numbers too large for a double (1e999) would silently become infinity.
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large for a number")
    return value


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _check_depth(value: Any, format: str) -> None:
    if _shape(value, 0) & _TOO_DEEP:
        raise NestingTooDeepError(format)


_TOO_DEEP, _INFINITE = 1, 2


def _shape(value: Any, depth: int) -> int:
    """``_TOO_DEEP`` when something lies deeper than MAX_DEPTH, ``_INFINITE`` when a float is
    infinite (the flags or'ed); one walk for both."""
    if depth > MAX_DEPTH:
        return _TOO_DEEP
    kind = type(value)
    if kind is float:
        return 0 if -_INF < value < _INF else _INFINITE
    found = 0
    if kind is dict:
        for item in value.values():
            if type(item) in _NESTED:
                found |= _shape(item, depth + 1)
            elif depth + 1 > MAX_DEPTH:
                return found | _TOO_DEEP
    elif kind is list:
        for item in value:
            if type(item) in _NESTED:
                found |= _shape(item, depth + 1)
            elif depth + 1 > MAX_DEPTH:
                return found | _TOO_DEEP
    return found


_INF = float("inf")
_NESTED = frozenset({dict, list, float})


def _parse(text: str, *, strict_floats: bool) -> Any:
    return json.loads(
        text,
        parse_constant=_reject_constant,
        parse_float=_finite_float if strict_floats else None,
        object_pairs_hook=_pairs_without_duplicates,
    )


def load_json(data: bytes | str, format: str = "json") -> Any:
    """Parse strict JSON. Raises ReaderError with line and column on any fault.

    Floats are parsed by the C decoder; one that overflowed to infinity (``1e999``: NaN and
    Infinity themselves are refused while parsing) is found by the depth walk, and the text
    is parsed again with a checking hook so that its error is the one named, as before. A
    Python hook on every float was a third of parsing a bundle.
    """
    text = data if isinstance(data, str) else decode_text(data, format)
    try:
        value = _parse(text, strict_floats=False)
        shape = _shape(value, 0)
        if shape:  # an infinite float (perhaps below the depth the walk stopped at)
            value = _parse(text, strict_floats=True)  # raises, naming the number, if one is
    except json.JSONDecodeError as exc:
        raise ReaderError(
            format, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:
        raise ReaderError(format, f"malformed JSON: {exc}") from None
    except RecursionError:
        raise NestingTooDeepError(format) from None
    if shape & _TOO_DEEP:
        raise NestingTooDeepError(format)
    return value


class _SafeNoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and duplicate keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases (*name) are not accepted", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _reject_yaml_special_floats(value: Any, format: str) -> None:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise ReaderError(format, "NaN and Infinity are not accepted as numbers")
    if isinstance(value, dict):
        for v in value.values():
            _reject_yaml_special_floats(v, format)
    elif isinstance(value, list):
        for v in value:
            _reject_yaml_special_floats(v, format)


def load_yaml(data: bytes | str, format: str = "yaml") -> Any:
    """Parse YAML (a superset of JSON) safely: no tags, no aliases, no NaN."""
    text = data if isinstance(data, str) else decode_text(data, format)
    try:
        value = yaml.load(text, Loader=_SafeNoAliasLoader)  # noqa: S506 - safe subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise ReaderError(format, f"malformed YAML{where}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ReaderError(format, f"malformed YAML: {exc}") from None
    except RecursionError:
        raise NestingTooDeepError(format) from None
    _check_depth(value, format)
    _reject_yaml_special_floats(value, format)
    return value
