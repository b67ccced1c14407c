"""SMP bundles from native fortio outputs: the runs as the index's reader sees them,
what was measured around them, and the environment and mesh they ran on."""

from __future__ import annotations

import random
from typing import Any

from meshmark.demo import catalog
from meshmark.demo.plan import Campaign, proxy_count, proxy_cpu
from smp.model import (
    IndividualWorkload,
    PerformanceTestResult,
    RawOutput,
    ResourceUsage,
    RunResources,
)
from smp.profiles import Profile
from smp.readers import fortio as fortio_reader


def endpoint_url(profile: Profile) -> str:
    if profile.protocol == "grpc":
        return "fortio-server.bench.svc.cluster.local:8079"
    size = f"?size={profile.payload_bytes}" if profile.payload_bytes else ""
    if profile.services > 2:  # fortio's fetch proxy chains the services
        hops = [f"svc-{chr(ord('a') + i)}.bench:8080" for i in range(profile.services - 1)]
        return "http://" + "/fortio/fetch/".join(hops) + f"/echo{size}"
    return f"http://fortio-server.bench.svc.cluster.local:8080/echo{size}"


def smp_run(
    text: str, role: str, profile: Profile, run_id: str, doc: dict[str, Any] | None = None
) -> PerformanceTestResult:
    """The fortio output read by the index's own reader, with the bundle's extensions.

    ``doc``: the document ``text`` was written from, converted by the same reader without
    parsing the text back (what parsing would give: tests/meshmark/test_demo_fortio_text.py)."""
    if doc is not None:
        result = fortio_reader.convert(doc)
    else:
        (result,) = fortio_reader.read(text.encode())
    result.role = role
    result.profile_id = profile.id
    result.id = f"{run_id}-{role}"
    result.raw = RawOutput(format="fortio", content=text)
    result.labels["runner"] = catalog.RUNNER_LABEL
    return result


def run_resources(
    result: PerformanceTestResult, current: Campaign, rng: random.Random
) -> RunResources:
    """What was measured during the run: the application's pods, and on a mesh run the
    proxies and the control plane (on this machine: CPU divided by its speed)."""
    env, variant, profile = current.environment, current.variant, current.profile
    mesh, speed = variant.mesh, env.speed
    qps = result.actual_qps or 0.0
    servers = profile.services - 1
    workloads = [
        IndividualWorkload(
            name="fortio-client",
            count=1,
            cpu_mcores=_r(
                (catalog.CLIENT_CPU_PER_1K * qps / 1000 + catalog.APP_IDLE_MCORES)
                / speed
                * rng.lognormvariate(0.0, 0.05)
            ),
            mem_mb=_r(catalog.CLIENT_MEM_MB * rng.lognormvariate(0.0, 0.03)),
        ),
        IndividualWorkload(
            name="fortio-server",
            count=servers,
            cpu_mcores=_r(
                servers
                * (catalog.SERVER_CPU_PER_1K * qps / 1000 + catalog.APP_IDLE_MCORES)
                / speed
                * rng.lognormvariate(0.0, 0.05)
            ),
            mem_mb=_r(servers * catalog.SERVER_MEM_MB * rng.lognormvariate(0.0, 0.03)),
        ),
    ]
    resources = RunResources(workloads=workloads)
    if result.role == "mesh":
        count = proxy_count(mesh, profile.services, env.count)
        cpu = proxy_cpu(variant, current.shape, qps) + count * mesh.proxy_idle_mcores
        resources.sidecar = ResourceUsage(
            count=count,
            cpu_mcores=_r(cpu / speed * current.cpu_bias * rng.lognormvariate(0.0, 0.05)),
            mem_mb=_r(count * mesh.proxy_mem_mb * rng.lognormvariate(0.0, 0.04)),
        )
        resources.mesh_control_plane = ResourceUsage(
            count=1,
            cpu_mcores=_r(mesh.control_plane_cpu_mcores / speed * rng.lognormvariate(0, 0.15)),
            mem_mb=_r(mesh.control_plane_mem_mb * rng.lognormvariate(0.0, 0.05)),
        )
    return resources


def _r(value: float) -> float:
    return round(value, 2)


def bundle_document(
    seed: int,
    current: Campaign,
    repetition: int,
    runs: list[dict[str, Any]],
    rng: random.Random,
    slowdown: float,
) -> dict[str, Any]:
    env, profile, variant = current.environment, current.profile, current.variant
    mesh = variant.mesh
    mesh_config: dict[str, Any] = {
        "mesh_type": mesh.mesh_type,
        "mesh_version": variant.version,
        "mtls_enabled": variant.mtls,
        "mesh_telemetry_enabled": True,
        "mesh_policy_enabled": False,
    }
    if mesh.proxy_concurrency is not None:
        mesh_config["proxy_concurrency"] = mesh.proxy_concurrency
    build = catalog.PROXY_BUILDS.get((mesh.mesh_type, variant.version))
    if build:
        mesh_config["proxy_build"] = build
    mesh_config["labels"] = {"data_plane": "per-node proxy" if mesh.sidecarless else "sidecar"}
    labels = {
        "generator": "meshmark seed_demo",
        "seed": str(seed),
        "campaign": f"c{current.index}",
        "repetition": str(repetition + 1),
    }
    if slowdown != 1.0:
        labels["planted"] = f"noisy neighbour: mesh run {slowdown:.1f}x slower"
    client = {
        "load_generator": "fortio",
        "protocol": profile.protocol,
        "connections": profile.connections,
        "rps": profile.rps,
        "internal": True,
        "endpoint_url": [endpoint_url(profile)],
    }
    return {
        "smp_version": "0.6.0",
        "profile": profile.id,
        "environment": {
            "kubernetes_version": env.kubernetes_version,
            "node": [
                {
                    "type": env.node_type,
                    "cores": env.cores,
                    "mem_mb": env.mem_mb,
                    "arch": env.arch,
                    "count": env.count,
                }
            ],
            "cni": env.cni,
            "kernel_version": env.kernel_version,
            "provider": env.provider,
            "calibration": {
                "probe": "meshmark-cpu/1",
                "score": round(1000.0 * env.speed * rng.gauss(1.0, 0.015), 1),
                "unit": "ops/s",
            },
            "labels": {"region": env.region},
        },
        "mesh_config": mesh_config,
        "config": {
            "id": profile.id,
            "name": profile.name,
            "duration": f"{profile.duration_s}s",
            "clients": [{k: v for k, v in client.items() if v is not None}],
        },
        "runs": runs,
        "labels": labels,
    }
