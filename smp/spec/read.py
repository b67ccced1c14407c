"""Read any SMP document for what it is: a result, a bundle, or a test, mesh or environment config.

Entry points (pure; the index and smp-runner call these):

- :func:`normalize` takes a parsed document (a dict from JSON or YAML) in any
  shape the spec has had and returns MeshMark's documents of it, schema-checked,
  with every problem located at the document's own spelling of the field.
- :func:`read_document` does the same from bytes and builds the model objects.
- :func:`read_test_config` insists on a test configuration (Meshery's included).
- :func:`import_run` reads back what :func:`smp.spec.export.export_run` wrote.

Shapes read (docs/smp.md, "Aliases and spec names"): MeshMark's own documents;
the current protos' field names in snake_case or the proto3 JSON mapping's
lowerCamelCase, with numbers as text and enums as names or integers; the v0.1
proto's spellings and enum numbers (a document that says ``smps_version``);
the spec repository's legacy sample result (figures in seconds corrected, with
a warning); Meshery's ``{test, mesh}`` test configuration.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from smp import consistency, document
from smp.builders import (
    bundle_from_dict,
    config_from_dict,
    environment_from_dict,
    mesh_config_from_dict,
    result_from_dict,
)
from smp.errors import Problem, ReaderError
from smp.model import (
    Bundle,
    EnvironmentConfig,
    Latencies,
    PerformanceTestConfig,
    PerformanceTestResult,
    ServiceMeshConfig,
)
from smp.spec import labels, shapes
from smp.spec.fields import MESSAGES, spec_names
from smp.spec.walk import Walk, origin_of

FORMAT = "smp"
EXTENSION_OF = "smp.PerformanceTestResult"
"""The ``extends`` value of a result's extension document (docs/smp.md)."""
EXTENSION_FIELDS: tuple[str, ...] = (
    "latencies_ok_ms",
    "status_codes",
    "histogram",
    "resources",
    "raw",
    "cpu",
    "memory",
    "swap",
)
"""What a result's extension document carries: the figures with no place in the spec."""

LATENCY_FIELDS = ("min", "average", "p50", "p90", "p95", "p99", "p999", "max")


