"""Canonical SMP: a run's result, mesh, environment and test configurations as the spec's messages.

Each ``export_*`` function returns a document of one message of the spec's
protos (``smp.PerformanceTestResult``, ``smp.ServiceMeshConfig``,
``smp.EnvironmentConfig``, ``smp.PerformanceTestConfig``) in the proto3 JSON
mapping: the protos' field names, int64 as decimal text, enums by name,
timestamps in RFC 3339 UTC. A strict protobuf parser of the spec's protos
accepts it (the test suite compiles them and checks). YAML is the same
document (:func:`to_yaml`).

MeshMark's figures the spec has no field for are carried where it leaves room:

- in the message's ``labels``, as ``meshmark.io/<path>`` (:mod:`smp.spec.labels`):
  a result's p95, p99.9, duration, requested rate, request and error counts,
  protocol, connections, role, profile and load generator; the environment's
  CNI, kernel, provider, calibration and node architectures; and the exact value
  of any figure a proto field can only hold rounded (the mesh blocks' int32
  millicores and MiB, node cores and memory, a client's int64 rps);
- in the result's extension document (:func:`result_extensions`): its status
  codes, histogram, resources measured during the run, raw output, and the
  spec's CPU / Memory / Swap messages, which the proto declares without a
  field.

Every field the model knows is written, zeros and ``false`` included (a
proto3 parser accepts them; absent still means unknown). Identical nodes
(``count``) are written one by one, as the spec has no count.
:func:`smp.spec.read.import_run` reads it all back with every figure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import yaml

from smp.model import (
    SMP_VERSION,
    Bundle,
    Client,
    EnvironmentConfig,
    PerformanceTestConfig,
    PerformanceTestResult,
    ResourceUsage,
    ServiceMeshConfig,
    format_timestamp,
)
from smp.spec import labels as ext_labels
from smp.spec import names
from smp.spec.read import EXTENSION_FIELDS, EXTENSION_OF

INT32_MAX = 2**31 - 1
MAX_EXPANDED_NODES = 10_000
"""Identical nodes are written one by one; more than this in one environment is refused."""

# The blocks of ServiceMeshConfig the proto has a field for, and their proto fields.
_PROTO_BLOCKS: dict[str, tuple[str, ...]] = {
    "ingress_gateway": ("count", "cpu_mcores", "mem_mb", "rps", "bps"),
    "sidecar": ("count", "cpu_mcores", "mem_mb", "rps", "bps"),
    "mesh_telemetry": ("count", "cpu_mcores", "mem_mb", "rps"),
    "mesh_policy": ("count", "cpu_mcores", "mem_mb", "rps", "cache_hit_rate"),
    "mesh_control_plane": (
        "count",
        "cpu_mcores",
        "mem_mb",
        "endpoints",
        "services",
        "sidecars",
        "virtual_services",
        "destination_rules",
        "lds_latency_ms",
        "cds_latency_ms",
    ),
}


class ExportError(ValueError):
    """A model object the spec's messages cannot hold (named by its field path)."""


def _int(value: float, path: str, limit: int = INT32_MAX) -> int:
    rounded = round(value)
    if not -limit - 1 <= rounded <= limit:
        raise ExportError(f"{path}: {value} does not fit the proto's integer field")
    return int(rounded)


def _version(given: str | None) -> str:
    return SMP_VERSION if given is None else given


def _with_labels(own: dict[str, str], extra: dict[str, Any], path: str) -> dict[str, str]:
    reserved = sorted(k for k in own if k.startswith(ext_labels.PREFIX))
    if reserved:
        raise ExportError(
            f"{path}.labels: {reserved[0]!r} uses the prefix MeshMark reserves for its figures"
        )
    out = dict(own)
    for key, value in extra.items():
        if value is not None:
            out[ext_labels.PREFIX + key] = ext_labels.text_of(value)
    return out


def _put_labels(doc: dict[str, Any], values: dict[str, str]) -> None:
    if values:
        doc["labels"] = values


def _rounded(
    doc: dict[str, Any],
    name: str,
    value: float | None,
    exact: dict[str, Any],
    path: str,
    *,
    as_text: bool = False,
) -> None:
    """An integer proto field: the rounded figure, and the exact one as a label if they differ."""
    if value is None:
        return
    number = _int(value, path, 2**63 - 1 if as_text else INT32_MAX)
    doc[name] = str(number) if as_text else number
    if number != value:
        exact[path] = float(value)


