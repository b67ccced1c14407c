"""Model objects from schema-valid MeshMark documents (dicts in the names of docs/smp.md).

Every function assumes its input passed :func:`smp.document.validate_schema`
for the matching kind; documents in the spec's own spellings (protos, v0.1,
the legacy sample, Meshery's test configuration) are first turned into this
shape by :mod:`smp.spec`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any, TypeVar

from smp.messages import ApplicationMetadata, CpuStats, MemoryStats, SwapStats, TrafficMetadata
from smp.model import (
    RESOURCE_BLOCKS,
    Bundle,
    Calibration,
    CapacitySearch,
    CapacityTrial,
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
from smp.units import parse_timestamp

Flat = TypeVar("Flat", CpuStats, MemoryStats, SwapStats, ApplicationMetadata, TrafficMetadata)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _text_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def _cpu(d: Mapping[str, Any]) -> float | None:
    return _opt_float(d.get("cpu_mcores", d.get("cpu_mCores")))


def _flat(
    kind: type[Flat], d: Mapping[str, Any] | None, convert: Callable[[Any], Any]
) -> Flat | None:
    """A message whose fields are all numbers (or all texts), converted by ``convert``."""
    if d is None:
        return None
    return kind(**{f.name: convert(d.get(f.name)) for f in fields(kind)})


def _usage(d: Mapping[str, Any] | None) -> ResourceUsage | None:
    if d is None:
        return None
    return ResourceUsage(
        count=_opt_int(d.get("count")),
        cpu_mcores=_cpu(d),
        mem_mb=_opt_float(d.get("mem_mb")),
        rps=_opt_float(d.get("rps")),
        bps=_opt_float(d.get("bps")),
        cache_hit_rate=_opt_float(d.get("cache_hit_rate")),
        endpoints=_opt_int(d.get("endpoints")),
        services=_opt_int(d.get("services")),
        sidecars=_opt_int(d.get("sidecars")),
        virtual_services=_opt_int(d.get("virtual_services")),
        destination_rules=_opt_int(d.get("destination_rules")),
        lds_latency_ms=_opt_float(d.get("lds_latency_ms")),
        cds_latency_ms=_opt_float(d.get("cds_latency_ms")),
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


def _capacity(d: Mapping[str, Any] | None) -> CapacitySearch | None:
    if d is None:
        return None
    return CapacitySearch(
        objective_p99_ms=float(d["objective_p99_ms"]),
        rps=float(d["rps"]),
        converged=d.get("converged"),
        tolerance=_opt_float(d.get("tolerance")),
        trials=[
            CapacityTrial(
                requested_qps=float(t["requested_qps"]),
                actual_qps=float(t["actual_qps"]),
                p99_ms=_opt_float(t.get("p99_ms")),
                error_rate=float(t["error_rate"]),
                passed=bool(t["passed"]),
                duration_s=_opt_float(t.get("duration_s")),
            )
            for t in d.get("trials", [])
        ],
    )


def _timestamp(value: Any) -> dt.datetime | None:
    return None if value is None else parse_timestamp(str(value))


def _version(d: Mapping[str, Any]) -> dict[str, str]:
    return {"smp_version": str(d["smp_version"])} if "smp_version" in d else {}


def result_from_dict(d: Mapping[str, Any]) -> PerformanceTestResult:
    """Build a PerformanceTestResult from a schema-valid mapping.

    Reads the v0.1 spellings ``actual_QPS`` and ``cpu_mCores`` the schema
    still allows; timestamps become aware datetimes.
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
            if d.get("latencies_ok_ms") is not None
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
        capacity=_capacity(d.get("capacity")),
        raw=RawOutput(format=str(raw["format"]), content=str(raw["content"])) if raw else None,
        labels=_text_map(d.get("labels")),
        id=d.get("id"),
        details_uri=d.get("details_uri"),
        test_id=d.get("test_id"),
        mesh_config_id=d.get("mesh_config_id"),
        env_id=d.get("env_id"),
        cpu=_flat(CpuStats, d.get("cpu"), _opt_float),
        memory=_flat(MemoryStats, d.get("memory"), _opt_float),
        swap=_flat(SwapStats, d.get("swap"), _opt_float),
        **_version(d),
    )


def environment_from_dict(d: Mapping[str, Any] | None) -> EnvironmentConfig:
    """An EnvironmentConfig from a schema-valid mapping (``None`` -> an empty one)."""
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
        id=d.get("id"),
        smp_version=d.get("smp_version"),
        traffic_metadata=_flat(TrafficMetadata, d.get("traffic_metadata"), _opt_text),
    )


def mesh_config_from_dict(d: Mapping[str, Any] | None) -> ServiceMeshConfig:
    """A ServiceMeshConfig from a schema-valid mapping (``None`` -> mesh type ``none``)."""
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
        id=d.get("id"),
        smp_version=d.get("smp_version"),
        profile=d.get("profile"),
        exp_group_uuid=d.get("exp_group_uuid"),
        exp_uuid=d.get("exp_uuid"),
        mesh_labels=_text_map(d.get("mesh_labels")),
        mesh_annotations=_text_map(d.get("mesh_annotations")),
        application_metadata=_flat(ApplicationMetadata, d.get("application_metadata"), _opt_text),
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
        cookies=_text_map(d.get("cookies")),
        body=d.get("body"),
        content_type=d.get("content_type"),
        ssl_certificate=d.get("ssl_certificate"),
        additional_options=d.get("additional_options"),
    )


def config_from_dict(d: Mapping[str, Any]) -> PerformanceTestConfig:
    """A PerformanceTestConfig from a schema-valid mapping."""
    return PerformanceTestConfig(
        id=d.get("id"),
        name=d.get("name"),
        duration=d.get("duration"),
        clients=[_client(c) for c in d.get("clients", [])],
        labels=_text_map(d.get("labels")),
        smp_version=d.get("smp_version"),
    )


def bundle_from_dict(d: Mapping[str, Any]) -> Bundle:
    """Build a Bundle from a schema-valid mapping (see :func:`result_from_dict`).

    Runs are taken as written; a run's missing ``profile_id`` is *not* filled in
    here (the smp reader does that), so consistency checks see the document as is.
    """
    config = d.get("config")
    return Bundle(
        profile=d.get("profile"),
        environment=environment_from_dict(d.get("environment")),
        mesh_config=mesh_config_from_dict(d.get("mesh_config")),
        config=config_from_dict(config) if config is not None else None,
        runs=[result_from_dict(r) for r in d["runs"]],
        labels=_text_map(d.get("labels")),
        **_version(d),
    )
