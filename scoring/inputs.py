"""The scoring engine's input: one row per (baseline run, mesh run) pair, as columns.

The engine works on :class:`PairArrays`, a set of equally long float64 arrays in
which NaN means "not reported". This module also reads those figures out of the
typed SMP model (:mod:`smp.model`), so that the model path and the columnar path
feed the very same formula.

Units: latencies in milliseconds, rates in requests per second, error rates as
a fraction of requests (0..1), CPU in millicores, memory in MiB. Resource
figures of a block (``sidecar``, ``ingress_gateway``, ...) are the block's total
over its ``count`` instances, averaged over the run (docs/meshmark.md, "Inputs").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from smp.histogram import HistogramError, percentile_from_buckets
from smp.model import (
    RESOURCE_BLOCKS,
    EnvironmentConfig,
    IndividualWorkload,
    Latencies,
    PerformanceTestResult,
    ResourceUsage,
    ServiceMeshConfig,
)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MESH_BLOCKS: tuple[str, ...] = RESOURCE_BLOCKS
"""The ServiceMeshConfig / RunResources blocks whose resources count as the mesh's."""

Resource = Literal["cpu_mcores", "mem_mb"]


@dataclass(frozen=True)
class PairArrays:
    """Columns of scoring inputs, one row per (baseline, mesh) pair; NaN = missing.

    Every field is a 1-D float64 array of the same length. Constructing the
    object copies nothing that is already float64 and 1-D; anything else is
    converted, and unequal lengths raise ``ValueError``.
    """

    baseline_p50: FloatArray
    mesh_p50: FloatArray
    baseline_p90: FloatArray
    mesh_p90: FloatArray
    baseline_p99: FloatArray
    mesh_p99: FloatArray
    baseline_p999: FloatArray
    mesh_p999: FloatArray
    baseline_qps: FloatArray
    mesh_qps: FloatArray
    requested_qps: FloatArray
    mesh_error_rate: FloatArray
    baseline_error_rate: FloatArray
    mesh_cpu_mcores: FloatArray
    app_cpu_mcores: FloatArray
    mesh_mem_mb: FloatArray
    app_mem_mb: FloatArray
    # MeshMark 2: the successful requests' latencies and counts, and the profile's budget.
    baseline_ok_p50: FloatArray
    mesh_ok_p50: FloatArray
    baseline_ok_p90: FloatArray
    mesh_ok_p90: FloatArray
    baseline_ok_p99: FloatArray
    mesh_ok_p99: FloatArray
    baseline_ok_p999: FloatArray
    mesh_ok_p999: FloatArray
    baseline_ok_count: FloatArray
    mesh_ok_count: FloatArray
    error_budget: FloatArray

    def __post_init__(self) -> None:
        length: int | None = None
        for f in dataclasses.fields(self):
            column = np.asarray(getattr(self, f.name), dtype=np.float64)
            if column.ndim != 1:
                raise ValueError(f"PairArrays.{f.name} must be 1-D, got shape {column.shape}")
            if length is None:
                length = column.shape[0]
            elif column.shape[0] != length:
                raise ValueError(
                    f"PairArrays.{f.name} has {column.shape[0]} rows, expected {length}"
                )
            object.__setattr__(self, f.name, column)

    def __len__(self) -> int:
        return int(self.baseline_p50.shape[0])

    @classmethod
    def column_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_columns(cls, columns: Mapping[str, npt.ArrayLike], n: int | None = None) -> PairArrays:
        """Build from a mapping of column name to values; absent columns are all NaN.

        ``n`` gives the row count when ``columns`` is empty; otherwise it is
        taken from the first column. Unknown names raise ``ValueError``.
        """
        names = cls.column_names()
        unknown = sorted(set(columns) - set(names))
        if unknown:
            raise ValueError(f"unknown PairArrays columns: {', '.join(unknown)}")
        arrays = {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}
        if n is None:
            n = next(iter(arrays.values())).shape[0] if arrays else 0
        filled = {name: arrays.get(name, np.full(n, np.nan)) for name in names}
        return cls(**filled)

    def take(self, rows: npt.ArrayLike) -> PairArrays:
        """The rows at the given indices (or boolean mask), in that order."""
        index = np.asarray(rows)
        return PairArrays(**{name: getattr(self, name)[index] for name in self.column_names()})


