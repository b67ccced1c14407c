"""SMP documents (a result or a bundle) as JSON/YAML: parse, schema-check, build objects.

The order is always: :func:`parse_document` (bytes -> dict, strict JSON or safe
YAML), :func:`validate_schema` (dict -> every schema problem, by field path),
then :func:`result_from_dict` / :func:`bundle_from_dict` (dict -> model objects,
in :mod:`smp.builders`), which assume a schema-valid document. Consistency between figures is
:mod:`smp.consistency`'s job.

The schemas ship in ``smp/schema/`` (JSON Schema draft 2020-12).
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any, Literal

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from smp.builders import bundle_from_dict as bundle_from_dict
from smp.builders import config_from_dict as config_from_dict
from smp.builders import environment_from_dict as environment_from_dict
from smp.builders import mesh_config_from_dict as mesh_config_from_dict
from smp.builders import result_from_dict as result_from_dict
from smp.errors import Problem, ReaderError
from smp.loaders import load_json, load_yaml
from smp.units import parse_timestamp as parse_timestamp

Kind = Literal["result", "bundle", "mesh_config", "environment", "test_config"]
"""A document validated on its own: a result, a bundle, or one of the SMP messages a
bundle holds (checked against the bundle schema's definition of it)."""
SchemaFile = Literal["result", "bundle"]

SCHEMA_IDS: dict[str, str] = {
    "result": "urn:meshmark:smp:result",
    "bundle": "urn:meshmark:smp:bundle",
}
_MESSAGE_DEFS: dict[str, str] = {
    "mesh_config": "mesh_config",
    "environment": "environment",
    "test_config": "test_config",
}
_MAX_MESSAGE = 240
_EXAMPLE_TIME = "2024-05-01T12:00:00Z"
_TYPE_WORDS = {
    "array": "an array",
    "object": "an object",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "null": "null",
}
_TYPE_WORDS_OF = {
    list: "an array",
    dict: "an object",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}
_REQUIRED = re.compile(r"^'(?P<name>[^']*)' is a required property$")


# -- parsing ------------------------------------------------------------------------------


def parse_document(data: bytes, format: str = "smp") -> dict[str, Any]:
    """Bytes -> mapping. JSON when the text starts with ``{`` or ``[``, YAML otherwise.

    Both loaders are strict (no NaN/Infinity, no duplicate keys, no YAML
    aliases). YAML is given the shape JSON would have: keys become text
    (``200:`` -> ``"200"``) and timestamps RFC 3339 strings; a naive YAML
    timestamp stays without a zone and is then rejected by the schema.
    """
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"["):
        value = load_json(data, format)
    else:
        value = _json_shape(load_yaml(data, format))
    if not isinstance(value, dict):
        kind = "a list" if isinstance(value, list) else f"a {type(value).__name__}"
        raise ReaderError(format, f"the document is {kind}; an SMP result or bundle is a mapping")
    return value


