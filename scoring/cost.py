"""What a mesh configuration would cost a fleet: vCPU, memory, money and latency.

Each ranked run of a configuration is one measurement of what the mesh costs
per unit of work; :func:`run_projections` turns each run into a projection for
the user's fleet, and :func:`project` reports the median of those projections
with a 95% bootstrap interval, so the spread of the runs is carried into the
answer instead of a bare number. docs/meshmark.md ("Cost projection") states
every assumption; in short:

* CPU scales with the rate: the run's data-plane CPU (sidecars and gateways)
  per 1,000 requests/s, on the reference machine, times the fleet's rate,
  divided by the fleet machines' speed factor;
* the control plane (with telemetry and policy) costs its CPU and memory once
  per cluster;
* memory scales with the proxies: memory per proxy times the meshed pods, plus
  the gateways' and control plane's memory per cluster;
* money: vCPU-hours and GiB-hours at the given prices, 730 hours a month.

Pure NumPy; every projection is non-decreasing in every fleet input and every
overhead figure (and non-increasing in the machines' speed), which
tests/scoring/test_cost.py checks as properties.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.inputs import FloatArray
from scoring.normalize import REFERENCE_SCORE
from scoring.stats import bootstrap_ci

HOURS_PER_MONTH = 730.0
"""8,760 hours a year over 12 months, as cloud price sheets count a month."""
MIB_PER_GIB = 1024.0
MCORES_PER_VCPU = 1000.0


@dataclass(frozen=True)
class Fleet:
    """The user's fleet and prices.

    ``rps``: requests per second through the mesh, fleet-wide; ``pods``: meshed
    pods (one sidecar each); ``clusters``: clusters running a control plane;
    prices in dollars per vCPU-hour and per GiB-hour; ``calibration_score``:
    the fleet machines' ``meshmark-cpu/1`` score from ``smp-runner calibrate``
    (ops/s), None for the reference machine.
    """

    rps: float
    pods: float
    clusters: float
    usd_per_vcpu_hour: float
    usd_per_gib_hour: float
    calibration_score: float | None = None

    @property
    def speed_factor(self) -> float:
        """How much faster than the reference machine the fleet's machines are (1 if unknown)."""
        if self.calibration_score is None:
            return 1.0
        return self.calibration_score / REFERENCE_SCORE


@dataclass
class RunFigures:
    """Per-run figures of one configuration, column by column (one element per run).

    CPU and latency on the reference machine (normalized by each run's own
    calibration factor, 1 when it had none), memory as measured:
    ``dataplane_mcores_per_1k_rps`` (sidecars and gateways), ``control_plane_mcores``
    (control plane, telemetry and policy, per cluster), ``mem_mb_per_proxy``,
    ``fixed_mem_mb`` (gateways and control plane, per cluster), ``added_p99_ms``.
    NaN where a run lacks the figure.
    """

    dataplane_mcores_per_1k_rps: FloatArray
    control_plane_mcores: FloatArray
    mem_mb_per_proxy: FloatArray
    fixed_mem_mb: FloatArray
    added_p99_ms: FloatArray

    def __len__(self) -> int:
        return int(self.dataplane_mcores_per_1k_rps.size)


