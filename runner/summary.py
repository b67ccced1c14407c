"""The few lines ``smp-runner run`` prints once the bundle is written."""

from __future__ import annotations

from pathlib import Path

from smp.model import Bundle, PerformanceTestResult


def _latency(run: PerformanceTestResult) -> str:
    lat = run.latencies_ms
    parts = [
        f"{name} {value:.3f} ms"
        for name, value in (("p50", lat.p50), ("p99", lat.p99))
        if value is not None
    ]
    qps = f"{run.actual_qps:.1f} rps" if run.actual_qps is not None else "rate unknown"
    errors = f", {run.error_count} errors" if run.error_count else ""
    return f"{', '.join(parts) or 'no latency'} at {qps}{errors}"


def _resources(run: PerformanceTestResult) -> str:
    res = run.resources
    if res is None:
        return ""
    parts = []
    if res.sidecar is not None and res.sidecar.cpu_mcores is not None:
        memory = "memory n/a" if res.sidecar.mem_mb is None else f"{res.sidecar.mem_mb:.1f} MiB"
        parts.append(f"proxies {res.sidecar.cpu_mcores:.1f} mCores / {memory}")
    for workload in res.workloads:
        if workload.cpu_mcores is not None:
            parts.append(f"{workload.name} {workload.cpu_mcores:.1f} mCores")
    return f"; {', '.join(parts)}" if parts else ""


def summary_lines(bundle: Bundle, path: Path) -> list[str]:
    """Where the bundle is, whether it validates, and the headline figures of each run."""
    from smp.submission import read_submission

    report = read_submission(path.read_bytes(), native_alone=True)
    verdict = "valid SMP bundle" if report.ok else "INVALID bundle (see `smp-runner validate`)"
    lines = [f"wrote {path}: {verdict}"]
    for run in bundle.runs:
        lines.append(f"  {run.role:<8} {_latency(run)}{_resources(run)}")
    calibration = bundle.environment.calibration
    if calibration is not None:
        lines.append(f"  calibration {calibration.probe}: {calibration.score:g} {calibration.unit}")
    lines.append(f"next: smp-runner score {path}   |   smp-runner submit {path} --wait")
    return lines
