"""``smp-runner certify``: is this environment fit to run a profile, before an hour is spent?

Each check is a pure function of facts gathered beforehand (so that a test can
make it pass and fail), answering ``pass``, ``warn`` or ``fail`` with a one-line
reason. ``fail`` means a run here would not measure what the profile claims;
``warn`` that it would, with a caveat the contributor should know. The bounds
are constants below, and docs/runner.md ("certify") says why each is what it is.

Local facts come from ``/proc`` and ``/sys`` (a root directory parameter lets
tests give their own), repeated calibration probes, and the built-in generator
held against a no-op target at the profile's rate. Cluster facts come from the
API server: nodes, the mesh's control plane, the metrics source, node clocks.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PASS, WARN, FAIL = "pass", "warn", "fail"

RPS_PER_CORE = 1250.0
"""Requests per second one core carries locally for generator, application and
proxies together (the built-in generator, the application server and a proxy pair
each use a few hundred mCores at 1,000 rps on the development machine, docs/runner.md)."""
MIN_CORES = 2
"""Local mode needs the generator apart from the proxies and the application."""
CALIBRATION_PROBES = 3
CALIBRATION_CV_PASS = 0.05
CALIBRATION_CV_WARN = 0.10
"""Coefficient of variation of repeated probes: the probe itself repeats within a few
percent on a quiet machine (docs/runner.md section 6); 10 % means another program is
taking the CPU away in bursts."""
STEAL_PASS = 0.02
STEAL_WARN = 0.10
"""Share of CPU time stolen by the hypervisor over the sampling second."""
LOAD_PER_CORE_PASS = 0.5
LOAD_PER_CORE_WARN = 4.0
"""1-minute load average per core before the run: other work on the machine. A lagging
figure (the last minute, and a test suite or a build leaves it high for a while), so it
warns from half a core and fails only four times oversubscribed; the calibration and
generator checks measure the contention the run itself would meet."""
GENERATOR_TOLERANCE = 0.01
"""The generator must hold the profile's rate within 1 % against a no-op target; below,
the run's own throughput figure would measure the generator, not the system."""
GENERATOR_PROBE_S = 2.0
MEMORY_NEEDED_MB = 512.0
"""Generator, application, two proxies and the histogram, with room to spare."""
CLOCK_SKEW_S = 5.0
"""Node heartbeats further from this machine's clock than this make run windows (and
Prometheus ranges) disagree between the runner and the cluster."""


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    reason: str


def cores_needed(rps: float) -> int:
    return max(MIN_CORES, math.ceil(rps / RPS_PER_CORE))


def check_cores(cores: int, rps: float) -> Check:
    need = cores_needed(rps)
    text = f"{cores} cores for {rps:g} rps (generator, application and proxies need {need})"
    if cores >= need:
        return Check("cores", PASS, text)
    if cores >= need / 2 and cores >= MIN_CORES:
        return Check("cores", WARN, text + "; they will compete for CPU")
    return Check("cores", FAIL, text)


def check_calibration(scores: Sequence[float]) -> Check:
    if len(scores) < 2 or min(scores) <= 0:
        return Check("calibration", FAIL, f"the probe gave no usable figures: {list(scores)}")
    cv = statistics.stdev(scores) / statistics.mean(scores)
    text = f"{len(scores)} probes, {min(scores):.0f}-{max(scores):.0f} ops/s, CV {cv:.1%}"
    if cv < CALIBRATION_CV_PASS:
        return Check("calibration", PASS, text)
    status = WARN if cv < CALIBRATION_CV_WARN else FAIL
    return Check("calibration", status, f"{text} (stable means below {CALIBRATION_CV_PASS:.0%})")


def check_steal(steal: float | None) -> Check:
    if steal is None:
        return Check("cpu-steal", WARN, "/proc/stat has no steal column: cannot tell")
    text = f"{steal:.1%} of CPU time stolen by the hypervisor"
    if steal < STEAL_PASS:
        return Check("cpu-steal", PASS, text)
    return Check("cpu-steal", WARN if steal < STEAL_WARN else FAIL, text)


def check_load(load_1m: float, cores: int) -> Check:
    per_core = load_1m / max(cores, 1)
    text = f"load average {load_1m:.2f} on {cores} cores ({per_core:.2f} a core)"
    if per_core < LOAD_PER_CORE_PASS:
        return Check("load", PASS, text)
    status = WARN if per_core < LOAD_PER_CORE_WARN else FAIL
    return Check("load", status, text + ": other work is running")


