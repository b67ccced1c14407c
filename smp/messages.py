"""SMP messages that MeshMark reads and keeps, but neither scores nor compares.

They are in the spec's protos, so a document that carries them is read rather
than refused (docs/smp.md, "Aliases and spec names"), and they are written back
on export. Field names are the protos' own.

- ``CpuStats``, ``MemoryStats``, ``SwapStats``: the messages ``CPU``, ``Memory``
  and ``Swap`` declared inside ``PerformanceTestResult``. The proto declares
  them without a field of their type; MeshMark reads them under ``cpu``,
  ``memory`` and ``swap`` (the names a writer gives them), as figures of the
  machine the test ran on. Units as the proto's comments say: CPU in
  millicores and the tick shares as written, memory and swap in MB (read as
  MiB, like every other memory figure here).
- ``ApplicationMetadata``: ``ServiceMeshConfig.application_metadata``.
- ``TrafficMetadata``: ``EnvironmentConfig.traffic_metadata``.
"""

from __future__ import annotations

from dataclasses import dataclass

APPLICATION_PROTOCOLS: tuple[str, ...] = ("http", "https")
"""ApplicationMetadata.ApplicationProtocol, lower case (PROTOCOL_INVALID is "absent")."""


@dataclass
class CpuStats:
    """PerformanceTestResult.CPU: millicores used and the CPU time split as /proc/stat does."""

    cpu_mcores: float | None = None
    user: float | None = None
    nice: float | None = None
    system: float | None = None
    idle: float | None = None
    iowait: float | None = None
    hardware_interrupt: float | None = None
    software_interrupt: float | None = None
    steal: float | None = None


@dataclass
class MemoryStats:
    """PerformanceTestResult.Memory, MiB."""

    mem_total_mb: float | None = None
    mem_free_mb: float | None = None
    mem_used_mb: float | None = None


@dataclass
class SwapStats:
    """PerformanceTestResult.Swap, MiB."""

    swap_total_mb: float | None = None
    swap_free_mb: float | None = None
    swap_used_mb: float | None = None


@dataclass
class ApplicationMetadata:
    """ApplicationMetadata (metadata.proto): the application the mesh carried."""

    application_name: str | None = None
    application_version: str | None = None
    helmchart_name: str | None = None
    helmchart_version: str | None = None
    cnabspec_version: str | None = None
    compose_version: str | None = None
    cluster_name: str | None = None
    k8s_version_supported: str | None = None
    application_protocol: str | None = None


@dataclass
class TrafficMetadata:
    """TrafficMetadata (metadata.proto): how the traffic reached the application."""

    load_balance_name: str | None = None
    load_balance_ip: str | None = None
    host_endpoint: str | None = None
    prometheus_url: str | None = None
    http_headers: str | None = None
    user_agent: str | None = None
    ping_health_endpoint: str | None = None
