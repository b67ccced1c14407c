"""Hypothesis strategies for every SMP model object, every field filled or left out.

Shared by the document round-trip tests and the canonical export tests, so that a
field added to the model is exercised by both once it is added here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from smp.messages import (
    APPLICATION_PROTOCOLS,
    ApplicationMetadata,
    CpuStats,
    MemoryStats,
    SwapStats,
    TrafficMetadata,
)
from smp.model import (
    MESH_TYPES,
    PROTOCOLS,
    ROLES,
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

texts = st.text(max_size=12)
names = st.text(min_size=1, max_size=12)
numbers = st.floats(0, 1e9, allow_nan=False, allow_infinity=False)
counts = st.integers(0, 10**9)
labels = st.dictionaries(names, texts, max_size=3)
times = st.datetimes(timezones=st.just(dt.UTC))


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def usages(*extra: str) -> st.SearchStrategy[ResourceUsage]:
    """A resource block with count / cpu / memory and the block's own ``extra`` fields."""
    kinds = {
        "rps": numbers,
        "bps": numbers,
        "cache_hit_rate": numbers,
        "lds_latency_ms": numbers,
        "cds_latency_ms": numbers,
    }
    return st.builds(
        ResourceUsage,
        count=maybe(counts),
        cpu_mcores=maybe(numbers),
        mem_mb=maybe(numbers),
        **{name: maybe(kinds.get(name, counts)) for name in extra},
    )


TRAFFIC = ("rps", "bps")
CONTROL_PLANE = (
    "endpoints",
    "services",
    "sidecars",
    "virtual_services",
    "destination_rules",
    "lds_latency_ms",
    "cds_latency_ms",
)
blocks = {
    "sidecar": maybe(usages(*TRAFFIC)),
    "ingress_gateway": maybe(usages(*TRAFFIC)),
    "egress_gateway": maybe(usages(*TRAFFIC)),
    "mesh_control_plane": maybe(usages(*CONTROL_PLANE)),
    "mesh_telemetry": maybe(usages("rps")),
    "mesh_policy": maybe(usages("rps", "cache_hit_rate")),
}
workloads = st.builds(
    IndividualWorkload,
    name=names,
    count=maybe(counts),
    cpu_mcores=maybe(numbers),
    mem_mb=maybe(numbers),
)


def _flat(kind: type[Any], value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    import dataclasses

    return st.builds(kind, **{f.name: maybe(value) for f in dataclasses.fields(kind)})


results = st.builds(
    PerformanceTestResult,
    latencies_ms=st.builds(
        Latencies,
        min=maybe(numbers),
        average=maybe(numbers),
        p50=numbers,
        p90=maybe(numbers),
        p95=maybe(numbers),
        p99=maybe(numbers),
        p999=maybe(numbers),
        max=maybe(numbers),
    ),
    actual_qps=maybe(numbers),
    start_time=maybe(times),
    end_time=maybe(times),
    duration_s=maybe(numbers),
    requested_qps=maybe(numbers),
    request_count=maybe(counts),
    error_count=maybe(counts),
    status_codes=st.dictionaries(st.sampled_from(["200", "503", "-1", "SERVING"]), counts),
    histogram=st.lists(st.builds(HistogramBucket, numbers, numbers, counts), max_size=3),
    load_generator=maybe(st.builds(LoadGenerator, name=names, version=maybe(texts))),
    protocol=maybe(st.sampled_from(PROTOCOLS)),
    connections=maybe(st.integers(1, 10_000)),
    role=maybe(st.sampled_from(ROLES)),
    profile_id=maybe(texts),
    resources=maybe(st.builds(RunResources, **blocks, workloads=st.lists(workloads, max_size=2))),
    raw=maybe(st.builds(RawOutput, format=names, content=texts)),
    labels=labels,
    id=maybe(texts),
    details_uri=maybe(texts),
    test_id=maybe(texts),
    mesh_config_id=maybe(texts),
    env_id=maybe(texts),
    cpu=maybe(_flat(CpuStats, numbers)),
    memory=maybe(_flat(MemoryStats, numbers)),
    swap=maybe(_flat(SwapStats, numbers)),
)
environments = st.builds(
    EnvironmentConfig,
    kubernetes_version=maybe(texts),
    node=st.lists(
        st.builds(
            Node,
            type=maybe(texts),
            cores=maybe(numbers),
            mem_mb=maybe(numbers),
            arch=maybe(texts),
            count=st.integers(1, 100),
        ),
        max_size=2,
    ),
    individual_workloads=st.lists(workloads, max_size=2),
    cni=maybe(texts),
    kernel_version=maybe(texts),
    provider=maybe(texts),
    calibration=maybe(st.builds(Calibration, probe=names, score=st.floats(0.001, 1e9), unit=names)),
    labels=labels,
    id=maybe(texts),
    smp_version=maybe(texts),
    traffic_metadata=maybe(_flat(TrafficMetadata, texts)),
)
application_metadata = st.builds(
    ApplicationMetadata,
    **{
        name: maybe(texts)
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
    },
    application_protocol=maybe(st.sampled_from(APPLICATION_PROTOCOLS)),
)
mesh_configs = st.builds(
    ServiceMeshConfig,
    mesh_type=st.sampled_from(MESH_TYPES),
    mesh_version=maybe(texts),
    mtls_enabled=maybe(st.booleans()),
    mesh_telemetry_enabled=maybe(st.booleans()),
    mesh_policy_enabled=maybe(st.booleans()),
    proxy_concurrency=maybe(st.integers(0, 64)),
    proxy_build=maybe(texts),
    labels=labels,
    id=maybe(texts),
    smp_version=maybe(texts),
    profile=maybe(texts),
    exp_group_uuid=maybe(texts),
    exp_uuid=maybe(texts),
    mesh_labels=labels,
    mesh_annotations=labels,
    application_metadata=maybe(application_metadata),
    **blocks,
)
clients = st.builds(
    Client,
    load_generator=maybe(texts),
    protocol=maybe(st.sampled_from(PROTOCOLS)),
    connections=maybe(st.integers(1, 1000)),
    rps=maybe(numbers),
    internal=maybe(st.booleans()),
    endpoint_url=st.lists(texts, max_size=2),
    headers=labels,
    cookies=labels,
    body=maybe(texts),
    content_type=maybe(texts),
    ssl_certificate=maybe(texts),
    additional_options=maybe(texts),
)
configs = st.builds(
    PerformanceTestConfig,
    id=maybe(texts),
    name=maybe(texts),
    duration=maybe(texts),
    clients=st.lists(clients, max_size=2),
    labels=labels,
    smp_version=maybe(texts),
)
bundles = st.builds(
    Bundle,
    profile=maybe(texts),
    environment=environments,
    mesh_config=mesh_configs,
    config=maybe(configs),
    runs=st.lists(results, min_size=1, max_size=3),
    labels=labels,
)