def check_governor(governors: Sequence[str]) -> Check:
    if not governors:
        return Check("cpu-governor", WARN, "no cpufreq governor exposed (a VM?): cannot tell")
    others = sorted({g for g in governors if g != "performance"})
    if not others:
        return Check("cpu-governor", PASS, f"performance on all {len(governors)} CPUs")
    return Check(
        "cpu-governor",
        WARN,
        f"{', '.join(others)} on {sum(g != 'performance' for g in governors)} CPUs: the "
        "clock may change during the run (set the performance governor)",
    )


def check_generator(achieved: float, requested: float) -> Check:
    share = achieved / requested if requested else 0.0
    text = f"the generator held {achieved:.1f} of {requested:g} rps against a no-op target"
    if share < 1 - GENERATOR_TOLERANCE:
        return Check("generator", FAIL, text + f" (below {1 - GENERATOR_TOLERANCE:.0%})")
    if share > 1 + GENERATOR_TOLERANCE:
        return Check("generator", WARN, text + " (overshoot: a short probe's edges)")
    return Check("generator", PASS, text)


def check_memory(available_mb: float, needed_mb: float = MEMORY_NEEDED_MB) -> Check:
    text = f"{available_mb:,.0f} MiB available ({needed_mb:,.0f} needed)"
    if available_mb >= 2 * needed_mb:
        return Check("memory", PASS, text)
    return Check("memory", WARN if available_mb >= needed_mb else FAIL, text)


def check_nodes(nodes: Sequence[dict[str, Any]], rps: float) -> Check:
    ready = [n for n in nodes if _node_ready(n)]
    cores = sum(_cores(n) for n in ready)
    text = f"{len(ready)} of {len(nodes)} nodes ready, {cores:g} cores"
    if not ready:
        return Check("nodes", FAIL, text)
    need = cores_needed(rps) + 2  # and the mesh's control plane, and the cluster's own pods
    if cores >= need:
        return Check("nodes", PASS, f"{text} (need {need})")
    return Check("nodes", WARN, f"{text} (need {need}): the pods will compete for CPU")


def check_control_plane(mesh: str, workload: dict[str, Any] | None, where: str = "") -> Check:
    if workload is None:
        return Check("control-plane", FAIL, f"{mesh} is not installed{where}")
    status = workload.get("status") or {}
    ready = status.get("readyReplicas", status.get("numberReady", 0)) or 0
    wanted = (workload.get("spec") or {}).get("replicas", 1) or 1
    text = f"{mesh}: {ready} of {wanted} control-plane replicas ready"
    return Check("control-plane", PASS if ready >= wanted else FAIL, text)


def check_metrics(source: str, error: str | None) -> Check:
    if error is None:
        return Check("metrics", PASS, f"{source} answers")
    return Check("metrics", FAIL, f"{source} does not answer: {error}")


def check_clocks(nodes: Sequence[dict[str, Any]], now: float) -> Check:
    beats = [t for n in nodes if (t := _heartbeat(n)) is not None]
    if not beats:
        return Check("clocks", WARN, "no node reports a heartbeat time: cannot tell")
    # A heartbeat is at most one period old (10-40 s); one from the future is a fast clock.
    ahead = max(t - now for t in beats)
    text = f"node heartbeats up to {ahead:+.1f} s from this machine's clock"
    return Check("clocks", PASS if ahead <= CLOCK_SKEW_S else FAIL, text)