def _json_shape(value: Any) -> Any:
    """What JSON would have given: text keys (``200:`` -> ``"200"``) and text timestamps."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_shape(v) for v in value]
    return value


def is_bundle(doc: Any) -> bool:
    """A bundle is a mapping with a ``runs`` list; anything else is read as a result."""
    return isinstance(doc, dict) and isinstance(doc.get("runs"), list)


# -- schema -------------------------------------------------------------------------------


def load_schema(kind: SchemaFile) -> dict[str, Any]:
    """The shipped JSON Schema for ``kind`` as a dict."""
    text = resources.files("smp").joinpath(f"schema/{kind}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _is_date_time(instance: object) -> bool:
    if isinstance(instance, str):
        parse_timestamp(instance)
    return True


# Our own date-time check: jsonschema's needs the optional rfc3339-validator package.
_FORMATS = FormatChecker(formats=())
_FORMATS.checks("date-time", raises=ValueError)(_is_date_time)


def _root(kind: Kind) -> dict[str, Any]:
    """The schema a ``kind`` of document is checked against."""
    if kind == "result" or kind == "bundle":
        return load_schema(kind)
    return {"$ref": f"{SCHEMA_IDS['bundle']}#/$defs/{_MESSAGE_DEFS[kind]}"}


@functools.cache
def _validator(kind: Kind) -> Any:
    registry: Registry[Any] = Registry().with_resources(
        (SCHEMA_IDS[k], Resource.from_contents(load_schema(k))) for k in ("result", "bundle")
    )
    return Draft202012Validator(_root(kind), registry=registry, format_checker=_FORMATS)


def _inlined(node: Any, base: Mapping[str, Any], schemas: Mapping[str, Any]) -> Any:
    """``node`` with every ``$ref`` replaced by what it points at (our schemas have no cycles)."""
    if isinstance(node, list):
        return [_inlined(item, base, schemas) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" not in node:
        return {
            key: _inlined(value, base, schemas)
            for key, value in node.items()
            if key not in ("$defs", "$id", "$schema")
        }
    document_id, _, fragment = str(node["$ref"]).partition("#")
    target_doc = schemas[document_id] if document_id else base
    target: Any = target_doc
    for part in filter(None, fragment.split("/")):
        target = target[part]
    resolved = _inlined(target, target_doc, schemas)
    siblings = {k: _inlined(v, base, schemas) for k, v in node.items() if k != "$ref"}
    return {"allOf": [resolved, siblings]} if siblings else resolved


def _fast_date_time(instance: str) -> bool:
    try:
        return _is_date_time(instance)
    except ValueError:
        return False


@functools.cache
def _fast_check(kind: Kind) -> Any:
    """A compiled validator (fastjsonschema) of the same schema, ~15x faster than jsonschema.

    Only ever used to let valid documents through quickly: when it objects,
    jsonschema runs and its verdict and messages are the ones reported, so a
    difference between the two libraries can cost time, never a wrong answer
    for a bad document (tests/smp/test_schema_fast_path.py checks they agree).
    """
    schemas: dict[str, Any] = {SCHEMA_IDS[k]: load_schema(k) for k in ("result", "bundle")}
    root = _root(kind)
    return fastjsonschema.compile(
        _without_negations(_inlined(root, root, schemas)),
        formats={"date-time": _fast_date_time},
        use_default=False,
    )


def _without_negations(node: Any) -> Any:
    """``node`` with each ``"not": {"required": [a, b]}`` (give one of two spellings) written as
    ``"dependencies": {b: {"properties": {a: false}}}``, which means the same.

    fastjsonschema checks a ``not`` by running its inner schema and catching the failure, and
    building that failure (a message formatted from the function's locals, and the schema
    itself as a literal) was two fifths of validating a bundle: every valid run, workload and
    resource block fails the inner ``required`` on its way through. The rewritten rule is
    only looked at when the second spelling is present, which canonical documents never are.
    """
    if isinstance(node, list):
        return [_without_negations(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _without_negations(value) for key, value in node.items()}
    negated = out.get("not")
    if (
        isinstance(negated, dict)
        and set(negated) == {"required"}
        and len(negated["required"]) == 2
        and "dependencies" not in out
    ):
        first, second = negated["required"]
        del out["not"]
        out["dependencies"] = {second: {"properties": {first: False}}}
    return out


def format_path(parts: Iterable[Any], prefix: str = "") -> str:
    """``["runs", 1, "latencies_ms", "p99"]`` -> ``runs[1].latencies_ms.p99``.

    Integers are list indexes; anything else (YAML allows non-string keys) is a name.
    """
    out = prefix
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def validate_schema(doc: Any, kind: Kind) -> list[Problem]:
    """Every schema violation of ``doc`` as a Problem (field path, keyword, message).

    ``rule`` is the JSON Schema keyword that failed (``type``, ``minimum``,
    ``required``, ``additionalProperties``, ``enum``, ``format``, ``not`` ...).
    Unknown fields and missing fields get the offending field in the path.
    """
    try:
        _fast_check(kind)(doc)
        return []
    except fastjsonschema.JsonSchemaValueException:
        pass
    errors = sorted(_validator(kind).iter_errors(doc), key=_error_order)
    problems: list[Problem] = []
    for error in errors:
        problems.extend(_problems_from_error(error))
    return problems


def _error_order(error: Any) -> tuple[str, ...]:
    return tuple(f"{p:09d}" if isinstance(p, int) else str(p) for p in error.absolute_path)


def _problems_from_error(error: Any) -> list[Problem]:
    path = format_path(error.absolute_path)
    keyword = str(error.validator)
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        out = []
        for key in error.instance:
            if key in known:
                continue
            hint = difflib.get_close_matches(str(key), known, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            out.append(
                Problem(format_path([key], path), keyword, f"unknown field {key!r}{suggestion}")
            )
        return out
    if keyword == "required":
        match = _REQUIRED.match(error.message)
        if match:
            name = match.group("name")
            return [Problem(format_path([name], path), keyword, f"{name!r} is required")]
    if keyword == "not" and isinstance(error.validator_value, dict):
        both = error.validator_value.get("required", [])
        if len(both) == 2:
            return [Problem(path, keyword, f"give {both[0]} or {both[1]}, not both")]
    message = error.message
    if keyword == "type":
        wanted = error.validator_value
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        message = "must be " + " or ".join(_TYPE_WORDS.get(n, n) for n in names)
        message += f", got {_TYPE_WORDS_OF.get(type(error.instance), 'a value')}"
    if keyword == "format" and error.validator_value == "date-time":
        message = f"{error.instance!r} is not an RFC 3339 date-time with a zone ({_EXAMPLE_TIME})"
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return [Problem(path, keyword, message)]
