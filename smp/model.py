"""The SMP messages as plain, typed Python objects.

Field names follow the Service Mesh Performance protos (PerformanceTestConfig,
PerformanceTestResult, ServiceMeshConfig, EnvironmentConfig). Where the spec has
gaps this index fills them with documented extensions (see docs/smp.md): p95 and
p99.9, requested qps, request count, status codes and errors, the latency
histogram, the role of a run, the profile id, the load generator and the
environment's calibration figure.

Units are fixed and part of the name where the spec does so: latencies in
milliseconds, rates per second, CPU in millicores, memory in MiB (the spec says
"MB"; Kubernetes and every collector we read report mebibytes).

Serialization is explicit: ``to_dict`` writes the JSON shape of docs/smp.md and
drops absent (None / empty) fields; parsing a document back into these objects
lives in :mod:`smp.document`, after schema validation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from smp.messages import (
    ApplicationMetadata,
    CpuStats,
    MemoryStats,
    SwapStats,
    TrafficMetadata,
)

SMP_VERSION = "0.6.0"
"""The SMP spec version these objects correspond to (protos with mesh_type)."""

MESH_TYPES: tuple[str, ...] = (
    "none",
    "appmesh",
    "cilium",
    "consul",
    "istio",
    "kuma",
    "linkerd",
    "maesh",
    "traefik_mesh",
    "octarine",
    "networkservicemesh",
    "tanzu",
    "nginx_service_mesh",
    "open_service_mesh",
    "citrix_service_mesh",
    "nginx",
    "haproxy",
)
"""Every ServiceMeshes.Type of the SMP spec and its later additions, plus "none"
for a baseline (no mesh) run, and "nginx" / "haproxy": the real proxies that
``smp-runner run --local`` puts in a sidecar's place on one machine (their
results land in ``local/...`` environment classes, apart from clusters)."""

RESOURCE_BLOCKS: tuple[str, ...] = (
    "sidecar",
    "ingress_gateway",
    "egress_gateway",
    "mesh_control_plane",
    "mesh_telemetry",
    "mesh_policy",
)
"""The ServiceMeshConfig blocks that report a mesh's resources (also in RunResources)."""

PROTOCOLS: tuple[str, ...] = ("http", "tcp", "udp", "grpc")
ROLES: tuple[str, ...] = ("baseline", "mesh")

Role = Literal["baseline", "mesh"]

PERCENTILE_FIELDS: tuple[str, ...] = ("p50", "p90", "p95", "p99", "p999")
"""Percentile fields of :class:`Latencies`, in increasing order."""

LATENCY_ORDER: tuple[str, ...] = ("min", "p50", "p90", "p95", "p99", "p999", "max")
"""Fields that must be non-decreasing when present."""


