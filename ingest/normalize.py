"""Normalization: turn a validated SMP bundle into the values the index stores.

Pure functions on the ``smp`` model, apart from the database code, so they can
be tested on plain data and reused by reprocessing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from scoring.inputs import app_workloads, mesh_blocks, successful
from scoring.normalize import env_class, normalize_arch
from smp.model import (
    EnvironmentConfig,
    PerformanceTestResult,
    ResourceUsage,
    ServiceMeshConfig,
)

_K8S_MINOR = re.compile(r"v?(\d+)\.(\d+)")
_KERNEL_SERIES = re.compile(r"(\d+)\.(\d+)")


def kubernetes_minor(version: str | None) -> str:
    """``v1.29.3-gke.100`` -> ``1.29``; patch releases do not change what a run measures."""
    if not version:
        return ""
    match = _K8S_MINOR.search(version)
    return f"{match.group(1)}.{match.group(2)}" if match else version.strip()[:32]


def kernel_series(version: str | None) -> str:
    """``6.1.0-18-amd64`` -> ``6.1``."""
    if not version:
        return ""
    match = _KERNEL_SERIES.search(version)
    return f"{match.group(1)}.{match.group(2)}" if match else version.strip()[:64]


def environment_class(env: EnvironmentConfig) -> str:
    """The grouping leaderboards use: platform, CPU architecture and size.

    Coarse on purpose: two clusters in the same class are close enough that
    ratios to their own baselines can be ranked together. The architecture and
    core buckets are MeshMark's (docs/meshmark.md); the platform prefix keeps
    one-machine local runs apart from Kubernetes clusters.
    """
    platform = "k8s" if env.kubernetes_version else "local"
    return f"{platform}/{env_class(env.node)}"


@dataclass(frozen=True)
class EnvironmentValues:
    fingerprint: str
    fields: dict[str, Any]


def environment_values(env: EnvironmentConfig) -> EnvironmentValues:
    """The comparable identity of an environment and the columns stored for it.

    The fingerprint hashes what makes runs comparable: Kubernetes minor
    version, and per node group the count, instance type, cores, memory and
    architecture, plus CNI and kernel series when given. Calibration is not part
    of it: the same cluster measures slightly differently every time.
    """
    nodes = sorted(
        (
            {
                "count": node.count,
                "type": node.type or "",
                "cores": node.cores,
                "mem_mb": node.mem_mb,
                "arch": node.arch or "",
            }
            for node in env.node
        ),
        key=lambda n: json.dumps(n, sort_keys=True),
    )
    k8s = kubernetes_minor(env.kubernetes_version)
    identity = {
        "kubernetes": k8s,
        "nodes": nodes,
        "cni": (env.cni or "").lower(),
        "kernel": kernel_series(env.kernel_version),
    }
    fingerprint = hashlib.sha256(
        json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    node_count = sum(node.count for node in env.node)
    cores = [node.cores * node.count for node in env.node if node.cores is not None]
    mems = [node.mem_mb * node.count for node in env.node if node.mem_mb is not None]
    total_cores = float(sum(cores)) if cores else None
    arches = sorted({normalize_arch(node.arch) for node in env.node if node.arch})
    arch = "+".join(arches)
    fields: dict[str, Any] = {
        "kubernetes_version": k8s,
        "node_count": node_count,
        "total_cores": total_cores,
        "total_mem_mb": float(sum(mems)) if mems else None,
        "arch": arch,
        "nodes": nodes,
        "cni": identity["cni"],
        "kernel_version": identity["kernel"],
        "provider": env.provider or "",
        "environment_class": environment_class(env),
        "calibration_probe": env.calibration.probe if env.calibration else "",
        "calibration_score": env.calibration.score if env.calibration else None,
    }
    return EnvironmentValues(fingerprint=fingerprint, fields=fields)


def mesh_config_values(config: ServiceMeshConfig, *, role: str) -> dict[str, Any]:
    """The MeshConfig row a run belongs to. A baseline run belongs to mesh "none"."""
    if role == "baseline":
        return {
            "mesh_type": "none",
            "version": "",
            "mtls": None,
            "telemetry": None,
            "policy": None,
            "proxy_concurrency": None,
        }
    return {
        "mesh_type": config.mesh_type,
        "version": config.mesh_version or "",
        "mtls": config.mtls_enabled,
        "telemetry": config.mesh_telemetry_enabled,
        "policy": config.mesh_policy_enabled,
        "proxy_concurrency": config.proxy_concurrency,
    }


RESOURCE_COLUMNS: tuple[str, ...] = (
    "sidecar_count",
    "sidecar_cpu_mcores",
    "sidecar_mem_mb",
    "gateway_cpu_mcores",
    "gateway_mem_mb",
    "control_plane_cpu_mcores",
    "control_plane_mem_mb",
    "app_cpu_mcores",
    "app_mem_mb",
)
"""The Result columns :func:`resource_values` fills."""


def _sum_usage(blocks: list[ResourceUsage | None]) -> tuple[int | None, float | None, float | None]:
    present = [b for b in blocks if b is not None]
    if not present:
        return None, None, None
    counts = [b.count for b in present if b.count is not None]
    cpus = [b.cpu_mcores for b in present if b.cpu_mcores is not None]
    mems = [b.mem_mb for b in present if b.mem_mb is not None]
    return (
        sum(counts) if counts else None,
        float(sum(cpus)) if cpus else None,
        float(sum(mems)) if mems else None,
    )


def resource_values(
    run: PerformanceTestResult,
    mesh_config: ServiceMeshConfig | None,
    environment: EnvironmentConfig | None = None,
) -> dict[str, Any]:
    """Sidecar, gateway, control-plane and application resources of one run.

    The blocks are chosen exactly as the score reads them (docs/meshmark.md,
    "Inputs"): block by block, what the run measured, else the bundle's
    mesh_config (for mesh runs); workloads from the run, else the environment.
    Gateways are ingress plus egress; the control plane includes telemetry
    and policy.
    """
    blocks = mesh_blocks(run, mesh_config if run.role == "mesh" else None)
    sidecar_count, sidecar_cpu, sidecar_mem = _sum_usage([blocks.get("sidecar")])
    _, gateway_cpu, gateway_mem = _sum_usage(
        [blocks.get("ingress_gateway"), blocks.get("egress_gateway")]
    )
    _, cp_cpu, cp_mem = _sum_usage(
        [blocks.get("mesh_control_plane"), blocks.get("mesh_telemetry"), blocks.get("mesh_policy")]
    )
    _, app_cpu, app_mem = _sum_usage(
        [
            ResourceUsage(count=w.count, cpu_mcores=w.cpu_mcores, mem_mb=w.mem_mb)
            for w in app_workloads(run, environment)
        ]
    )
    values = {
        "sidecar_count": sidecar_count,
        "sidecar_cpu_mcores": sidecar_cpu,
        "sidecar_mem_mb": sidecar_mem,
        "gateway_cpu_mcores": gateway_cpu,
        "gateway_mem_mb": gateway_mem,
        "control_plane_cpu_mcores": cp_cpu,
        "control_plane_mem_mb": cp_mem,
        "app_cpu_mcores": app_cpu,
        "app_mem_mb": app_mem,
    }
    return {k: v for k, v in values.items() if v is not None}


def run_values(run: PerformanceTestResult) -> dict[str, Any]:
    """The Result columns that come straight from the SMP result, and its successful
    requests as MeshMark 2 reads them (:func:`scoring.inputs.successful`: a mesh run's
    mixed latencies are bounded as if its failures were the fastest requests, a
    baseline's as if they were the slowest)."""
    lat = run.latencies_ms
    ok, ok_count = successful(run, failures_fastest=run.role != "baseline")
    return {
        "ok_count": None if math.isnan(ok_count) else ok_count,
        "ok_p50_ms": ok.p50,
        "ok_p90_ms": ok.p90,
        "ok_p99_ms": ok.p99,
        "ok_p999_ms": ok.p999,
        "load_generator": run.load_generator.name if run.load_generator else "",
        "load_generator_version": (run.load_generator.version or "") if run.load_generator else "",
        "protocol": run.protocol or "",
        "start_time": run.start_time,
        "duration_s": run.duration_s,
        "latency_min_ms": lat.min,
        "latency_avg_ms": lat.average,
        "p50_ms": lat.p50,
        "p90_ms": lat.p90,
        "p95_ms": lat.p95,
        "p99_ms": lat.p99,
        "p999_ms": lat.p999,
        "latency_max_ms": lat.max,
        "actual_qps": run.actual_qps,
        "requested_qps": run.requested_qps,
        "capacity_rps": run.capacity.rps if run.capacity is not None else None,
        "request_count": run.request_count,
        "error_count": run.error_count,
        "error_rate": run.error_rate,
        "status_codes": dict(run.status_codes),
        "histogram": [
            {"start_ms": b.start_ms, "end_ms": b.end_ms, "count": b.count} for b in run.histogram
        ],
    }


CERTIFICATION_STATUSES = ("pass", "warn", "skipped")
"""What a bundle's ``certify.status`` label may say (``fail`` stops the run: no bundle)."""
CERTIFIED = ("pass", "warn")
"""Statuses a board's "certified runs" filter keeps: no check of the environment failed."""


def certification_values(labels: dict[str, str]) -> dict[str, Any]:
    """The Result columns of smp-runner's ``certify`` outcome, from the bundle's labels:
    ``certify.status`` and one ``certify.<check>`` label of ``"<status>: <reason>"`` each.
    A status the runner never writes is not believed ("")."""
    status = labels.get("certify.status", "")
    if status not in CERTIFICATION_STATUSES:
        return {"certification": "", "certification_checks": []}
    checks = []
    for key, value in sorted(labels.items()):
        if key.startswith("certify.") and key != "certify.status":
            check_status, _, reason = value.partition(": ")
            checks.append({"name": key.removeprefix("certify."), "status": check_status,
                           "reason": reason})  # fmt: skip
    return {"certification": status, "certification_checks": checks}