class SpecError(ReaderError):
    """A document that is not valid SMP; ``problems`` lists every problem by field path."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(FORMAT, "; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class Normalized:
    """A document as MeshMark's documents: ``documents[kind]`` is the main one.

    Companions (the legacy result's environment, Meshery's mesh) are the other
    entries of ``documents``. ``problems`` are errors; ``warnings`` are
    reported but do not make the document invalid.
    """

    kind: str
    shape: str
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class SpecDocument:
    """What a document is, with its objects; ``kind`` says which one is the document itself."""

    kind: str
    shape: str
    result: PerformanceTestResult | None = None
    bundle: Bundle | None = None
    test_config: PerformanceTestConfig | None = None
    mesh_config: ServiceMeshConfig | None = None
    environment: EnvironmentConfig | None = None
    warnings: list[Problem] = field(default_factory=list)

    @property
    def what(self) -> str:
        return shapes.MESSAGE_NAMES[self.kind]


def normalize(
    doc: Any, *, kind: str | None = None, extensions: Mapping[str, Any] | None = None
) -> Normalized:
    """``doc`` in MeshMark's names, checked against its schema; every problem by path.

    ``kind`` insists on one message (``result``, ``bundle``, ``test_config``,
    ``mesh_config``, ``environment``); otherwise it is recognised from the
    fields. ``extensions`` is a result's extension document (written by
    :func:`smp.spec.export.result_extensions`), merged into the result.
    """
    found = shapes.kind_of(doc)
    if kind is None:
        if found is None:
            return Normalized("result", "unknown", problems=[_unrecognised()])
        kind = found
    if not isinstance(doc, Mapping):
        return Normalized(kind, "unknown", problems=[Problem("", "type", "expected an object")])
    shape = shapes.shape_of(doc, kind)
    out = Normalized(kind, shape)
    v01 = "smps_version" in doc
    if shape == "smp-legacy":
        parts, part_origins, problems = shapes.split_legacy(doc)
        out.problems.extend(problems)
        for part, part_doc in parts.items():
            _message(out, part, part_doc, v01=v01, origins=part_origins.get(part, {}))
        _legacy_seconds(out)
    elif shape == "meshery-test":
        _message(out, "test_config", doc["test"], v01=v01, origins={}, src="test")
        if doc.get("mesh") is not None:
            mesh = {"mesh_type": doc["mesh"]}
            _message(out, "mesh_config", mesh, v01=v01, origins={"mesh_type": "mesh"})
    elif extensions is None and not v01 and _kept_by_walk(doc, kind):
        # Already in MeshMark's names and valid (what smp-runner and the index write): the
        # walk would give it back as it is, so only the schema check is paid.
        out.documents[kind] = cast(dict[str, Any], doc)
    else:
        _message(out, kind, doc, v01=v01, origins={})
    if extensions is not None:
        out.problems.extend(_merge_extensions(out, extensions))
    return out


@functools.cache
def _alternatives() -> frozenset[str]:
    """Every key the walk renames: the spec's spellings of fields (``actual_QPS``,
    ``cpu_mCores``, ``smps_version``, lowerCamel forms ...), in any message."""
    return frozenset(key for message in MESSAGES for key in spec_names(message))


def _kept_by_walk(doc: Mapping[str, Any], kind: str) -> bool:
    """Whether renaming ``doc`` (a bundle) would change nothing and find no problem: it is
    valid under the schema in MeshMark's names (so no unknown key, no number written as
    text, every enum and mesh type in its own form), none of its keys is a spelling the
    walk renames (the schema still accepts a few), and no labels carry fields
    (``meshmark.io/`` labels, which decoding moves into the document). The fast path of
    :func:`normalize`; tests/smp/test_spec_fast_path.py checks it against the walk."""
    if kind != "bundle" or not isinstance(doc, dict):
        return False
    if _has_key(doc, _alternatives()) or _carries_fields(doc):
        return False
    return not document.validate_schema(doc, "bundle")


def _has_key(value: Any, keys: frozenset[str]) -> bool:
    if isinstance(value, dict):
        return any(k in keys or _has_key(v, keys) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_key(item, keys) for item in value if isinstance(item, dict | list))
    return False


def _carries_fields(doc: dict[str, Any]) -> bool:
    """Any ``meshmark.io/`` label in a message whose labels are decoded."""
    parts = [doc.get("environment"), doc.get("mesh_config"), doc.get("config")]
    runs = doc.get("runs")
    parts += runs if isinstance(runs, list) else []
    for part in parts:
        found = part.get("labels") if isinstance(part, dict) else None
        if isinstance(found, dict) and any(str(k).startswith(labels.PREFIX) for k in found):
            return True
    return False


def _unrecognised() -> Problem:
    return Problem(
        "",
        "smp-message",
        "matches no SMP message: a result has latencies_ms (or actual_qps), a test "
        "configuration clients, a mesh configuration mesh_type or mesh_build, an "
        "environment kubernetes_version or nodes, a bundle a runs list of results",
    )


def _message(
    out: Normalized,
    kind: str,
    doc: Any,
    *,
    v01: bool,
    origins: Mapping[str, str],
    src: str = "",
) -> None:
    """Rename, decode the labels of, and schema-check one message; results into ``out``."""
    walk = Walk(v01=v01)
    renamed = walk.message(kind, doc, src, "")
    if not isinstance(renamed, dict):
        out.problems.append(Problem(src, "type", f"expected an object, got {type(doc).__name__}"))
        return
    label_problems = _decode_labels(kind, renamed)

    def located(problems: list[Problem]) -> list[Problem]:
        return [
            Problem(origin_of(walk.origin(p.path), origins), p.rule, p.message) for p in problems
        ]

    found = walk.problems + label_problems
    # A field the walk already refused (a bad enum, NaN as text) is not reported twice.
    seen = {walk.origin(p.path) for p in found} | {p.path for p in found}
    schema = [
        p
        for p in document.validate_schema(renamed, cast(document.Kind, kind))
        if not any(_related(walk.origin(p.path), path) for path in seen)
    ]
    out.problems.extend(located(walk.problems) if origins else walk.problems)
    out.problems.extend(located(label_problems))
    out.problems.extend(located(schema))
    out.documents[kind] = renamed


def _related(one: str, other: str) -> bool:
    """One path is the other, or holds it."""
    if one == other:
        return True
    short, long = sorted((one, other), key=len)
    return long.startswith((short + ".", short + "["))


def _decode_labels(kind: str, doc: dict[str, Any]) -> list[Problem]:
    if kind != "bundle":
        return labels.decode(kind, doc)
    problems: list[Problem] = []
    for index, run in enumerate(doc.get("runs") or []):
        if isinstance(run, dict):
            problems.extend(labels.decode("result", run, f"runs[{index}]"))
    for name, message in (
        ("environment", "environment"),
        ("mesh_config", "mesh_config"),
        ("config", "test_config"),
    ):
        part = doc.get(name)
        if isinstance(part, dict):
            problems.extend(labels.decode(message, part, name))
    return problems


def _legacy_seconds(out: Normalized) -> None:
    """The legacy sample's "ms" are fortio's seconds: convert them, and say so."""
    result = out.documents.get("result")
    latencies = result.get("latencies_ms") if result else None
    if not isinstance(latencies, dict):
        return
    figures = {k: v for k, v in latencies.items() if k in LATENCY_FIELDS}
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in figures.values()):
        return
    seconds = consistency.latencies_look_like_seconds(Latencies(**figures))
    if seconds is None:
        return
    center, top = seconds
    for name, value in figures.items():
        latencies[name] = round(value * 1e3, 9)
    out.warnings.append(
        Problem(
            "client.latencies_ms",
            "latency-seconds-corrected",
            f"the legacy sample writes seconds under latencies_ms (median {center}, highest "
            f"{top}): read as seconds and converted to ms (x1000)",
        )
    )


def _merge_extensions(out: Normalized, extensions: Mapping[str, Any]) -> list[Problem]:
    result = out.documents.get("result")
    if out.kind != "result" or result is None:
        return [Problem("extensions", "extension-document", "only a result has an extension")]
    problems: list[Problem] = []
    if extensions.get("extends") != EXTENSION_OF:
        problems.append(
            Problem(
                "extensions.extends",
                "extension-document",
                f"must be {EXTENSION_OF!r}, got {extensions.get('extends')!r}",
            )
        )
    if extensions.get("id") is not None and extensions.get("id") != result.get("id"):
        problems.append(
            Problem(
                "extensions.id",
                "extension-document",
                f"extends result {extensions['id']!r}, not {result.get('id')!r}",
            )
        )
    merged = dict(result)
    for key, value in extensions.items():
        if key in ("extends", "id"):
            continue
        if key not in EXTENSION_FIELDS:
            problems.append(
                Problem(
                    f"extensions.{key}",
                    "additionalProperties",
                    f"unknown field {key!r} (known: extends, id, {', '.join(EXTENSION_FIELDS)})",
                )
            )
        elif key in merged:
            problems.append(
                Problem(f"extensions.{key}", "not", f"{key} is also in the result itself")
            )
        else:
            merged[key] = value
    if not problems:
        for problem in document.validate_schema(merged, "result"):
            head = problem.path.split(".", 1)[0].split("[", 1)[0]
            path = f"extensions.{problem.path}" if head in EXTENSION_FIELDS else problem.path
            problems.append(Problem(path, problem.rule, problem.message))
        out.documents["result"] = merged
    return problems


def build(normalized: Normalized) -> SpecDocument:
    """The model objects of a problem-free :class:`Normalized`."""
    if normalized.problems:
        raise SpecError(normalized.problems)
    docs = normalized.documents
    out = SpecDocument(normalized.kind, normalized.shape, warnings=list(normalized.warnings))
    if "bundle" in docs:
        out.bundle = bundle_from_dict(docs["bundle"])
        for run in out.bundle.runs:
            if run.profile_id is None:
                run.profile_id = out.bundle.profile
    if "result" in docs:
        out.result = result_from_dict(docs["result"])
    if "test_config" in docs:
        out.test_config = config_from_dict(docs["test_config"])
    if "mesh_config" in docs:
        out.mesh_config = mesh_config_from_dict(docs["mesh_config"])
    if "environment" in docs:
        out.environment = environment_from_dict(docs["environment"])
    return out


def read_document(
    data: bytes, *, kind: str | None = None, extensions: bytes | None = None
) -> SpecDocument:
    """Parse (JSON or YAML), normalize and build; SpecError lists every problem."""
    doc = document.parse_document(data, FORMAT)
    ext = document.parse_document(extensions, FORMAT) if extensions is not None else None
    return build(normalize(doc, kind=kind, extensions=ext))


def read_test_config(data: bytes) -> SpecDocument:
    """A PerformanceTestConfig (Meshery's ``{test, mesh}`` included); anything else is refused."""
    doc = document.parse_document(data, FORMAT)
    found = shapes.kind_of(doc)
    if found not in (None, "test_config"):
        raise ReaderError(
            FORMAT,
            f"the document is an {shapes.MESSAGE_NAMES[found]}, not a test configuration "
            "(an SMP PerformanceTestConfig with clients)",
        )
    return build(normalize(doc, kind="test_config"))


def import_run(
    result: Mapping[str, Any],
    *,
    mesh_config: Mapping[str, Any] | None = None,
    environment: Mapping[str, Any] | None = None,
    test_config: Mapping[str, Any] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Bundle:
    """A one-run bundle from the documents :func:`smp.spec.export.export_run` wrote.

    Each document is read as the message it is meant to be (in any SMP shape);
    the result's ``test_id``, ``mesh_config_id`` and ``env_id`` must name the
    other documents when both carry ids. SpecError lists every problem, each
    path prefixed with the document it is in.
    """
    problems: list[Problem] = []
    parts: dict[str, SpecDocument] = {}
    given = {
        "result": result,
        "mesh_config": mesh_config,
        "environment": environment,
        "test_config": test_config,
    }
    for kind, doc in given.items():
        if doc is None:
            continue
        normalized = normalize(doc, kind=kind, extensions=extensions if kind == "result" else None)
        problems.extend(
            Problem(_joined(kind, p.path), p.rule, p.message) for p in normalized.problems
        )
        if not normalized.problems:
            parts[kind] = build(normalized)
    if problems:
        raise SpecError(problems)
    run = parts["result"].result
    assert run is not None
    problems.extend(_links(run, parts))
    if problems:
        raise SpecError(problems)
    mesh = parts["mesh_config"].mesh_config if "mesh_config" in parts else None
    env = parts["environment"].environment if "environment" in parts else None
    config = parts["test_config"].test_config if "test_config" in parts else None
    return Bundle(
        profile=run.profile_id or (mesh.profile if mesh else None),
        environment=env or EnvironmentConfig(),
        mesh_config=mesh or ServiceMeshConfig(),
        config=config,
        runs=[run],
    )


def _joined(kind: str, path: str) -> str:
    return f"{kind}.{path}" if path else kind


def _links(run: PerformanceTestResult, parts: Mapping[str, SpecDocument]) -> list[Problem]:
    problems: list[Problem] = []
    for link, kind in (
        ("test_id", "test_config"),
        ("mesh_config_id", "mesh_config"),
        ("env_id", "environment"),
    ):
        part = parts.get(kind)
        target = getattr(part, kind, None) if part else None
        named = getattr(run, link)
        own = getattr(target, "id", None)
        if named is not None and own is not None and named != own:
            problems.append(
                Problem(
                    f"result.{link}",
                    "linked-document",
                    f"names {named!r} but the {kind} given is {own!r}",
                )
            )
    return problems
