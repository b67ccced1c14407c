"""Which SMP message a document is, and the two shapes that are not one message.

**Legacy result** (the SMP repository's published sample, ``service mesh
performance result.yaml``, and the v0.1 ``smps.yaml`` template it descends
from): one flat document mixing a result, the test's client, the environment
and the mesh's figures. Read as a result with its companions::

    start_time, end_time, details_uri, labels, smps_version -> the result
    client.latencies_ms                 -> result.latencies_ms
    client.rps                          -> result.actual_qps (see below)
    client.connections                  -> result.connections and the client's
    client.internal, client.protocol    -> the test configuration's client
    endpoint_url                        -> the client's endpoint_url
    env.kubernetes                      -> environment.kubernetes_version
    env.node_count, env.node            -> environment.node (with count)
    exp_uuid, exp_group_uuid, profile,
    mesh_build, proxy_build             -> mesh configuration
    config.{mtls_enabled, ...}          -> mesh configuration
    metrics.{ingress_gateway, sidecars, mesh_telemetry, mesh_policy,
             mesh_control_plane}        -> mesh configuration blocks
    metrics.individual_workload_<n>     -> environment.individual_workloads

``client.rps`` is the achieved rate: the sample's 0.9999971285438009 times its
10,800.031 s between start and end is 10,800.0 requests, fortio's ActualQPS.

**Meshery's test configuration** (``meshery-smp-action``'s ``load-test.yaml``):
``{test: PerformanceTestConfig, mesh: ServiceMesh}``; the mesh becomes the
companion mesh configuration's ``mesh_type``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smp.document import format_path
from smp.errors import Problem
from smp.spec.fields import spellings

KINDS: tuple[str, ...] = ("result", "bundle", "test_config", "mesh_config", "environment")
MESSAGE_NAMES: dict[str, str] = {
    "result": "SMP PerformanceTestResult",
    "bundle": "MeshMark bundle",
    "test_config": "SMP PerformanceTestConfig (a test configuration)",
    "mesh_config": "SMP ServiceMeshConfig (a mesh configuration)",
    "environment": "SMP EnvironmentConfig (an environment)",
}

# The fields that say what a document is: one of them is enough.
_MARKS: dict[str, frozenset[str]] = {
    "test_config": frozenset({"clients"}),
    "mesh_config": frozenset({"mesh_type", "mesh_version", "mtls_enabled"}),
    "environment": frozenset({"kubernetes_version", "node", "individual_workloads"}),
}
_LEGACY_TOP = frozenset(
    {
        "start_time",
        "end_time",
        "exp_uuid",
        "exp_group_uuid",
        "endpoint_url",
        "env",
        "client",
        "metrics",
        "smps_version",
        "mesh_build",
        "proxy_build",
        "profile",
        "details_uri",
        "labels",
        "config",
    }
)
_LEGACY_CLIENT = {
    "latencies_ms": ("result", "latencies_ms"),
    "rps": ("result", "actual_qps"),
    "connections": ("both", "connections"),
    "internal": ("client", "internal"),
    "protocol": ("client", "protocol"),
}
_LEGACY_METRICS = {
    "ingress_gateway": "ingress_gateway",
    "egress_gateway": "egress_gateway",
    "sidecars": "sidecar",
    "sidecar": "sidecar",
    "mesh_telemetry": "mesh_telemetry",
    "mesh_policy": "mesh_policy",
    "mesh_control_plane": "mesh_control_plane",
}


def _keys(doc: Mapping[str, Any], message: str) -> set[str]:
    names = spellings(message)
    return {names[str(k)] for k in doc if str(k) in names}


def is_legacy(doc: Mapping[str, Any]) -> bool:
    client = doc.get("client")
    return isinstance(client, Mapping) and "latencies_ms" in client


def is_meshery_test(doc: Mapping[str, Any]) -> bool:
    test = doc.get("test")
    return isinstance(test, Mapping) and set(doc) <= {"test", "mesh"}


def kind_of(doc: Any) -> str | None:
    """The message ``doc`` is (see :data:`KINDS`), or None when it is none of them."""
    if not isinstance(doc, Mapping):
        return None
    if isinstance(doc.get("runs"), list):
        runs = doc["runs"]
        return "bundle" if any(kind_of(run) == "result" for run in runs) else None
    if is_legacy(doc):
        return "result"
    if is_meshery_test(doc):
        return "test_config"
    found = [
        kind for kind, marks in _MARKS.items() if kind != "result" and _keys(doc, kind) & marks
    ]
    if _is_result(doc):
        found.insert(0, "result")
    # When fields of several messages are mixed, the one with most fields wins and the
    # others' fields are reported as unknown to it.
    found.sort(key=lambda kind: -len(_keys(doc, kind)))
    return found[0] if found else None


def _is_result(doc: Mapping[str, Any]) -> bool:
    """Latencies (as an object: ``latencies_ms: 3`` is nobody's) or an achieved rate."""
    names = spellings("result")
    for key, value in doc.items():
        name = names.get(str(key))
        if name == "actual_qps" or (name == "latencies_ms" and isinstance(value, Mapping)):
            return True
    return False


def shape_of(doc: Mapping[str, Any], kind: str) -> str:
    """``smp-legacy``, ``meshery-test``, ``smp-v0.1`` (says ``smps_version``) or ``smp``."""
    if kind == "result" and is_legacy(doc):
        return "smp-legacy"
    if kind == "test_config" and is_meshery_test(doc):
        return "meshery-test"
    if "smps_version" in doc:
        return "smp-v0.1"
    return "smp"


Origins = dict[str, dict[str, str]]
"""Per part: a path in the part's document -> the legacy document's path."""


def split_legacy(
    doc: Mapping[str, Any],
) -> tuple[dict[str, dict[str, Any]], Origins, list[Problem]]:
    """The legacy result's parts, as documents of MeshMark's messages (spec spellings kept).

    Returns ``{"result": ..., "mesh_config": ..., "environment": ...,
    "test_config": ...}`` (the last three only when the document has their
    fields), where each part's fields came from, and the problems found
    (unknown fields, with their paths).
    """
    parts: dict[str, dict[str, Any]] = {
        "result": {},
        "mesh_config": {},
        "environment": {},
        "test_config": {},
    }
    client: dict[str, Any] = {}
    problems: list[Problem] = []
    origins: Origins = {part: {} for part in parts}
    for key, value in doc.items():
        if key not in _LEGACY_TOP:
            known = ", ".join(sorted(_LEGACY_TOP))
            problems.append(
                Problem(key, "additionalProperties", f"unknown field {key!r} (known: {known})")
            )
        elif key in ("start_time", "end_time", "details_uri", "labels", "smps_version"):
            parts["result"][key] = value
        elif key in ("exp_uuid", "exp_group_uuid", "profile", "mesh_build", "proxy_build"):
            parts["mesh_config"][key] = value
        elif key == "endpoint_url":
            client["endpoint_url"] = value
            origins["test_config"]["clients[0].endpoint_url"] = key
        elif key == "client":
            _legacy_client(value, parts["result"], client, origins, problems)
        elif key == "env":
            _legacy_env(value, parts["environment"], origins["environment"], problems)
        elif key == "config":
            for name, item in (value if isinstance(value, Mapping) else {}).items():
                parts["mesh_config"][name] = item
                origins["mesh_config"][str(name)] = format_path([name], "config")
        elif key == "metrics":
            _legacy_metrics(value, parts, origins, problems)
    if client:
        parts["test_config"]["clients"] = [client]
        origins["test_config"].setdefault("clients[0]", "client")
    kept = {k: v for k, v in parts.items() if v or k == "result"}
    return kept, origins, problems


def _legacy_client(
    value: Any,
    result: dict[str, Any],
    client: dict[str, Any],
    origins: Origins,
    problems: list[Problem],
) -> None:
    for key, item in (value if isinstance(value, Mapping) else {}).items():
        if key not in _LEGACY_CLIENT:
            known = ", ".join(_LEGACY_CLIENT)
            problems.append(
                Problem(
                    format_path([key], "client"),
                    "additionalProperties",
                    f"unknown field {key!r} (known: {known})",
                )
            )
            continue
        where, name = _LEGACY_CLIENT[key]
        source = format_path([key], "client")
        if where in ("result", "both"):
            result[name] = item
            origins["result"][name] = source
        if where in ("client", "both"):
            client[name] = item
            origins["test_config"][f"clients[0].{name}"] = source


def _legacy_env(
    value: Any, environment: dict[str, Any], origins: dict[str, str], problems: list[Problem]
) -> None:
    env = value if isinstance(value, Mapping) else {}
    known = ("kubernetes", "node_count", "node")
    for key in env:
        if key not in known:
            problems.append(
                Problem(
                    format_path([key], "env"),
                    "additionalProperties",
                    f"unknown field {key!r} (known: {', '.join(known)})",
                )
            )
    if "kubernetes" in env:
        environment["kubernetes_version"] = env["kubernetes"]
        origins["kubernetes_version"] = "env.kubernetes"
    if "node" in env:
        node = dict(env["node"]) if isinstance(env["node"], Mapping) else env["node"]
        if isinstance(node, dict) and "node_count" in env:
            node["count"] = env["node_count"]
            origins["node[0].count"] = "env.node_count"
        environment["node"] = [node]
        origins["node[0]"] = "env.node"


def _legacy_metrics(
    value: Any, parts: dict[str, dict[str, Any]], origins: Origins, problems: list[Problem]
) -> None:
    for key, item in (value if isinstance(value, Mapping) else {}).items():
        source = format_path([key], "metrics")
        if key in _LEGACY_METRICS:
            parts["mesh_config"][_LEGACY_METRICS[key]] = item
            origins["mesh_config"][_LEGACY_METRICS[key]] = source
        elif str(key).startswith("individual_workload"):
            workloads = parts["environment"].setdefault("individual_workloads", [])
            origins["environment"][f"individual_workloads[{len(workloads)}]"] = source
            workloads.append(item)
        else:
            known = ", ".join([*_LEGACY_METRICS, "individual_workload_<n>"])
            problems.append(
                Problem(
                    format_path([key], "metrics"),
                    "additionalProperties",
                    f"unknown field {key!r} (known: {known})",
                )
            )
