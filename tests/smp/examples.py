"""Valid SMP documents shared by the smp tests (the same bundle docs/smp.md shows)."""

from __future__ import annotations

import copy
from typing import Any

_RESULT: dict[str, Any] = {
    "id": "run-baseline-1",
    "role": "baseline",
    "profile_id": "http-100",
    "start_time": "2024-05-01T12:00:00Z",
    "end_time": "2024-05-01T12:01:00Z",
    "duration_s": 60.0,
    "latencies_ms": {
        "min": 0.5,
        "average": 1.2,
        "p50": 1.0,
        "p90": 2.0,
        "p95": 2.5,
        "p99": 3.0,
        "p999": 3.5,
        "max": 4.0,
    },
    "actual_qps": 100.0,
    "requested_qps": 100.0,
    "request_count": 6000,
    "error_count": 12,
    "status_codes": {"200": 5988, "503": 12},
    "histogram": [
        {"start_ms": 0.5, "end_ms": 1.0, "count": 3000},
        {"start_ms": 1.0, "end_ms": 2.0, "count": 2400},
        {"start_ms": 2.0, "end_ms": 3.0, "count": 540},
        {"start_ms": 3.0, "end_ms": 4.0, "count": 60},
    ],
    "load_generator": {"name": "fortio", "version": "1.57.3"},
    "protocol": "http",
    "connections": 4,
    "resources": {
        "workloads": [{"name": "httpbin", "count": 1, "cpu_mcores": 180, "mem_mb": 35}],
    },
    "labels": {"runner": "smp-runner 0.1.0"},
    "smp_version": "0.6.0",
}


def result() -> dict[str, Any]:
    """One valid, consistent baseline result (fresh copy)."""
    return copy.deepcopy(_RESULT)


def bundle() -> dict[str, Any]:
    """A valid, consistent bundle: one baseline run and one Istio mTLS run (fresh copy)."""
    baseline = result()
    mesh = result()
    mesh.update(
        id="run-mesh-1",
        role="mesh",
        start_time="2024-05-01T12:02:00Z",
        end_time="2024-05-01T12:03:00Z",
        latencies_ms={
            "min": 0.9,
            "average": 1.9,
            "p50": 1.5,
            "p90": 2.5,
            "p95": 2.8,
            "p99": 3.5,
            "p999": 3.9,
            "max": 4.0,
        },
        histogram=[
            {"start_ms": 0.9, "end_ms": 1.0, "count": 600},
            {"start_ms": 1.0, "end_ms": 2.0, "count": 4200},
            {"start_ms": 2.0, "end_ms": 3.0, "count": 900},
            {"start_ms": 3.0, "end_ms": 4.0, "count": 300},
        ],
        resources={
            "sidecar": {"count": 2, "cpu_mcores": 95.5, "mem_mb": 48.2},
            "mesh_control_plane": {"count": 1, "cpu_mCores": 12, "mem_mb": 80},
            "workloads": [{"name": "httpbin", "count": 1, "cpu_mcores": 185, "mem_mb": 35}],
        },
    )
    return {
        "smp_version": "0.6.0",
        "profile": "http-100",
        "environment": {
            "kubernetes_version": "v1.30.2",
            "node": [
                {"type": "n2-standard-8", "cores": 8, "mem_mb": 32768, "arch": "amd64", "count": 3}
            ],
            "cni": "calico",
            "kernel_version": "6.1.0",
            "provider": "gke",
            "calibration": {"probe": "meshmark-cpu/1", "score": 1834.5, "unit": "ops/s"},
            "labels": {"region": "europe-west4"},
        },
        "mesh_config": {
            "mesh_type": "istio",
            "mesh_version": "1.24.1",
            "mtls_enabled": True,
            "mesh_telemetry_enabled": True,
            "mesh_policy_enabled": False,
            "proxy_concurrency": 2,
            "proxy_build": "envoy 1.32",
            "sidecar": {"count": 2, "cpu_mcores": 95.5, "mem_mb": 48.2},
        },
        "config": {
            "id": "http-100",
            "name": "HTTP, light load",
            "duration": "60s",
            "clients": [
                {
                    "load_generator": "fortio",
                    "protocol": "http",
                    "connections": 4,
                    "rps": 100,
                    "endpoint_url": ["http://httpbin.default.svc:8000/get"],
                }
            ],
        },
        "runs": [baseline, mesh],
        "labels": {"submitted_by": "ci"},
    }