def _number(value: float | None) -> float:
    """A reported figure as a float, NaN when it is absent or not finite."""
    if value is None:
        return math.nan
    number = float(value)
    return number if math.isfinite(number) else math.nan


def mesh_blocks(
    run: PerformanceTestResult, mesh_config: ServiceMeshConfig | None = None
) -> dict[str, ResourceUsage]:
    """The mesh's resource blocks for one run, block by block.

    Method: a block measured during the run (``run.resources``) wins; a block
    the run does not report falls back to the same block of the bundle's
    ``mesh_config``. Blocks reported by neither are left out.
    """
    blocks: dict[str, ResourceUsage] = {}
    for name in MESH_BLOCKS:
        block = getattr(run.resources, name, None) if run.resources is not None else None
        if block is None and mesh_config is not None:
            block = getattr(mesh_config, name)
        if block is not None:
            blocks[name] = block
    return blocks


def _sum_present(values: Sequence[float | None]) -> float:
    """Sum of the figures that are present; NaN when none is."""
    present = [_number(v) for v in values if v is not None]
    present = [v for v in present if not math.isnan(v)]
    return math.fsum(present) if present else math.nan


def mesh_resource(
    run: PerformanceTestResult, resource: Resource, mesh_config: ServiceMeshConfig | None = None
) -> float:
    """Total mesh CPU (mCores) or memory (MiB) during ``run``; NaN when no block reports it.

    Method: sum over sidecars, gateways, control plane, telemetry and policy
    (:data:`MESH_BLOCKS`) of the blocks that report the figure. Absent blocks
    count as zero once at least one block is present; whether a mesh type must
    report a block is for validation, not for the score.
    """
    blocks = mesh_blocks(run, mesh_config)
    return _sum_present([getattr(b, resource) for b in blocks.values()])


def app_workloads(
    run: PerformanceTestResult, environment: EnvironmentConfig | None = None
) -> list[IndividualWorkload]:
    """The application workloads measured during ``run``, else the environment's."""
    if run.resources is not None and run.resources.workloads:
        return list(run.resources.workloads)
    if environment is not None:
        return list(environment.individual_workloads)
    return []


def app_resource(
    run: PerformanceTestResult,
    resource: Resource,
    environment: EnvironmentConfig | None = None,
) -> float:
    """Total application CPU (mCores) or memory (MiB) during ``run``; NaN when unreported.

    Method: sum of the workloads that report the figure (:func:`app_workloads`).
    """
    return _sum_present([getattr(w, resource) for w in app_workloads(run, environment)])


def _requested_qps(baseline: PerformanceTestResult, mesh: PerformanceTestResult) -> float:
    """The profile's requested rate: the mesh run's, else the baseline's (same profile)."""
    if mesh.requested_qps is not None:
        return _number(mesh.requested_qps)
    return _number(baseline.requested_qps)


def request_count(run: PerformanceTestResult) -> float:
    """Requests in the run: as reported, else achieved rate x measured duration; NaN."""
    if run.request_count is not None:
        return float(run.request_count)
    if run.actual_qps is not None and run.duration_s is not None:
        return _number(run.actual_qps * run.duration_s)
    return math.nan


def successful(run: PerformanceTestResult, *, failures_fastest: bool) -> tuple[Latencies, float]:
    """The successful requests of ``run``: their latencies (ms) and their count.

    Method (docs/meshmark.md, "MeshMark 2", successful requests), in order:
    the latencies the tool measured for successful requests alone
    (``latencies_ok_ms``); all latencies when the run reports no error; else a
    bound from the histogram: with a share ``f`` of failed requests, the
    successful requests' ``q``-quantile lies between the overall quantiles at
    ``q(1 - f)`` (failures were the slowest) and ``f + q(1 - f)`` (failures were
    the fastest); ``failures_fastest`` picks the second, the reading least
    favourable to a mesh run, and its opposite is the one least favourable to
    it when applied to the baseline. Without a histogram, unknown (empty).
    A run that reports no error count is taken as having none.
    Units: milliseconds; the count is a number of requests (NaN when unknown).
    """
    total = request_count(run)
    errors = float(run.error_count) if run.error_count is not None else 0.0
    count = max(total - errors, 0.0) if not math.isnan(total) else math.nan
    if run.latencies_ok_ms is not None:
        return run.latencies_ok_ms, count
    if errors == 0:
        return run.latencies_ms, count
    if not run.histogram or math.isnan(total) or total <= 0 or errors >= total:
        return Latencies(), count
    share = errors / total
    out = Latencies()
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)):
        shifted = share + q * (1 - share) if failures_fastest else q * (1 - share)
        try:
            setattr(out, name, percentile_from_buckets(run.histogram, 100.0 * shifted))
        except HistogramError:
            return Latencies(), count
    return out, count