def _node_ready(node: dict[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _cores(node: dict[str, Any]) -> float:
    value = str(((node.get("status") or {}).get("capacity") or {}).get("cpu", "0"))
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value or 0)


def _heartbeat(node: dict[str, Any]) -> float | None:
    import datetime as dt

    times = [
        c.get("lastHeartbeatTime")
        for c in (node.get("status") or {}).get("conditions") or []
        if c.get("lastHeartbeatTime")
    ]
    if not times:
        return None
    latest = max(dt.datetime.fromisoformat(str(t).replace("Z", "+00:00")) for t in times)
    return latest.timestamp()


# Facts of this machine -------------------------------------------------------------------


def load_average(root: Path = Path("/")) -> float:
    return float((root / "proc/loadavg").read_text().split()[0])


def cpu_times(root: Path = Path("/")) -> list[int]:
    """The aggregate ``cpu`` line of /proc/stat (user nice system idle iowait irq softirq
    steal ...), in ticks."""
    first = (root / "proc/stat").read_text().splitlines()[0].split()
    return [int(v) for v in first[1:]]


def steal_share(before: list[int], after: list[int]) -> float | None:
    """Stolen share of the CPU time between two /proc/stat readings (None without steal)."""
    if len(before) < 8 or len(after) < 8:
        return None
    total = sum(after[:8]) - sum(before[:8])
    return (after[7] - before[7]) / total if total > 0 else 0.0


def governors(root: Path = Path("/")) -> list[str]:
    found = sorted((root / "sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_governor"))
    return [p.read_text().strip() for p in found]


def available_mb(root: Path = Path("/")) -> float:
    for line in (root / "proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def generator_probe(rate: float, connections: int, seconds: float = GENERATOR_PROBE_S) -> float:
    """The rate the built-in generator achieves against a no-op application on loopback."""
    import sys
    import tempfile

    from runner.loadgen import LoadSpec, run_load
    from runner.processes import Cleanup, free_port, start_process, wait_for_port

    with Cleanup() as cleanup, tempfile.TemporaryDirectory(prefix="smp-certify-") as workdir:
        port = free_port()
        argv = [sys.executable, "-m", "runner.workload", "--port", str(port)]
        app = start_process("no-op", argv, Path(workdir))
        cleanup.add(app.stop)
        wait_for_port(app, port)
        load = run_load(LoadSpec(f"http://127.0.0.1:{port}/", rate, connections, seconds, 0.5))
    return load.actual_qps


def certify_local(
    rps: float,
    connections: int,
    *,
    root: Path = Path("/"),
    probe: Callable[[], float] | None = None,
    generator: Callable[[float, int], float] = generator_probe,
    cores: int | None = None,
) -> list[Check]:
    """Every local check, in the order they are printed."""
    from runner.calibrate import probe_score

    cores = cores or len(os.sched_getaffinity(0))
    before = cpu_times(root)
    time.sleep(1.0 if root == Path("/") else 0.0)
    steal = steal_share(before, cpu_times(root))
    load = load_average(root)  # before the probes below add their own
    scores = [(probe or probe_score)() for _ in range(CALIBRATION_PROBES)]
    return [
        check_cores(cores, rps),
        check_load(load, cores),
        check_steal(steal),
        check_governor(governors(root)),
        check_memory(available_mb(root)),
        check_calibration(scores),
        check_generator(generator(rps, connections), rps),
    ]


def certify_cluster(
    cluster: Any, mesh_name: str, rps: float, prometheus: str | None, now: float | None = None
) -> list[Check]:
    """Every cluster check: nodes, the mesh's control plane, metrics, clocks."""
    import click
    import httpx

    from runner.meshes import MESHES

    nodes = cluster.nodes()
    checks = [check_nodes(nodes, rps)]
    mesh = MESHES.get(mesh_name)
    if mesh is None:
        checks.append(Check("control-plane", FAIL, f"unknown mesh {mesh_name}"))
    else:
        found = None
        for kind, name in mesh.workloads:
            found = cluster.find_workload(kind, mesh.namespace, name)
            if found is not None:
                break
        looked = " or ".join(f"{kind} {name}" for kind, name in mesh.workloads)
        where = f" (no {looked} in namespace {mesh.namespace})"
        checks.append(check_control_plane(mesh_name, found, where))
    error: str | None = None
    if prometheus:
        source = f"Prometheus at {prometheus}"
        try:
            response = httpx.get(f"{prometheus.rstrip('/')}/-/ready", timeout=5)
            if response.status_code != 200:
                error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = str(exc) or type(exc).__name__
    else:
        source = "metrics.k8s.io"
        try:
            cluster.pod_metrics("kube-system")
        except click.ClickException as exc:  # the cluster's errors, named
            error = exc.message
    checks.append(check_metrics(source, error))
    checks.append(check_clocks(nodes, time.time() if now is None else now))
    return checks


def summary(checks: Sequence[Check]) -> str:
    """The worst status: ``fail`` if any check failed, else ``warn`` if any warned."""
    statuses = {c.status for c in checks}
    return FAIL if FAIL in statuses else WARN if WARN in statuses else PASS


def as_labels(checks: Sequence[Check] | None) -> dict[str, str]:
    """The bundle's record of the certification: the summary and each check's status."""
    if checks is None:
        return {"certify.status": "skipped"}
    labels = {"certify.status": summary(checks)}
    labels.update({f"certify.{c.name}": f"{c.status}: {c.reason}" for c in checks})
    return labels


def render(checks: Sequence[Check]) -> list[str]:
    width = max(len(c.name) for c in checks)
    lines = [f"{c.status:<4}  {c.name:<{width}}  {c.reason}" for c in checks]
    return [*lines, f"certification: {summary(checks)}"]


def as_json(checks: Sequence[Check]) -> dict[str, Any]:
    return {"status": summary(checks), "checks": [asdict(c) for c in checks]}