_SCALARS = frozenset({int, float, str, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _clean(value: Any) -> Any:
    """Recursively turn dataclasses into dicts, dropping None and empty containers.

    Hot (every run of every submission, histogram buckets included): exact
    type checks first, dataclass field names looked up once per class.
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list or kind is tuple:
        return [_clean(v) for v in value]
    names = _FIELD_NAMES.get(kind)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        out: dict[str, Any] = {}
        for name in names:
            item = getattr(value, name)
            if type(item) in _SCALARS:  # most fields (every bucket's): kept unless None
                if item is not None:
                    out[name] = item
                continue
            cleaned = _clean(item)
            if cleaned is None or cleaned == {} or cleaned == []:
                continue
            out[name] = cleaned
        return out
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, dt.datetime):
        return format_timestamp(value)
    return value


def format_timestamp(value: dt.datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as protobuf's Timestamp JSON mapping writes it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    text = value.astimezone(dt.UTC).isoformat()
    return text.replace("+00:00", "Z")


@dataclass
class Latencies:
    """PerformanceTestResult.Latency, in milliseconds, plus p95 and p99.9 (``p999``)."""

    min: float | None = None
    average: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    p999: float | None = None
    max: float | None = None

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass
class HistogramBucket:
    """One latency bucket: ``count`` requests took between ``start_ms`` and ``end_ms``."""

    start_ms: float
    end_ms: float
    count: int


@dataclass
class LoadGenerator:
    name: str
    version: str | None = None


@dataclass
class ResourceUsage:
    """Count, CPU (millicores) and memory (MiB) of one group of pods or processes.

    Mirrors the ``count`` / ``cpu_mcores`` / ``mem_mb`` triple that every
    ServiceMeshConfig block shares (``cpu_mCores`` in the v0.1 proto). The
    other fields are the spec's own for some blocks only (the schema says
    which): ``rps`` and ``bps`` (requests and bytes per second through the
    gateways and sidecars; ``rps`` through the proxies for telemetry and
    policy), ``cache_hit_rate`` (policy), and the control plane's object
    counts and propagation latencies.
    """

    count: int | None = None
    cpu_mcores: float | None = None
    mem_mb: float | None = None
    rps: float | None = None
    bps: float | None = None
    cache_hit_rate: float | None = None
    endpoints: int | None = None
    services: int | None = None
    sidecars: int | None = None
    virtual_services: int | None = None
    destination_rules: int | None = None
    lds_latency_ms: float | None = None
    cds_latency_ms: float | None = None


@dataclass
class IndividualWorkload:
    """EnvironmentConfig.IndividualWorkload: an application workload's resources."""

    name: str
    count: int | None = None
    cpu_mcores: float | None = None
    mem_mb: float | None = None


@dataclass
class RunResources:
    """Resources measured during one run (extension).

    The mesh's blocks use the ServiceMeshConfig names; ``workloads`` are the
    application's own pods or processes, so the mesh's share can be computed.
    """

    sidecar: ResourceUsage | None = None
    ingress_gateway: ResourceUsage | None = None
    egress_gateway: ResourceUsage | None = None
    mesh_control_plane: ResourceUsage | None = None
    mesh_telemetry: ResourceUsage | None = None
    mesh_policy: ResourceUsage | None = None
    workloads: list[IndividualWorkload] = field(default_factory=list)


@dataclass
class RawOutput:
    """A load generator's native output carried inside a bundle, verbatim."""

    format: str
    content: str


@dataclass
class CapacityTrial:
    """One measured trial of a capacity search (extension)."""

    requested_qps: float
    actual_qps: float
    p99_ms: float | None
    error_rate: float
    passed: bool
    duration_s: float | None = None


@dataclass
class CapacitySearch:
    """The search a capacity profile's run ends (extension): the objective, the highest
    requested rate that passed (0 when none did), whether it converged, every trial."""

    objective_p99_ms: float
    rps: float
    trials: list[CapacityTrial] = field(default_factory=list)
    converged: bool | None = None
    tolerance: float | None = None


@dataclass
class PerformanceTestResult:
    """One run of a load generator against one target, normalized to SMP.

    SMP fields: ``start_time``, ``end_time``, ``latencies_ms``, ``actual_qps``
    (``actual_QPS`` in the v0.1 proto; both are read), ``labels``, ``id``,
    ``smp_version``, ``details_uri``, ``test_id``, ``mesh_config_id``,
    ``env_id``, and the spec's CPU / Memory / Swap messages as ``cpu``,
    ``memory``, ``swap`` (see :mod:`smp.messages`). Everything else is an
    extension documented in docs/smp.md.
    """

    latencies_ms: Latencies = field(default_factory=Latencies)
    actual_qps: float | None = None
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    duration_s: float | None = None
    # Extensions read by the admission rules and MeshMark 2 (docs/meshmark.md).
    latencies_ok_ms: Latencies | None = None
    warmup_s: float | None = None
    payload_bytes: int | None = None
    requested_qps: float | None = None
    request_count: int | None = None
    error_count: int | None = None
    status_codes: dict[str, int] = field(default_factory=dict)
    histogram: list[HistogramBucket] = field(default_factory=list)
    load_generator: LoadGenerator | None = None
    protocol: str | None = None
    connections: int | None = None
    role: str | None = None
    profile_id: str | None = None
    resources: RunResources | None = None
    capacity: CapacitySearch | None = None
    raw: RawOutput | None = None
    labels: dict[str, str] = field(default_factory=dict)
    id: str | None = None
    smp_version: str = SMP_VERSION
    details_uri: str | None = None
    test_id: str | None = None
    mesh_config_id: str | None = None
    env_id: str | None = None
    cpu: CpuStats | None = None
    memory: MemoryStats | None = None
    swap: SwapStats | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _clean(self)
        return out

    @property
    def error_rate(self) -> float | None:
        """Errors per request, when both figures are known."""
        if self.error_count is None or not self.request_count:
            return None
        return self.error_count / self.request_count


@dataclass
class Client:
    """PerformanceTestConfig.Client; ``endpoint_url`` is the proto's ``endpoint_urls``.

    ``rps`` 0 or absent: no fixed rate (as fast as the load generator goes).
    """

    load_generator: str | None = None
    protocol: str | None = None
    connections: int | None = None
    rps: float | None = None
    internal: bool | None = None
    endpoint_url: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    content_type: str | None = None
    ssl_certificate: str | None = None
    additional_options: str | None = None


@dataclass
class PerformanceTestConfig:
    """PerformanceTestConfig: how the load is made. ``duration`` is a text like ``60s``."""

    id: str | None = None
    name: str | None = None
    duration: str | None = None
    clients: list[Client] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    smp_version: str | None = None


@dataclass
class ServiceMeshConfig:
    """ServiceMeshConfig: which mesh, how it is configured, what it used.

    ``mesh_type`` is one of :data:`MESH_TYPES`; ``mesh_version`` is the mesh's
    release (the proto's ``mesh_build``, or the ``version`` of its
    ``mesh_type`` ServiceMesh message, whose ``labels`` and ``annotations`` are
    ``mesh_labels`` and ``mesh_annotations``). ``id``, ``smp_version``,
    ``profile``, ``exp_group_uuid``, ``exp_uuid`` and ``application_metadata``
    are the spec's and kept as written.
    """

    mesh_type: str = "none"
    mesh_version: str | None = None
    mtls_enabled: bool | None = None
    mesh_telemetry_enabled: bool | None = None
    mesh_policy_enabled: bool | None = None
    proxy_concurrency: int | None = None
    proxy_build: str | None = None
    sidecar: ResourceUsage | None = None
    ingress_gateway: ResourceUsage | None = None
    egress_gateway: ResourceUsage | None = None
    mesh_control_plane: ResourceUsage | None = None
    mesh_telemetry: ResourceUsage | None = None
    mesh_policy: ResourceUsage | None = None
    labels: dict[str, str] = field(default_factory=dict)
    id: str | None = None
    smp_version: str | None = None
    profile: str | None = None
    exp_group_uuid: str | None = None
    exp_uuid: str | None = None
    mesh_labels: dict[str, str] = field(default_factory=dict)
    mesh_annotations: dict[str, str] = field(default_factory=dict)
    application_metadata: ApplicationMetadata | None = None


@dataclass
class Node:
    """EnvironmentConfig.Node, plus architecture and a count of identical nodes."""

    type: str | None = None
    cores: float | None = None
    mem_mb: float | None = None
    arch: str | None = None
    count: int = 1


@dataclass
class Calibration:
    """The environment's calibration figure (extension).

    ``score`` is the result of a fixed CPU workload (higher = faster machine) in
    ``unit``; the index divides it by the reference machine's figure to scale
    absolute CPU numbers. ``probe`` names the workload and its version so that
    figures from different probes are never mixed.
    """

    probe: str
    score: float
    unit: str = "ops/s"


@dataclass
class EnvironmentConfig:
    """EnvironmentConfig; ``node`` is the proto's ``nodes`` (``node`` in v0.1)."""

    kubernetes_version: str | None = None
    node: list[Node] = field(default_factory=list)
    individual_workloads: list[IndividualWorkload] = field(default_factory=list)
    cni: str | None = None
    kernel_version: str | None = None
    provider: str | None = None
    calibration: Calibration | None = None
    labels: dict[str, str] = field(default_factory=dict)
    id: str | None = None
    smp_version: str | None = None
    traffic_metadata: TrafficMetadata | None = None


@dataclass
class Bundle:
    """One submission's worth of SMP: environment, mesh config, profile and runs.

    A bundle normally holds one baseline run and one or more mesh runs made by
    the same runner invocation on the same environment. ``smp-runner run
    --repeat N`` interleaves N pairs (baseline, mesh, baseline, mesh, ...): each
    mesh run is then compared with the baseline just before it
    (:meth:`baseline_index_of`).
    """

    profile: str | None = None
    environment: EnvironmentConfig = field(default_factory=EnvironmentConfig)
    mesh_config: ServiceMeshConfig = field(default_factory=ServiceMeshConfig)
    config: PerformanceTestConfig | None = None
    runs: list[PerformanceTestResult] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    smp_version: str = SMP_VERSION

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _clean(self)
        return out

    def runs_with_role(self, role: str) -> list[PerformanceTestResult]:
        return [r for r in self.runs if r.role == role]

    def baseline_index_of(self, index: int) -> int | None:
        """The index of the baseline run that ``runs[index]`` is compared with.

        With one baseline, that one, wherever it is listed. With several (interleaved
        pairs), the last baseline listed before ``index``, so that each mesh run meets
        the baseline made just before it and drift over the invocation touches both
        sides of every pair; a mesh run listed before every baseline (which
        consistency refuses) gets the first. None without any baseline."""
        baselines = [i for i, run in enumerate(self.runs) if run.role == "baseline"]
        if not baselines:
            return None
        before = [i for i in baselines if i < index]
        return before[-1] if len(baselines) > 1 and before else baselines[0]