def _floats(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _sum_present(*columns: FloatArray) -> FloatArray:
    """Element-wise sum ignoring NaN; NaN only where every column is NaN."""
    stacked = np.vstack(columns)
    total = np.nansum(stacked, axis=0)
    return np.asarray(np.where(np.all(np.isnan(stacked), axis=0), np.nan, total))


def run_figures(
    *,
    sidecar_mcores: npt.ArrayLike,
    gateway_mcores: npt.ArrayLike,
    control_plane_mcores: npt.ArrayLike,
    sidecar_mem_mb: npt.ArrayLike,
    sidecar_count: npt.ArrayLike,
    gateway_mem_mb: npt.ArrayLike,
    control_plane_mem_mb: npt.ArrayLike,
    actual_qps: npt.ArrayLike,
    calibration_factor: npt.ArrayLike,
    added_p99_ms: npt.ArrayLike,
) -> RunFigures:
    """Per-run figures from stored run columns (mCores, MiB, requests/s).

    Method: data-plane CPU per 1k rps = ``(sidecars + gateways) / (qps / 1000) * f``
    (as the leaderboard's CPU figure, docs/meshmark.md section 7, without the
    control plane, which is counted per cluster instead); control-plane CPU
    ``* f``; memory per proxy = sidecar memory / sidecar count; fixed memory =
    gateways + control plane. ``f`` is the run's calibration factor, NaN read
    as 1 (figures as measured). ``added_p99_ms`` is taken as given (already
    normalized). A run without sidecar or gateway CPU, without a positive rate
    or without sidecars has NaN there; a missing gateway or control-plane block
    counts as nothing beside a present one.
    """
    f = _floats(calibration_factor)
    f = np.where(np.isnan(f), 1.0, f)
    qps = _floats(actual_qps)
    dataplane = _sum_present(_floats(sidecar_mcores), _floats(gateway_mcores))
    count = _floats(sidecar_count)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_1k = np.where(qps > 0, dataplane / (qps / 1000.0) * f, np.nan)
        per_proxy = np.where(count > 0, _floats(sidecar_mem_mb) / count, np.nan)
    return RunFigures(
        dataplane_mcores_per_1k_rps=np.asarray(per_1k, dtype=np.float64),
        control_plane_mcores=_floats(control_plane_mcores) * f,
        mem_mb_per_proxy=np.asarray(per_proxy, dtype=np.float64),
        fixed_mem_mb=_sum_present(_floats(gateway_mem_mb), _floats(control_plane_mem_mb)),
        added_p99_ms=_floats(added_p99_ms),
    )


def run_projections(figures: RunFigures, fleet: Fleet) -> dict[str, FloatArray]:
    """Each run's projection for ``fleet``: extra vCPU, extra GiB, $ per month, added p99 ms.

    Method (``f`` = the fleet's speed factor):

        vCPU = (dataplane_per_1k * rps / 1000 + control_plane * clusters) / f / 1000
        GiB  = (mem_per_proxy * pods + fixed_mem * clusters) / 1024
        $    = (vCPU * usd_per_vcpu_hour + GiB * usd_per_gib_hour) * 730
        p99  = added_p99 / f

    A missing control-plane or fixed-memory figure counts as 0 (nothing
    reported, nothing charged: the note says how many runs lacked it); a missing
    data-plane or per-proxy figure leaves that run out of vCPU (GiB) and money.
    Negative figures (an added p99 within noise) are kept as they are.
    """
    f = fleet.speed_factor
    control_plane = np.nan_to_num(figures.control_plane_mcores, nan=0.0)
    fixed_mem = np.nan_to_num(figures.fixed_mem_mb, nan=0.0)
    vcpu = (
        (figures.dataplane_mcores_per_1k_rps * fleet.rps / 1000.0 + control_plane * fleet.clusters)
        / f
        / MCORES_PER_VCPU
    )
    gib = (figures.mem_mb_per_proxy * fleet.pods + fixed_mem * fleet.clusters) / MIB_PER_GIB
    usd = (vcpu * fleet.usd_per_vcpu_hour + gib * fleet.usd_per_gib_hour) * HOURS_PER_MONTH
    return {
        "vcpu": np.asarray(vcpu, dtype=np.float64),
        "gib": np.asarray(gib, dtype=np.float64),
        "usd_per_month": np.asarray(usd, dtype=np.float64),
        "added_p99_ms": np.asarray(figures.added_p99_ms / f, dtype=np.float64),
    }


@dataclass(frozen=True)
class Estimate:
    """The median of the runs' projections and its 95% bootstrap interval (None for one run)."""

    median: float
    low: float | None
    high: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate(values: npt.ArrayLike, *, seed: int = 0) -> Estimate | None:
    """Median with its 95% percentile-bootstrap interval (:func:`scoring.stats.bootstrap_ci`),
    over the finite values; None when there is none, no interval for a single one."""
    finite = _floats(values)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return None
    median, low, high = bootstrap_ci(finite, seed=seed)
    if finite.size == 1:
        return Estimate(median, None, None, 1)
    return Estimate(median, low, high, int(finite.size))


@dataclass(frozen=True)
class Projection:
    """One configuration's projected cost for a fleet; None where no run had the figures."""

    vcpu: Estimate | None
    gib: Estimate | None
    usd_per_month: Estimate | None
    added_p99_ms: Estimate | None
    runs: int
    runs_without_control_plane: int

    def to_dict(self) -> dict[str, Any]:
        return {
            name: (value.to_dict() if isinstance(value, Estimate) else value)
            for name, value in (
                ("vcpu", self.vcpu),
                ("gib", self.gib),
                ("usd_per_month", self.usd_per_month),
                ("added_p99_ms", self.added_p99_ms),
                ("runs", self.runs),
                ("runs_without_control_plane", self.runs_without_control_plane),
            )
        }


def project(figures: RunFigures, fleet: Fleet, *, seed: int = 0) -> Projection:
    """The projection of one configuration's runs for ``fleet`` (see :func:`run_projections`).

    Each figure is estimated on its own over the runs that have it; the
    bootstrap is seeded, so the same runs and fleet give the same answer.
    Units: vCPU, GiB, US dollars per month, milliseconds.
    """
    per_run = run_projections(figures, fleet)
    missing_cp = int(np.sum(np.isnan(figures.control_plane_mcores)))
    return Projection(
        vcpu=estimate(per_run["vcpu"], seed=seed),
        gib=estimate(per_run["gib"], seed=seed),
        usd_per_month=estimate(per_run["usd_per_month"], seed=seed),
        added_p99_ms=estimate(per_run["added_p99_ms"], seed=seed),
        runs=len(figures),
        runs_without_control_plane=missing_cp,
    )


def check_fleet(fleet: Fleet) -> list[tuple[str, str]]:
    """What is wrong with a fleet, as ``(field, message)`` pairs; empty when it is valid."""
    problems = []
    for name in ("rps", "pods", "clusters", "usd_per_vcpu_hour", "usd_per_gib_hour"):
        value = getattr(fleet, name)
        if not math.isfinite(value) or value < 0:
            problems.append((name, f"{name} must be a finite number, 0 or more; got {value}"))
    score = fleet.calibration_score
    if score is not None and (not math.isfinite(score) or score <= 0):
        problems.append(
            ("calibration_score", f"calibration_score must be above 0 (ops/s); got {score}")
        )
    return problems