# -- result ----------------------------------------------------------------------------------


def export_result(
    result: PerformanceTestResult,
    *,
    test_id: str | None = None,
    mesh_config_id: str | None = None,
    env_id: str | None = None,
    details_uri: str | None = None,
) -> dict[str, Any]:
    """``result`` as an ``smp.PerformanceTestResult`` (proto3 JSON); the ids link the others."""
    doc: dict[str, Any] = {"smp_version": result.smp_version}
    if result.id is not None:
        doc["id"] = result.id
    lat = result.latencies_ms
    generator = result.load_generator
    extra = {
        "latencies_ms.p95": lat.p95,
        "latencies_ms.p999": lat.p999,
        "duration_s": result.duration_s,
        "warmup_s": result.warmup_s,
        "payload_bytes": result.payload_bytes,
        "requested_qps": result.requested_qps,
        "request_count": result.request_count,
        "error_count": result.error_count,
        "protocol": result.protocol,
        "connections": result.connections,
        "role": result.role,
        "profile_id": result.profile_id,
        "load_generator.name": generator.name if generator else None,
        "load_generator.version": generator.version if generator else None,
    }
    _put_labels(doc, _with_labels(result.labels, extra, "result"))
    for name in ("start_time", "end_time"):
        stamp = getattr(result, name)
        if stamp is not None:
            doc[name] = format_timestamp(stamp)
    latencies = {
        name: getattr(lat, name)
        for name in ("min", "average", "p50", "p90", "p99", "max")
        if getattr(lat, name) is not None
    }
    if latencies:
        doc["latencies_ms"] = latencies
    if result.actual_qps is not None:
        doc["actual_qps"] = result.actual_qps
    for name, given in (
        ("details_uri", details_uri),
        ("test_id", test_id),
        ("mesh_config_id", mesh_config_id),
        ("env_id", env_id),
    ):
        value = given if given is not None else getattr(result, name)
        if value is not None:
            doc[name] = value
    return doc


def result_extensions(result: PerformanceTestResult) -> dict[str, Any] | None:
    """The extension document beside the result: what neither a field nor a label holds.

    ``{"extends": "smp.PerformanceTestResult", "id": <the result's id>, ...}``
    with MeshMark's ``status_codes``, ``histogram``, ``resources``, ``raw`` and
    the spec's ``cpu``, ``memory``, ``swap``; None when the result has none.
    """
    whole = result.to_dict()
    carried = {name: whole[name] for name in EXTENSION_FIELDS if name in whole}
    if not carried:
        return None
    head: dict[str, Any] = {"extends": EXTENSION_OF}
    if result.id is not None:
        head["id"] = result.id
    return head | carried


# -- mesh configuration ----------------------------------------------------------------------


