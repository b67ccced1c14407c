"""Every message MeshMark reads, field by field: its name here, and the spec's spellings of it.

A field's *name* is the one of docs/smp.md (the model's). ``spec`` lists the
spellings the protos gave it (the current protos and the v0.1 one); each of
these, and the name itself when the field is the spec's, is also accepted in
the proto3 JSON mapping's lowerCamelCase (``latenciesMs``), as a protobuf JSON
printer writes them by default. MeshMark's own extensions have one spelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from smp.spec.names import lower_camel

KINDS = ("value", "number", "int", "message", "messages", "map", "enum", "texts", "mesh_type")


@dataclass(frozen=True)
class Field:
    """How one field is read.

    ``kind``: ``value`` (kept as written; the schema checks it), ``number`` /
    ``int`` (the proto's double / integer types: proto3 JSON may write them as
    decimal text), ``message`` / ``messages`` (one or a list of ``message``),
    ``map`` (text to text), ``enum`` (by ``enum``: ``protocol``,
    ``application_protocol``), ``texts`` (a list of texts; one text is a list
    of one), ``mesh_type`` (ServiceMeshConfig.mesh_type in any of its forms).
    """

    kind: str = "value"
    message: str | None = None
    enum: str | None = None
    spec: tuple[str, ...] = ()
    proto: bool = True
    """A field of the spec (camelCase accepted, numbers as text), not a MeshMark extension."""
    spec_name: bool = True
    """The field's name here is also one of the spec's spellings (so its camelCase is too)."""


def spec(
    kind: str = "value", *spellings: str, message: str | None = None, enum: str | None = None
) -> Field:
    return Field(kind=kind, message=message, enum=enum, spec=spellings, proto=True)


def renamed(kind: str, *spellings: str) -> Field:
    """A spec field MeshMark names differently: only ``spellings`` are the spec's."""
    return Field(kind=kind, spec=spellings, proto=True, spec_name=False)


def ours(kind: str = "value", message: str | None = None) -> Field:
    return Field(kind=kind, message=message, proto=False)


_COUNT = spec("int")
_NUMBER = spec("number")
_TEXT = spec()
_MAP = spec("map")
_CPU = spec("number", "cpu_mCores")

_BLOCK: dict[str, Field] = {
    "count": _COUNT,
    "cpu_mcores": _CPU,
    "mem_mb": _NUMBER,
    "rps": _NUMBER,
    "bps": _NUMBER,
    "cache_hit_rate": _NUMBER,
    "endpoints": _COUNT,
    "services": _COUNT,
    "sidecars": _COUNT,
    "virtual_services": _COUNT,
    "destination_rules": _COUNT,
    "lds_latency_ms": _NUMBER,
    "cds_latency_ms": _NUMBER,
}
_WORKLOAD: dict[str, Field] = {
    "name": _TEXT,
    "count": _COUNT,
    "cpu_mcores": _CPU,
    "mem_mb": _NUMBER,
}
_BLOCKS: dict[str, Field] = {
    "sidecar": spec("message", message="block"),
    "ingress_gateway": spec("message", message="block"),
    # The proto declares EgressGateway but gives ServiceMeshConfig no field of it.
    "egress_gateway": ours("message", message="block"),
    "mesh_control_plane": spec("message", message="block"),
    "mesh_telemetry": spec("message", message="block"),
    "mesh_policy": spec("message", message="block"),
}

