"""Absolute figures shown beside the score, normalized to the reference machine.

The score itself needs no normalization (its latency and throughput MUEs are
ratios to the paired baseline, and its resource MUEs are shares). The absolute
figures do: a machine that runs the calibration probe ``f`` times faster than
the reference spends about ``f`` times fewer millicores on the same work, so
figures are multiplied by ``f = calibration.score / REFERENCE_SCORE`` to read as
"on the reference machine". Memory is not scaled. See docs/meshmark.md,
"Environment normalization".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.inputs import FloatArray, mesh_blocks, mesh_resource
from smp.model import Calibration, EnvironmentConfig, Node, PerformanceTestResult, ServiceMeshConfig

REFERENCE_PROBE = "meshmark-cpu/1"
"""The calibration probe whose figures can be normalized (name and version)."""

REFERENCE_SCORE = 1000.0
"""The reference machine's result on :data:`REFERENCE_PROBE`, in ``REFERENCE_UNIT``.

The reference machine is defined by this figure: a machine scoring 1000 on
the probe is the machine every normalized figure is expressed on.
"""

REFERENCE_UNIT = "ops/s"

NORMALIZED_LABEL = "normalized to the reference machine"
RAW_LABEL = "as measured (not normalized: no usable calibration)"

_ARCH_ALIASES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "x64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
}

_CORE_BUCKETS: tuple[tuple[float, str], ...] = (
    (1, "<1 core"),
    (2, "1 core"),
    (4, "2-3 cores"),
    (8, "4-7 cores"),
    (16, "8-15 cores"),
    (32, "16-31 cores"),
    (64, "32-63 cores"),
    (128, "64-127 cores"),
)
"""(exclusive upper bound, label); 128 cores and more are "128+ cores"."""


def calibration_factor(calibration: Calibration | None) -> float | None:
    """``calibration.score / REFERENCE_SCORE``, or None when it cannot be used.

    Method: only a figure from :data:`REFERENCE_PROBE` in :data:`REFERENCE_UNIT`
    that is finite and positive is used; figures from other probes are never
    converted (their scale is unknown). Unitless; > 1 means faster than the
    reference machine.
    """
    if calibration is None or calibration.probe != REFERENCE_PROBE:
        return None
    if calibration.unit != REFERENCE_UNIT:
        return None
    score = float(calibration.score)
    if not math.isfinite(score) or score <= 0:
        return None
    return score / REFERENCE_SCORE


def _as_float(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def cpu_per_1k_rps(
    mesh_cpu_mcores: npt.ArrayLike, actual_qps: npt.ArrayLike, factor: npt.ArrayLike = 1.0
) -> FloatArray:
    """Mesh millicores per 1,000 requests per second, times the calibration factor.

    Method: ``mesh_cpu_mcores / (actual_qps / 1000) * factor`` element-wise
    (broadcasting). NaN where the rate is not positive, an input is missing,
    or the factor is NaN (no calibration). Units: mCores per 1k rps.
    """
    cpu, qps, f = _as_float(mesh_cpu_mcores), _as_float(actual_qps), _as_float(factor)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.where(qps > 0, cpu / (qps / 1000.0) * f, np.nan)
    return np.asarray(result, dtype=np.float64)


def mem_per_proxy(sidecar_mem_mb: npt.ArrayLike, sidecar_count: npt.ArrayLike) -> FloatArray:
    """MiB per sidecar proxy: total sidecar memory over the number of sidecars.

    Method: ``sidecar_mem_mb / sidecar_count``; NaN where the count is not
    positive or missing. Not scaled: memory does not depend on CPU speed.
    Units: MiB.
    """
    mem, count = _as_float(sidecar_mem_mb), _as_float(sidecar_count)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.where(count > 0, mem / count, np.nan)
    return np.asarray(result, dtype=np.float64)


def added_p99_ms(
    baseline_p99: npt.ArrayLike, mesh_p99: npt.ArrayLike, factor: npt.ArrayLike = 1.0
) -> FloatArray:
    """Latency the mesh adds at p99, times the calibration factor.

    Method: ``(mesh_p99 - baseline_p99) * factor``. Not clipped: a negative
    value means the two runs are within noise and is shown as such.
    Assumption: the added time is mostly proxy CPU work, so it scales with CPU
    speed like CPU time does. Units: milliseconds.
    """
    base, mesh, f = _as_float(baseline_p99), _as_float(mesh_p99), _as_float(factor)
    return np.asarray((mesh - base) * f, dtype=np.float64)


def core_bucket(total_cores: float | None) -> str:
    """The bucket label of a total core count: powers of two, e.g. "8-15 cores"."""
    if total_cores is None or not math.isfinite(total_cores) or total_cores < 0:
        return "unknown cores"
    for upper, label in _CORE_BUCKETS:
        if total_cores < upper:
            return label
    return "128+ cores"


def normalize_arch(arch: str | None) -> str:
    """Canonical architecture name: amd64 -> x86_64, arm64 -> aarch64, else lower-case."""
    if not arch:
        return "unknown-arch"
    text = arch.strip().lower()
    return _ARCH_ALIASES.get(text, text)


def env_class(nodes: Sequence[Node]) -> str:
    """The environment class used to group results, e.g. ``"x86_64/8-15 cores"``.

    Method: architecture of the nodes (``"mixed"`` when they differ) and the
    bucket of the total cores ``sum(node.cores * node.count)``. A node without
    ``cores`` makes the total unknown. Pure: depends only on ``nodes``.
    """
    if not nodes:
        return "unknown-arch/unknown cores"
    archs = {normalize_arch(node.arch) for node in nodes}
    arch = archs.pop() if len(archs) == 1 else "mixed"
    if any(node.cores is None for node in nodes):
        return f"{arch}/unknown cores"
    total = math.fsum(float(node.cores or 0.0) * node.count for node in nodes)
    return f"{arch}/{core_bucket(total)}"


@dataclass(frozen=True)
class Figures:
    """The absolute figures of one mesh run, and how they were normalized.

    ``normalized`` is True when ``factor`` came from a usable calibration; the
    CPU and latency figures are then on the reference machine, else as measured.
    """

    cpu_per_1k_rps: float | None
    mem_per_proxy_mb: float | None
    added_p99_ms: float | None
    factor: float | None
    normalized: bool
    label: str
    reference_probe: str = REFERENCE_PROBE

    def to_dict(self) -> dict[str, Any]:
        return {
            "cpu_mcores_per_1k_rps": self.cpu_per_1k_rps,
            "mem_mb_per_proxy": self.mem_per_proxy_mb,
            "added_p99_ms": self.added_p99_ms,
            "factor": self.factor,
            "normalized": self.normalized,
            "label": self.label,
            "reference_probe": self.reference_probe,
        }


def _optional(value: FloatArray) -> float | None:
    number = float(value.reshape(-1)[0])
    return None if math.isnan(number) else number


def figures_pair(
    baseline: PerformanceTestResult,
    mesh: PerformanceTestResult,
    *,
    mesh_config: ServiceMeshConfig | None = None,
    environment: EnvironmentConfig | None = None,
) -> Figures:
    """The three absolute figures of one pair, normalized when the environment allows.

    Method: mesh CPU as in the score (all mesh blocks, run first then config);
    memory per proxy from the sidecar block only; added p99 from the two runs.
    Without a usable calibration the factor is 1 and ``normalized`` is False.
    """
    factor = calibration_factor(environment.calibration if environment else None)
    f = factor if factor is not None else 1.0
    sidecar = mesh_blocks(mesh, mesh_config).get("sidecar")
    nan = math.nan
    return Figures(
        cpu_per_1k_rps=_optional(
            cpu_per_1k_rps(
                mesh_resource(mesh, "cpu_mcores", mesh_config),
                mesh.actual_qps if mesh.actual_qps is not None else nan,
                f,
            )
        ),
        mem_per_proxy_mb=_optional(
            mem_per_proxy(
                sidecar.mem_mb if sidecar and sidecar.mem_mb is not None else nan,
                sidecar.count if sidecar and sidecar.count is not None else nan,
            )
        ),
        added_p99_ms=_optional(
            added_p99_ms(
                baseline.latencies_ms.p99 if baseline.latencies_ms.p99 is not None else nan,
                mesh.latencies_ms.p99 if mesh.latencies_ms.p99 is not None else nan,
                f,
            )
        ),
        factor=factor,
        normalized=factor is not None,
        label=NORMALIZED_LABEL if factor is not None else RAW_LABEL,
    )
