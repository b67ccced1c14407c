"""How fast MeshMark scores pairs: numpy columns against a plain-Python loop.

Generates 1,000,000 realistic (baseline, mesh) pairs with a fixed seed, times
``score_arrays`` on all of them (best of 3), and compares with the same
formula written as a per-row plain-Python loop, timed on a subset of 20,000
rows (best of 3) and extrapolated per row. Also times ``score_pair`` (model
objects, one single-row numpy call per pair) on 2,000 pairs, the cost of
scoring one submission. Checks that the loop and the arrays agree on the
subset, and that ``score_pair`` equals the arrays on its pairs, then writes
the figures to docs/benchmarks.md. Single thread: BLAS/OpenMP pools are
pinned to one thread before numpy is imported.

Usage: .venv/bin/python -m bench.bench_scoring [--rows 1000000] [--subset 20000]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from bench.report import write_section  # noqa: E402
from scoring.engine import (  # noqa: E402
    CLASSES,
    MANDATORY_MUES,
    PairArrays,
    pair_arrays_from_results,
    score_arrays,
    score_pair,
)
from smp.model import (  # noqa: E402
    IndividualWorkload,
    Latencies,
    PerformanceTestResult,
    ResourceUsage,
    RunResources,
)

SEED = 20240601
MISSING_SHARE = 0.02
"""Share of optional figures blanked out, so the missing-figure paths are timed too."""


def realistic_pairs(n: int, seed: int = SEED) -> PairArrays:
    """``n`` plausible pairs: mesh latency 5-100 % above baseline, some noise below it."""
    rng = np.random.default_rng(seed)
    b50 = rng.lognormal(mean=0.0, sigma=0.6, size=n)
    b90 = b50 * rng.uniform(1.2, 2.0, n)
    b99 = b90 * rng.uniform(1.2, 3.0, n)
    b999 = b99 * rng.uniform(1.1, 3.0, n)

    def added(scale: float) -> np.ndarray:
        return np.exp(rng.normal(np.log(1.0 + scale), 0.15, n))  # some below 1: noise

    requested = rng.choice(np.array([100.0, 1000.0, 5000.0]), n)
    app_cpu = rng.uniform(100.0, 5000.0, n)
    app_mem = rng.uniform(100.0, 4000.0, n)
    columns = {
        "baseline_p50": b50,
        "mesh_p50": b50 * added(0.15),
        "baseline_p90": b90,
        "mesh_p90": b90 * added(0.25),
        "baseline_p99": b99,
        "mesh_p99": b99 * added(0.4),
        "baseline_p999": b999,
        "mesh_p999": b999 * added(0.6),
        "baseline_qps": requested * rng.uniform(0.97, 1.0, n),
        "mesh_qps": requested * rng.uniform(0.85, 1.0, n),
        "requested_qps": requested,
        "baseline_error_rate": rng.beta(0.5, 5000.0, n),
        "mesh_error_rate": rng.beta(0.5, 500.0, n),
        "mesh_cpu_mcores": app_cpu * rng.uniform(0.05, 1.0, n),
        "app_cpu_mcores": app_cpu,
        "mesh_mem_mb": app_mem * rng.uniform(0.05, 0.8, n),
        "app_mem_mb": app_mem,
    }
    for name in ("mesh_p999", "baseline_error_rate", "mesh_error_rate", "mesh_cpu_mcores"):
        columns[name][rng.random(n) < MISSING_SHARE] = np.nan
    return PairArrays.from_columns(columns)


# The same formula as scoring.engine, one row at a time, in plain Python.


def _ratio(num: float, den: float, zero_ok: bool) -> float:
    if (
        not (math.isfinite(num) and math.isfinite(den))
        or den <= 0
        or (num < 0 if zero_ok else num <= 0)
    ):
        return math.nan
    return min(max(num / den, 0.0), 1.0)


def _share(mesh: float, app: float) -> float:
    if not (math.isfinite(mesh) and math.isfinite(app)) or mesh < 0 or app < 0 or mesh + app <= 0:
        return math.nan
    return app / (mesh + app)


def _success(e_mesh: float, e_base: float) -> float:
    e_base = min(max(e_base, 0.0), 1.0) if math.isfinite(e_base) else 0.0
    if not math.isfinite(e_mesh) or e_base >= 1.0:
        return math.nan
    e_mesh = min(max(e_mesh, 0.0), 1.0)
    return min(max((1.0 - e_mesh) / (1.0 - e_base), 0.0), 1.0)


def _mean(values: list[float]) -> float:
    present = [v for v in values if not math.isnan(v)]
    return sum(present) / len(present) if present else math.nan


def score_row_python(row: dict[str, float]) -> float:
    """MeshMark of one row with the default (equal) weights, in plain Python."""
    mues = {
        "latency_p50": _ratio(row["baseline_p50"], row["mesh_p50"], False),
        "latency_p90": _ratio(row["baseline_p90"], row["mesh_p90"], False),
        "latency_p99": _ratio(row["baseline_p99"], row["mesh_p99"], False),
        "latency_p999": _ratio(row["baseline_p999"], row["mesh_p999"], False),
        "throughput_vs_requested": _ratio(row["mesh_qps"], row["requested_qps"], True),
        "throughput_vs_baseline": _ratio(row["mesh_qps"], row["baseline_qps"], True),
        "success_vs_baseline": _success(row["mesh_error_rate"], row["baseline_error_rate"]),
        "cpu_app_share": _share(row["mesh_cpu_mcores"], row["app_cpu_mcores"]),
        "memory_app_share": _share(row["mesh_mem_mb"], row["app_mem_mb"]),
    }
    if any(math.isnan(mues[name]) for name in MANDATORY_MUES):
        return math.nan
    classes = [_mean([mues[name] for name in members]) for members in CLASSES.values()]
    return 100.0 * _mean(classes)


def rows_of(pairs: PairArrays) -> list[dict[str, float]]:
    columns = {name: getattr(pairs, name).tolist() for name in PairArrays.column_names()}
    return [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]


def model_pairs(pairs: PairArrays) -> list[tuple[PerformanceTestResult, PerformanceTestResult]]:
    """The rows as SMP model objects (error rates become counts of 10^6 requests)."""

    def opt(value: float) -> float | None:
        return None if math.isnan(value) else value

    def errors(rate: float) -> int | None:
        return None if math.isnan(rate) else round(rate * 1_000_000)

    out = []
    for r in rows_of(pairs):
        baseline = PerformanceTestResult(
            latencies_ms=Latencies(
                p50=r["baseline_p50"],
                p90=r["baseline_p90"],
                p99=r["baseline_p99"],
                p999=r["baseline_p999"],
            ),
            actual_qps=r["baseline_qps"],
            requested_qps=r["requested_qps"],
            request_count=1_000_000,
            error_count=errors(r["baseline_error_rate"]),
        )
        mesh = PerformanceTestResult(
            latencies_ms=Latencies(
                p50=r["mesh_p50"], p90=r["mesh_p90"], p99=r["mesh_p99"], p999=opt(r["mesh_p999"])
            ),
            actual_qps=r["mesh_qps"],
            requested_qps=r["requested_qps"],
            request_count=1_000_000,
            error_count=errors(r["mesh_error_rate"]),
            resources=RunResources(
                sidecar=ResourceUsage(
                    count=2, cpu_mcores=opt(r["mesh_cpu_mcores"]), mem_mb=r["mesh_mem_mb"]
                ),
                workloads=[
                    IndividualWorkload(
                        name="app", cpu_mcores=r["app_cpu_mcores"], mem_mb=r["app_mem_mb"]
                    )
                ],
            ),
        )
        out.append((baseline, mesh))
    return out


def best_of(repeats: int, work: Callable[[], object]) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--subset", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=2_000, help="pairs timed with score_pair")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    pairs = realistic_pairs(args.rows)
    arrays_s = best_of(3, lambda: score_arrays(pairs))
    result = score_arrays(pairs)

    subset_rows = rows_of(pairs.take(np.arange(args.subset)))
    loop_s = best_of(3, lambda: [score_row_python(r) for r in subset_rows])
    loop_scores = np.array([score_row_python(r) for r in subset_rows])
    expected = result.score[: args.subset]
    same_missing = bool(np.array_equal(np.isnan(loop_scores), np.isnan(expected)))
    max_diff = float(np.nanmax(np.abs(loop_scores - expected)))
    if not same_missing or max_diff > 1e-9:
        sys.exit(f"the loop and score_arrays disagree: max |diff| {max_diff}")

    models = model_pairs(pairs.take(np.arange(args.pairs)))
    pair_s = best_of(1, lambda: [score_pair(b, m) for b, m in models])
    batch = score_arrays(pair_arrays_from_results(models))
    if any(score_pair(b, m) != batch.row(i) for i, (b, m) in enumerate(models)):
        sys.exit("score_pair and score_arrays disagree")

    arrays_rate = args.rows / arrays_s
    loop_rate = args.subset / loop_s
    pair_rate = args.pairs / pair_s
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    scorable = float(np.mean(result.scorable))
    command = " ".join([".venv/bin/python -m bench.bench_scoring", shlex.join(argv or [])]).strip()
    lines = [
        f"Machine: nproc {nproc}, {cpu_model()}; Python {platform.python_version()}, "
        f"numpy {np.__version__}; one thread (OMP/OPENBLAS/MKL_NUM_THREADS=1); "
        f"1-minute load average {os.getloadavg()[0]:.2f} when it finished (other work on the "
        "machine makes these figures noisier).",
        f"Date: {time.strftime('%Y-%m-%d')}. Command: `{command}`.",
        "",
        f"{args.rows:,} generated pairs (seed {SEED}, {MISSING_SHARE:.0%} of p99.9, error and "
        f"CPU figures blanked; {scorable:.1%} scorable, {float(np.mean(result.partial)):.1%} "
        "partial).",
        "",
        "| path | rows timed | best time | rows/s |",
        "|---|---:|---:|---:|",
        f"| `score_arrays` (numpy columns) | {args.rows:,} | {arrays_s:.3f} s (best of 3) "
        f"| {arrays_rate:,.0f} |",
        f"| plain-Python loop, same formula | {args.subset:,} | {loop_s:.3f} s (best of 3) "
        f"| {loop_rate:,.0f} |",
        f"| `score_pair` (SMP objects, one pair per call) | {args.pairs:,} | {pair_s:.3f} s "
        f"| {pair_rate:,.0f} |",
        "",
        f"`score_arrays` is **{arrays_rate / loop_rate:,.0f}x** the plain-Python loop per row "
        f"(the loop's rate is measured on {args.subset:,} rows and extrapolated: "
        f"{args.rows / loop_rate:.1f} s for {args.rows:,}). Both agree on those rows "
        f"(max |difference| {max_diff:.1e}, same unscorable rows); `score_pair` equals the "
        f"matching `score_arrays` row exactly on its {args.pairs:,} pairs.",
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section("scoring", f"Scoring {args.rows:,} pairs", lines)


if __name__ == "__main__":
    main(sys.argv[1:])