def pair_row(
    baseline: PerformanceTestResult,
    mesh: PerformanceTestResult,
    *,
    mesh_config: ServiceMeshConfig | None = None,
    environment: EnvironmentConfig | None = None,
    error_budget: float | None = None,
) -> dict[str, float]:
    """One pair's scoring inputs as a dict of :class:`PairArrays` column name to value.

    ``error_budget`` is the profile's (``smp.profiles``); without it MeshMark 2's
    errors MUE is missing.
    """
    b, m = baseline.latencies_ms, mesh.latencies_ms
    b_ok, b_count = successful(baseline, failures_fastest=False)
    m_ok, m_count = successful(mesh, failures_fastest=True)
    return {
        **{f"baseline_ok_{p}": _number(getattr(b_ok, p)) for p in ("p50", "p90", "p99", "p999")},
        **{f"mesh_ok_{p}": _number(getattr(m_ok, p)) for p in ("p50", "p90", "p99", "p999")},
        "baseline_ok_count": b_count,
        "mesh_ok_count": m_count,
        "error_budget": _number(error_budget),
        "baseline_p50": _number(b.p50),
        "mesh_p50": _number(m.p50),
        "baseline_p90": _number(b.p90),
        "mesh_p90": _number(m.p90),
        "baseline_p99": _number(b.p99),
        "mesh_p99": _number(m.p99),
        "baseline_p999": _number(b.p999),
        "mesh_p999": _number(m.p999),
        "baseline_qps": _number(baseline.actual_qps),
        "mesh_qps": _number(mesh.actual_qps),
        "requested_qps": _requested_qps(baseline, mesh),
        "mesh_error_rate": _number(mesh.error_rate),
        "baseline_error_rate": _number(baseline.error_rate),
        "mesh_cpu_mcores": mesh_resource(mesh, "cpu_mcores", mesh_config),
        "app_cpu_mcores": app_resource(mesh, "cpu_mcores", environment),
        "mesh_mem_mb": mesh_resource(mesh, "mem_mb", mesh_config),
        "app_mem_mb": app_resource(mesh, "mem_mb", environment),
    }


def pair_arrays_from_results(
    pairs: Sequence[tuple[PerformanceTestResult, PerformanceTestResult]],
    *,
    mesh_configs: Sequence[ServiceMeshConfig | None] | None = None,
    environments: Sequence[EnvironmentConfig | None] | None = None,
    error_budget: float | None = None,
) -> PairArrays:
    """Columnar scoring inputs from ``(baseline_run, mesh_run)`` pairs.

    ``mesh_configs`` and ``environments``, when given, line up with ``pairs``
    and supply the fallbacks of :func:`mesh_resource` and :func:`app_resource`.
    """
    n = len(pairs)
    for label, extra in (("mesh_configs", mesh_configs), ("environments", environments)):
        if extra is not None and len(extra) != n:
            raise ValueError(f"{label} has {len(extra)} items, expected {n} (one per pair)")
    names = PairArrays.column_names()
    columns = {name: np.empty(n, dtype=np.float64) for name in names}
    for i, (baseline, mesh) in enumerate(pairs):
        row = pair_row(
            baseline,
            mesh,
            mesh_config=mesh_configs[i] if mesh_configs is not None else None,
            environment=environments[i] if environments is not None else None,
            error_budget=error_budget,
        )
        for name in names:
            columns[name][i] = row[name]
    return PairArrays(**columns)
