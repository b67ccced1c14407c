"""Proxy, control-plane and application CPU/memory in Kubernetes mode.

Two sources, both reduced to the same window: from ``start + warmup_s`` to
``end - COOLDOWN_S`` of the load generator's container (the whole run when
that leaves less than ``MIN_WINDOW_S``).

**Prometheus** (``--prometheus URL``; cAdvisor metrics as kubelets expose
them). Instant queries through ``/api/v1/query`` evaluated at ``time = window
end``, with a range of the window length ``W`` (seconds), so that they cover
exactly the trimmed window. The exact queries are :func:`queries`; with
``S`` the sidecar container regex, ``NS`` the phase's namespace and ``CP`` the
control plane's namespace and pod regex, and ``SEL`` =
``namespace="NS",container=~"S"``:

* sidecar CPU (mCores):
  ``sum(rate(container_cpu_usage_seconds_total{SEL}[Ws])) * 1000``
* sidecar memory (MiB):
  ``sum(avg_over_time(container_memory_working_set_bytes{SEL}[Ws])) / 1048576``
* sidecar count (pods):
  ``count(count by (pod) (max_over_time(container_memory_working_set_bytes{SEL}[Ws])))``
* the same three for the application (``container="app"``) and for the
  control plane (``namespace="CP",pod=~"...",container!="",container!="POD"``).

**metrics.k8s.io** (metrics-server) otherwise: ``GET
/apis/metrics.k8s.io/v1beta1/namespaces/NS/pods`` sampled every
``METRICS_EVERY_S`` while the load runs; figures are the mean of the samples
taken inside the window (all samples when none is: a short run).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from runner.meshes import Mesh

PROMETHEUS_TIMEOUT_S = 30.0
COOLDOWN_S = 5.0
MIN_WINDOW_S = 10.0
METRICS_EVERY_S = 5.0
APP_CONTAINER = "app"
BLOCKS = ("sidecar", "app", "control_plane")


@dataclass(frozen=True)
class Block:
    """One group of containers' usage over the window."""

    count: int
    cpu_mcores: float
    mem_mb: float


def window(
    started: dt.datetime, finished: dt.datetime, warmup_s: float
) -> tuple[dt.datetime, dt.datetime]:
    """The run trimmed of its warm-up and cool-down (or whole, when that is too short)."""
    start = started + dt.timedelta(seconds=warmup_s)
    end = finished - dt.timedelta(seconds=COOLDOWN_S)
    if (end - start).total_seconds() < MIN_WINDOW_S:
        return started, finished
    return start, end


def _selectors(mesh: Mesh | None, namespace: str) -> dict[str, str]:
    out = {"app": f'namespace="{namespace}",container="{APP_CONTAINER}"'}
    if mesh is not None and mesh.sidecar_containers:
        out["sidecar"] = f'namespace="{namespace}",container=~"{mesh.sidecar_regex}"'
    if mesh is not None:
        out["control_plane"] = (
            f'namespace="{mesh.namespace}",pod=~"{mesh.control_plane_pods}",'
            'container!="",container!="POD"'
        )
    return out


def queries(mesh: Mesh | None, namespace: str, window_s: int) -> dict[str, dict[str, str]]:
    """block -> {cpu, mem, count} -> PromQL, for the blocks the phase has."""
    out: dict[str, dict[str, str]] = {}
    for block, selector in _selectors(mesh, namespace).items():
        out[block] = {
            "cpu": (
                f"sum(rate(container_cpu_usage_seconds_total{{{selector}}}[{window_s}s])) * 1000"
            ),
            "mem": (
                f"sum(avg_over_time(container_memory_working_set_bytes{{{selector}}}"
                f"[{window_s}s])) / 1048576"
            ),
            "count": (
                f"count(count by (pod) (max_over_time(container_memory_working_set_bytes"
                f"{{{selector}}}[{window_s}s])))"
            ),
        }
    return out


class PrometheusError(Exception):
    pass


def query_scalar(base_url: str, promql: str, at: dt.datetime, client: httpx.Client) -> float | None:
    """The single value of an instant query at ``at``; None when the result is empty."""
    try:
        response = client.get(
            base_url.rstrip("/") + "/api/v1/query",
            params={"query": promql, "time": f"{at.timestamp():.3f}"},
        )
    except httpx.HTTPError as exc:
        raise PrometheusError(f"cannot reach Prometheus at {base_url}: {exc}") from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code != 200 or not isinstance(payload, dict):
        raise PrometheusError(f"Prometheus answered {response.status_code} to {promql!r}")
    if payload.get("status") != "success":
        raise PrometheusError(f"Prometheus refused {promql!r}: {payload.get('error')}")
    result = payload.get("data", {}).get("result") or []
    if not result:
        return None
    return float(result[0]["value"][1])


