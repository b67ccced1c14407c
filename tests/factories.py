"""Plain-data factories for SMP documents (no Django), shared by tests and benches."""

from __future__ import annotations

import copy
from typing import Any


def make_run(role: str, *, p50: float, p99: float, qps: float = 990.0) -> dict[str, Any]:
    return {
        "role": role,
        "profile_id": "http-1k",
        "start_time": "2026-11-01T10:00:00Z",
        "end_time": "2026-11-01T10:01:00Z",
        "duration_s": 60.0,
        "latencies_ms": {
            "min": p50 * 0.4,
            "average": p50 * 1.1,
            "p50": p50,
            "p90": p50 * 1.6,
            "p95": p50 * 1.9,
            "p99": p99,
            "p999": p99 * 1.5,
            "max": p99 * 2,
        },
        "actual_qps": qps,
        "requested_qps": 1000.0,
        "request_count": int(qps * 60),
        "error_count": 0,
        "status_codes": {"200": int(qps * 60)},
        "load_generator": {"name": "fortio", "version": "1.57.3"},
        "protocol": "http",
        "connections": 16,
    }


def make_bundle(**overrides: Any) -> dict[str, Any]:
    """A valid SMP bundle: one baseline and one Istio mesh run on a 3-node cluster."""
    bundle: dict[str, Any] = {
        "profile": "http-1k",
        "environment": {
            "kubernetes_version": "v1.30.2",
            "node": [
                {"type": "n2-standard-8", "cores": 8, "mem_mb": 32768, "arch": "amd64", "count": 3}
            ],
            "calibration": {"probe": "meshmark-cpu-1", "score": 1000.0, "unit": "ops/s"},
        },
        "mesh_config": {
            "mesh_type": "istio",
            "mesh_version": "1.24.1",
            "mtls_enabled": True,
            "sidecar": {"count": 2, "cpu_mcores": 700.0, "mem_mb": 80.0},
            "mesh_control_plane": {"count": 1, "cpu_mcores": 50.0, "mem_mb": 120.0},
        },
        "runs": [make_run("baseline", p50=1.0, p99=3.0), make_run("mesh", p50=1.6, p99=5.5)],
    }
    for key, value in overrides.items():
        bundle[key] = value
    return copy.deepcopy(bundle)


def multipart_form(
    fields: dict[str, str], files: dict[str, list[tuple[str, bytes]]]
) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type, as a client would send it."""
    from urllib3.filepost import encode_multipart_formdata

    parts: list[tuple[str, Any]] = list(fields.items())
    parts += [(name, entry) for name, entries in files.items() for entry in entries]
    return encode_multipart_formdata(parts)
