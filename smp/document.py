"""SMP documents (a result or a bundle) as JSON/YAML: parse, schema-check, build objects.

The order is always: :func:`parse_document` (bytes -> dict, strict JSON or safe
YAML), :func:`validate_schema` (dict -> every schema problem, by field path),
then :func:`result_from_dict` / :func:`bundle_from_dict` (dict -> model objects),
which assume a schema-valid document. Consistency between figures is
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

from smp.errors import Problem, ReaderError
from smp.loaders import load_json, load_yaml
from smp.model import (
    RESOURCE_BLOCKS,
    Bundle,
    Calibration,
    Client,
    EnvironmentConfig,
    HistogramBucket,
    IndividualWorkload,
    Latencies,
    LoadGenerator,
    Node,
    PerformanceTestConfig,
    PerformanceTestResult,
    RawOutput,
    ResourceUsage,
    RunResources,
    ServiceMeshConfig,
)

Kind = Literal["result", "bundle"]

SCHEMA_IDS: dict[str, str] = {
    "result": "urn:meshmark:smp:result",
    "bundle": "urn:meshmark:smp:bundle",
}
_MAX_MESSAGE = 240
_EXAMPLE_TIME = "2024-05-01T12:00:00Z"
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
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


def parse_timestamp(text: str) -> dt.datetime:
    """RFC 3339 text (zone required, up to 9 fraction digits) -> aware datetime.

    Fractions beyond microseconds are truncated. Raises ValueError otherwise.
    """
    if not _RFC3339.match(text):
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp with a time zone")
    return dt.datetime.fromisoformat(text.upper())


# -- schema -------------------------------------------------------------------------------


def load_schema(kind: Kind) -> dict[str, Any]:
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


@functools.cache
def _validator(kind: Kind) -> Any:
    registry: Registry[Any] = Registry().with_resources(
        (SCHEMA_IDS[k], Resource.from_contents(load_schema(k))) for k in ("result", "bundle")
    )
    return Draft202012Validator(load_schema(kind), registry=registry, format_checker=_FORMATS)


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
    schemas = {SCHEMA_IDS[k]: load_schema(k) for k in ("result", "bundle")}
    root = load_schema(kind)
    return fastjsonschema.compile(
        _inlined(root, root, schemas), formats={"date-time": _fast_date_time}, use_default=False
    )


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


# -- building model objects ---------------------------------------------------------------


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _text_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def _cpu(d: Mapping[str, Any]) -> float | None:
    return _opt_float(d.get("cpu_mcores", d.get("cpu_mCores")))


def _usage(d: Mapping[str, Any] | None) -> ResourceUsage | None:
    if d is None:
        return None
    return ResourceUsage(
        count=_opt_int(d.get("count")), cpu_mcores=_cpu(d), mem_mb=_opt_float(d.get("mem_mb"))
    )


def _workload(d: Mapping[str, Any]) -> IndividualWorkload:
    return IndividualWorkload(
        name=str(d["name"]),
        count=_opt_int(d.get("count")),
        cpu_mcores=_cpu(d),
        mem_mb=_opt_float(d.get("mem_mb")),
    )


def _resources(d: Mapping[str, Any] | None) -> RunResources | None:
    if d is None:
        return None
    blocks = {name: _usage(d.get(name)) for name in RESOURCE_BLOCKS}
    return RunResources(**blocks, workloads=[_workload(w) for w in d.get("workloads", [])])


def _timestamp(value: Any) -> dt.datetime | None:
    return None if value is None else parse_timestamp(str(value))


def result_from_dict(d: Mapping[str, Any]) -> PerformanceTestResult:
    """Build a PerformanceTestResult from a schema-valid mapping.

    Reads the proto spelling ``actual_QPS`` as ``actual_qps`` and ``cpu_mCores``
    as ``cpu_mcores``; timestamps become aware datetimes.
    """
    generator = d.get("load_generator")
    raw = d.get("raw")
    return PerformanceTestResult(
        latencies_ms=Latencies(**{k: float(v) for k, v in d.get("latencies_ms", {}).items()}),
        actual_qps=_opt_float(d.get("actual_qps", d.get("actual_QPS"))),
        start_time=_timestamp(d.get("start_time")),
        end_time=_timestamp(d.get("end_time")),
        duration_s=_opt_float(d.get("duration_s")),
        latencies_ok_ms=(
            Latencies(**{k: float(v) for k, v in d["latencies_ok_ms"].items()})
            if "latencies_ok_ms" in d
            else None
        ),
        warmup_s=_opt_float(d.get("warmup_s")),
        payload_bytes=_opt_int(d.get("payload_bytes")),
        requested_qps=_opt_float(d.get("requested_qps")),
        request_count=_opt_int(d.get("request_count")),
        error_count=_opt_int(d.get("error_count")),
        status_codes={str(k): int(v) for k, v in d.get("status_codes", {}).items()},
        histogram=[
            HistogramBucket(float(b["start_ms"]), float(b["end_ms"]), int(b["count"]))
            for b in d.get("histogram", [])
        ],
        load_generator=(
            LoadGenerator(name=str(generator["name"]), version=generator.get("version"))
            if generator is not None
            else None
        ),
        protocol=d.get("protocol"),
        connections=_opt_int(d.get("connections")),
        role=d.get("role"),
        profile_id=d.get("profile_id"),
        resources=_resources(d.get("resources")),
        raw=RawOutput(format=str(raw["format"]), content=str(raw["content"])) if raw else None,
        labels=_text_map(d.get("labels")),
        id=d.get("id"),
        **_version(d),
    )


def _version(d: Mapping[str, Any]) -> dict[str, str]:
    return {"smp_version": str(d["smp_version"])} if "smp_version" in d else {}


def _environment(d: Mapping[str, Any] | None) -> EnvironmentConfig:
    if d is None:
        return EnvironmentConfig()
    calibration = d.get("calibration")
    return EnvironmentConfig(
        kubernetes_version=d.get("kubernetes_version"),
        node=[
            Node(
                type=n.get("type"),
                cores=_opt_float(n.get("cores")),
                mem_mb=_opt_float(n.get("mem_mb")),
                arch=n.get("arch"),
                count=int(n.get("count", 1)),
            )
            for n in d.get("node", [])
        ],
        individual_workloads=[_workload(w) for w in d.get("individual_workloads", [])],
        cni=d.get("cni"),
        kernel_version=d.get("kernel_version"),
        provider=d.get("provider"),
        calibration=(
            Calibration(
                probe=str(calibration["probe"]),
                score=float(calibration["score"]),
                unit=str(calibration.get("unit", "ops/s")),
            )
            if calibration is not None
            else None
        ),
        labels=_text_map(d.get("labels")),
    )


def _mesh_config(d: Mapping[str, Any] | None) -> ServiceMeshConfig:
    if d is None:
        return ServiceMeshConfig()
    blocks = {name: _usage(d.get(name)) for name in RESOURCE_BLOCKS}
    return ServiceMeshConfig(
        mesh_type=str(d.get("mesh_type", "none")),
        mesh_version=d.get("mesh_version"),
        mtls_enabled=d.get("mtls_enabled"),
        mesh_telemetry_enabled=d.get("mesh_telemetry_enabled"),
        mesh_policy_enabled=d.get("mesh_policy_enabled"),
        proxy_concurrency=_opt_int(d.get("proxy_concurrency")),
        proxy_build=d.get("proxy_build"),
        labels=_text_map(d.get("labels")),
        **blocks,
    )


def _client(d: Mapping[str, Any]) -> Client:
    return Client(
        load_generator=d.get("load_generator"),
        protocol=d.get("protocol"),
        connections=_opt_int(d.get("connections")),
        rps=_opt_float(d.get("rps")),
        internal=d.get("internal"),
        endpoint_url=[str(u) for u in d.get("endpoint_url", [])],
        headers=_text_map(d.get("headers")),
        body=d.get("body"),
        content_type=d.get("content_type"),
    )


def _test_config(d: Mapping[str, Any] | None) -> PerformanceTestConfig | None:
    if d is None:
        return None
    return PerformanceTestConfig(
        id=d.get("id"),
        name=d.get("name"),
        duration=d.get("duration"),
        clients=[_client(c) for c in d.get("clients", [])],
        labels=_text_map(d.get("labels")),
    )


def bundle_from_dict(d: Mapping[str, Any]) -> Bundle:
    """Build a Bundle from a schema-valid mapping (see :func:`result_from_dict`).

    Runs are taken as written; a run's missing ``profile_id`` is *not* filled in
    here (the smp reader does that), so consistency checks see the document as is.
    """
    return Bundle(
        profile=d.get("profile"),
        environment=_environment(d.get("environment")),
        mesh_config=_mesh_config(d.get("mesh_config")),
        config=_test_config(d.get("config")),
        runs=[result_from_dict(r) for r in d["runs"]],
        labels=_text_map(d.get("labels")),
        **_version(d),
    )