MESSAGES: dict[str, dict[str, Field]] = {
    "latency": {name: _NUMBER for name in ("min", "average", "p50", "p90", "p99", "max")}
    | {"p95": ours(), "p999": ours()},
    "block": _BLOCK,
    "workload": _WORKLOAD,
    "run_resources": {name: ours("message", message="block") for name in _BLOCKS}
    | {"workloads": ours("messages", message="workload")},
    "cpu": {
        name: _NUMBER
        for name in (
            "cpu_mcores",
            "user",
            "nice",
            "system",
            "idle",
            "iowait",
            "hardware_interrupt",
            "software_interrupt",
            "steal",
        )
    },
    "memory": {name: _NUMBER for name in ("mem_total_mb", "mem_free_mb", "mem_used_mb")},
    "swap": {name: _NUMBER for name in ("swap_total_mb", "swap_free_mb", "swap_used_mb")},
    "result": {
        "smp_version": spec("value", "smps_version"),
        "id": _TEXT,
        "labels": _MAP,
        "start_time": _TEXT,
        "end_time": _TEXT,
        "latencies_ms": spec("message", message="latency"),
        "actual_qps": spec("number", "actual_QPS"),
        "details_uri": _TEXT,
        "test_id": spec("value", "testId"),
        "mesh_config_id": spec("value", "meshConfigId"),
        "env_id": spec("value", "envId"),
        "cpu": spec("message", message="cpu"),
        "memory": spec("message", message="memory"),
        "swap": spec("message", message="swap"),
        "duration_s": ours(),
        "latencies_ok_ms": ours("message", message="latency"),
        "warmup_s": ours(),
        "payload_bytes": ours(),
        "requested_qps": ours(),
        "request_count": ours(),
        "error_count": ours(),
        "status_codes": ours(),
        "histogram": ours(),
        "load_generator": ours(),
        "protocol": ours(),
        "connections": ours(),
        "role": ours(),
        "profile_id": ours(),
        "resources": ours("message", message="run_resources"),
        "capacity": ours(),
        "raw": ours(),
    },
    "node": {"type": _TEXT, "cores": _NUMBER, "mem_mb": _NUMBER, "arch": ours(), "count": ours()},
    "traffic_metadata": {
        name: _TEXT
        for name in (
            "load_balance_name",
            "load_balance_ip",
            "host_endpoint",
            "prometheus_url",
            "http_headers",
            "user_agent",
            "ping_health_endpoint",
        )
    },
    "environment": {
        "smp_version": spec("value", "smps_version"),
        "id": _TEXT,
        "labels": _MAP,
        "kubernetes_version": _TEXT,
        "node": spec("messages", "nodes", message="node"),
        "individual_workloads": spec("messages", message="workload"),
        "traffic_metadata": spec("message", message="traffic_metadata"),
        "cni": ours(),
        "kernel_version": ours(),
        "provider": ours(),
        "calibration": ours(),
    },
    "application_metadata": {
        name: _TEXT
        for name in (
            "application_name",
            "application_version",
            "helmchart_name",
            "helmchart_version",
            "cnabspec_version",
            "compose_version",
            "cluster_name",
            "k8s_version_supported",
        )
    }
    | {"application_protocol": spec("enum", enum="application_protocol")},
    "mesh_config": {
        "smp_version": spec("value", "smps_version"),
        "id": _TEXT,
        "labels": _MAP,
        **_BLOCKS,
        "mesh_policy_enabled": _TEXT,
        "mesh_telemetry_enabled": _TEXT,
        "mtls_enabled": _TEXT,
        "proxy_concurrency": _COUNT,
        "mesh_version": renamed("value", "mesh_build"),
        "proxy_build": _TEXT,
        "exp_group_uuid": _TEXT,
        "exp_uuid": _TEXT,
        "profile": _TEXT,
        "mesh_type": spec("mesh_type"),
        "mesh_labels": ours("map"),
        "mesh_annotations": ours("map"),
        "application_metadata": spec("message", message="application_metadata"),
    },
    "client": {
        "internal": _TEXT,
        "load_generator": _TEXT,
        "protocol": spec("enum", enum="protocol"),
        "connections": _COUNT,
        "rps": _NUMBER,
        "headers": _MAP,
        "cookies": _MAP,
        "body": _TEXT,
        "content_type": _TEXT,
        "endpoint_url": spec("texts", "endpoint_urls"),
        "ssl_certificate": _TEXT,
        "additional_options": _TEXT,
    },
    "test_config": {
        "smp_version": spec("value", "smps_version"),
        "id": _TEXT,
        "name": _TEXT,
        "labels": _MAP,
        "clients": spec("messages", message="client"),
        "duration": _TEXT,
    },
    "bundle": {
        "smp_version": ours(),
        "profile": ours(),
        "environment": ours("message", message="environment"),
        "mesh_config": ours("message", message="mesh_config"),
        "config": ours("message", message="test_config"),
        "runs": ours("messages", message="result"),
        "labels": ours("map"),
    },
}


@cache
def spellings(message: str) -> dict[str, str]:
    """Every accepted key of ``message`` -> the field's name."""
    out: dict[str, str] = {}
    for name, field in MESSAGES[message].items():
        keys = {name}
        if field.proto:
            spelled = {*field.spec, name} if field.spec_name else set(field.spec)
            keys |= spelled | {lower_camel(k) for k in spelled}
        for key in keys:
            out[key] = name
    return out


@cache
def spec_names(message: str) -> frozenset[str]:
    """The spellings of ``message``'s fields that only the spec uses (not MeshMark's names)."""
    return frozenset(key for key, name in spellings(message).items() if key != name)