def prometheus_usage(
    base_url: str, mesh: Mesh | None, namespace: str, start: dt.datetime, end: dt.datetime
) -> dict[str, Block]:
    window_s = max(1, round((end - start).total_seconds()))
    blocks: dict[str, Block] = {}
    with httpx.Client(timeout=PROMETHEUS_TIMEOUT_S) as client:
        for block, promql in queries(mesh, namespace, window_s).items():
            cpu = query_scalar(base_url, promql["cpu"], end, client)
            mem = query_scalar(base_url, promql["mem"], end, client)
            count = query_scalar(base_url, promql["count"], end, client)
            if cpu is None and mem is None:
                continue
            blocks[block] = Block(int(count or 0), round(cpu or 0.0, 2), round(mem or 0.0, 2))
    return blocks


# -- metrics.k8s.io ------------------------------------------------------------------------

_CPU_UNITS = {"n": Decimal("1e-6"), "u": Decimal("1e-3"), "m": Decimal(1), "": Decimal(1000)}
_MEM_UNITS = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
    "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "": 1,
}  # fmt: skip
_QUANTITY = re.compile(r"^([0-9.]+(?:[eE][-+]?\d+)?)([a-zA-Z]*)$")


def cpu_mcores(quantity: str) -> float:
    """Kubernetes CPU quantity (``250m``, ``12345n``, ``2``) in millicores."""
    match = _QUANTITY.match(quantity.strip())
    if not match or match.group(2) not in _CPU_UNITS:
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    try:
        return float(Decimal(match.group(1)) * _CPU_UNITS[match.group(2)])
    except InvalidOperation:
        raise ValueError(f"not a CPU quantity: {quantity!r}") from None


def mem_mib(quantity: str) -> float:
    """Kubernetes memory quantity (``123456Ki``, ``64Mi``, ``1G``) in MiB."""
    match = _QUANTITY.match(quantity.strip())
    if not match or match.group(2) not in _MEM_UNITS:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return float(Decimal(match.group(1)) * _MEM_UNITS[match.group(2)]) / 2**20


@dataclass
class MetricsSampler:
    """Samples metrics.k8s.io for the phase namespace (and the control plane's)."""

    mesh: Mesh | None
    namespace: str
    fetch: Callable[[str], dict[str, Any]]
    """namespace -> the PodMetricsList document."""
    samples: list[tuple[dt.datetime, dict[str, Block]]] = field(default_factory=list)
    unavailable: str | None = None

    def sample(self) -> None:
        if self.unavailable is not None:
            return
        try:
            pods = self.fetch(self.namespace).get("items", [])
            cp_pods: list[dict[str, Any]] = []
            if self.mesh is not None:
                pattern = re.compile(self.mesh.control_plane_pods)
                cp_pods = [
                    p
                    for p in self.fetch(self.mesh.namespace).get("items", [])
                    if pattern.fullmatch(p.get("metadata", {}).get("name", ""))
                ]
        except Exception as exc:  # the API is optional: a cluster without metrics-server
            self.unavailable = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return
        sidecars = set(self.mesh.sidecar_containers) if self.mesh else set()
        blocks = {
            "app": _sum_containers(pods, {APP_CONTAINER}),
            "control_plane": _sum_containers(cp_pods, None),
        }
        if sidecars:
            blocks["sidecar"] = _sum_containers(pods, sidecars)
        self.samples.append((dt.datetime.now(dt.UTC), blocks))

    def usage(self, start: dt.datetime, end: dt.datetime) -> dict[str, Block]:
        inside = [blocks for at, blocks in self.samples if start <= at <= end]
        chosen = inside or [blocks for _, blocks in self.samples]
        out: dict[str, Block] = {}
        for name in BLOCKS:
            present = [b[name] for b in chosen if name in b and b[name].count > 0]
            if present:
                out[name] = Block(
                    count=max(b.count for b in present),
                    cpu_mcores=round(sum(b.cpu_mcores for b in present) / len(present), 2),
                    mem_mb=round(sum(b.mem_mb for b in present) / len(present), 2),
                )
        return out


def _sum_containers(pods: list[dict[str, Any]], names: set[str] | None) -> Block:
    """Usage summed over the containers called ``names`` (all when None); count = pods."""
    count, cpu, mem = 0, 0.0, 0.0
    for pod in pods:
        matched = False
        for container in pod.get("containers", []):
            if names is not None and container.get("name") not in names:
                continue
            usage = container.get("usage", {})
            matched = True
            cpu += cpu_mcores(str(usage.get("cpu", "0")))
            mem += mem_mib(str(usage.get("memory", "0")))
        count += matched
    return Block(count, cpu, mem)


def decode(data: bytes) -> dict[str, Any]:
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value