def _block(usage: ResourceUsage, name: str, exact: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for field_name in _PROTO_BLOCKS[name]:
        _rounded(doc, field_name, getattr(usage, field_name), exact, f"{name}.{field_name}")
    return doc


def export_mesh_config(
    mesh: ServiceMeshConfig, *, id: str | None = None, profile: str | None = None
) -> dict[str, Any]:
    """``mesh`` as an ``smp.ServiceMeshConfig``; ``id`` and ``profile``, given, replace the model's.

    ``mesh_type`` is a ServiceMesh message ``{type, version, labels,
    annotations}``; a mesh type the enum lacks (``none``, ``maesh``,
    ``citrix_service_mesh``, ``nginx``, ``haproxy``) is the label
    ``meshmark.io/mesh_type``. The proto has no egress gateway field: that
    block is labels.
    """
    doc: dict[str, Any] = {"smp_version": _version(mesh.smp_version)}
    own_id = id if id is not None else mesh.id
    if own_id is not None:
        doc["id"] = own_id
    exact: dict[str, Any] = {}
    for name in _PROTO_BLOCKS:
        usage = getattr(mesh, name)
        if usage is not None:
            doc[name] = _block(usage, name, exact)
    if mesh.egress_gateway is not None:
        for field_name, value in dataclasses.asdict(mesh.egress_gateway).items():
            if value is not None:
                exact[f"egress_gateway.{field_name}"] = value
    for name in ("mesh_policy_enabled", "mesh_telemetry_enabled", "mtls_enabled"):
        if getattr(mesh, name) is not None:
            doc[name] = getattr(mesh, name)
    if mesh.proxy_concurrency is not None:
        doc["proxy_concurrency"] = mesh.proxy_concurrency
    if mesh.mesh_version is not None:
        doc["mesh_build"] = mesh.mesh_version
    for name in ("proxy_build", "exp_group_uuid", "exp_uuid"):
        if getattr(mesh, name) is not None:
            doc[name] = getattr(mesh, name)
    chosen = profile if profile is not None else mesh.profile
    if chosen is not None:
        doc["profile"] = chosen
    enum_name = names.ENUM_NAME_OF_MESH_TYPE.get(mesh.mesh_type)
    if enum_name is None:
        exact["mesh_type"] = mesh.mesh_type
    service_mesh: dict[str, Any] = {"type": enum_name} if enum_name else {}
    if mesh.mesh_version is not None:
        service_mesh["version"] = mesh.mesh_version
    if mesh.mesh_labels:
        service_mesh["labels"] = dict(mesh.mesh_labels)
    if mesh.mesh_annotations:
        service_mesh["annotations"] = dict(mesh.mesh_annotations)
    if service_mesh:
        doc["mesh_type"] = service_mesh
    if mesh.application_metadata is not None:
        metadata = {
            k: v for k, v in dataclasses.asdict(mesh.application_metadata).items() if v is not None
        }
        if "application_protocol" in metadata:
            protocol = metadata["application_protocol"]
            metadata["application_protocol"] = names.ENUM_NAME_OF_APPLICATION_PROTOCOL[protocol]
        doc["application_metadata"] = metadata
    _put_labels(doc, _with_labels(mesh.labels, exact, "mesh_config"))
    return doc


# -- environment -----------------------------------------------------------------------------


def export_environment(environment: EnvironmentConfig, *, id: str | None = None) -> dict[str, Any]:
    """``environment`` as an ``smp.EnvironmentConfig`` (``id``, given, replaces the model's)."""
    env = environment
    doc: dict[str, Any] = {"smp_version": _version(env.smp_version)}
    own_id = id if id is not None else env.id
    if own_id is not None:
        doc["id"] = own_id
    exact: dict[str, Any] = {
        "cni": env.cni,
        "kernel_version": env.kernel_version,
        "provider": env.provider,
    }
    if env.calibration is not None:
        exact["calibration.probe"] = env.calibration.probe
        exact["calibration.score"] = env.calibration.score
        exact["calibration.unit"] = env.calibration.unit
    if env.kubernetes_version is not None:
        doc["kubernetes_version"] = env.kubernetes_version
    if sum(node.count for node in env.node) > MAX_EXPANDED_NODES:
        raise ExportError(f"environment.node: more than {MAX_EXPANDED_NODES} nodes to write")
    nodes: list[dict[str, Any]] = []
    for index, node in enumerate(env.node):
        path = f"node[{index}]"
        spec_node: dict[str, Any] = {}
        if node.type is not None:
            spec_node["type"] = node.type
        _rounded(spec_node, "cores", node.cores, exact, f"{path}.cores")
        _rounded(spec_node, "mem_mb", node.mem_mb, exact, f"{path}.mem_mb", as_text=True)
        exact[f"{path}.arch"] = node.arch
        if node.count != 1:
            exact[f"{path}.count"] = node.count
        nodes.extend(dict(spec_node) for _ in range(node.count))
    if nodes:
        doc["nodes"] = nodes
    workloads: list[dict[str, Any]] = []
    for index, workload in enumerate(env.individual_workloads):
        path = f"individual_workloads[{index}]"
        spec_workload: dict[str, Any] = {"name": workload.name}
        if workload.count is not None:
            spec_workload["count"] = workload.count
        _rounded(spec_workload, "cpu_mcores", workload.cpu_mcores, exact, f"{path}.cpu_mcores")
        _rounded(spec_workload, "mem_mb", workload.mem_mb, exact, f"{path}.mem_mb")
        workloads.append(spec_workload)
    if workloads:
        doc["individual_workloads"] = workloads
    if env.traffic_metadata is not None:
        doc["traffic_metadata"] = {
            k: v for k, v in dataclasses.asdict(env.traffic_metadata).items() if v is not None
        }
    _put_labels(doc, _with_labels(env.labels, exact, "environment"))
    return doc


# -- test configuration ----------------------------------------------------------------------


def _client(client: Client, index: int, exact: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if client.internal is not None:
        doc["internal"] = client.internal
    if client.load_generator is not None:
        doc["load_generator"] = client.load_generator
    if client.protocol is not None:
        doc["protocol"] = names.ENUM_NAME_OF_PROTOCOL[client.protocol]
    if client.connections is not None:
        doc["connections"] = client.connections
    _rounded(doc, "rps", client.rps, exact, f"clients[{index}].rps", as_text=True)
    for name in ("headers", "cookies"):
        if getattr(client, name):
            doc[name] = dict(getattr(client, name))
    for name in ("body", "content_type"):
        if getattr(client, name) is not None:
            doc[name] = getattr(client, name)
    if client.endpoint_url:
        doc["endpoint_urls"] = list(client.endpoint_url)
    for name in ("ssl_certificate", "additional_options"):
        if getattr(client, name) is not None:
            doc[name] = getattr(client, name)
    return doc


def export_test_config(config: PerformanceTestConfig, *, id: str | None = None) -> dict[str, Any]:
    """``config`` as an ``smp.PerformanceTestConfig`` (``id``, given, replaces the model's)."""
    doc: dict[str, Any] = {"smp_version": _version(config.smp_version)}
    own_id = id if id is not None else config.id
    if own_id is not None:
        doc["id"] = own_id
    if config.name is not None:
        doc["name"] = config.name
    exact: dict[str, Any] = {}
    clients = [_client(client, index, exact) for index, client in enumerate(config.clients)]
    _put_labels(doc, _with_labels(config.labels, exact, "test_config"))
    if clients:
        doc["clients"] = clients
    if config.duration is not None:
        doc["duration"] = config.duration
    return doc


# -- a whole run -----------------------------------------------------------------------------


@dataclass
class SmpExport:
    """One run as SMP: the spec's four messages and MeshMark's extension document."""

    result: dict[str, Any]
    mesh_config: dict[str, Any]
    environment: dict[str, Any]
    test_config: dict[str, Any] | None = None
    extensions: dict[str, Any] | None = None

    def documents(self) -> dict[str, dict[str, Any]]:
        """Every document by name (``result``, ``mesh_config``, ... ``extensions``)."""
        return {name: doc for name, doc in dataclasses.asdict(self).items() if doc is not None}


def export_run(
    bundle: Bundle,
    index: int,
    *,
    result_id: str | None = None,
    mesh_config_id: str | None = None,
    env_id: str | None = None,
    test_id: str | None = None,
    details_uri: str | None = None,
) -> SmpExport:
    """Run ``index`` of ``bundle`` with its mesh, environment and test configurations.

    The ids given (the index's own) name the documents; without them each
    document keeps the model's id (the test configuration's, else the bundle's
    profile). The result links to the documents that have an id, through
    ``test_id``, ``mesh_config_id`` and ``env_id``, in place of its own links:
    in a bundle the run's configurations are the bundle's.
    """
    run = bundle.runs[index]
    if result_id is not None:
        run = dataclasses.replace(run, id=result_id)
    config = bundle.config
    if config is not None and test_id is None:
        test_id = config.id if config.id is not None else bundle.profile
    mesh = bundle.mesh_config
    if mesh_config_id is None:
        mesh_config_id = mesh.id
    if env_id is None:
        env_id = bundle.environment.id
    return SmpExport(
        result=export_result(
            run,
            test_id=test_id if config is not None else None,
            mesh_config_id=mesh_config_id,
            env_id=env_id,
            details_uri=details_uri,
        ),
        mesh_config=export_mesh_config(
            mesh,
            id=mesh_config_id,
            profile=mesh.profile if mesh.profile is not None else bundle.profile,
        ),
        environment=export_environment(bundle.environment, id=env_id),
        test_config=export_test_config(config, id=test_id) if config is not None else None,
        extensions=result_extensions(run),
    )


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, writing texts that hold a YAML line break double-quoted.

    In a plain or single-quoted scalar YAML folds ``\\r``, NEL, LS and PS into
    line feeds; escaped in double quotes they come back as written.
    """


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if any(c in value for c in "\r\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(doc: dict[str, Any]) -> str:
    """The same document as YAML (texts that look like numbers or times stay quoted)."""
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


__all__ = [
    "ExportError",
    "SmpExport",
    "export_environment",
    "export_mesh_config",
    "export_result",
    "export_run",
    "export_test_config",
    "result_extensions",
    "to_yaml",
]
