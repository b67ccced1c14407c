"""Proxy, control-plane and application CPU/memory in Kubernetes mode.

Two sources, both reduced to one window: from ``start + warmup_s`` to
``end - COOLDOWN_S`` of the load generator's container (the whole run when
that leaves less than ``MIN_WINDOW_S``).

**Prometheus** (``--prometheus URL``; the cAdvisor metrics kubelets expose).
With ``W`` the window length rounded to whole seconds, every query is an
instant query through ``/api/v1/query`` at ``time = window end`` over the range
``[Ws]``, so the window PromQL evaluates is ``[end - W, end]`` (it differs from
the runner's start by less than half a second). The queries are
:func:`queries`; per block (``S`` the sidecar container regex, ``NS`` the
phase's namespace):

=============  ==========================================================
block          containers (label matchers)
=============  ==========================================================
sidecar        ``namespace="NS",container=~"S"``: the injected proxies of
               every pod of the phase (the app's and the load generator's)
app            ``namespace="NS",container="app"``: smp-app's server
control_plane  ``namespace="CP",pod=~"P",container!="",container!="POD"``:
               every container of the control plane's pods
=============  ==========================================================

Exact matchers keep out what cAdvisor also reports for a pod: the pause
container (``container="POD"`` on dockershim, usually no container label with
the ``pause`` image on containerd), the pod's own cgroup (no container label:
Prometheus drops empty ones; the sum of all its containers) and init containers
such as ``istio-init``.

The figures of a block:

* **CPU** (mCores): ``sum(rate(container_cpu_usage_seconds_total{SEL}[Ws])) *
  1000``, i.e. the CPU seconds the containers used in the window over its
  length. Per series PromQL takes the increase from its first to its last
  sample in the window (a drop is a counter reset: the counter restarted from
  zero, as it does when a container restarts) and stretches it to a window edge
  when the first (last) sample lies within 1.1 average sample intervals of it,
  else by half an interval (a container that started or stopped inside the
  window), never back past the counter's zero. A container with a single
  sample in the window has no rate and adds nothing; the figure is left out
  (``None``, with a warning) when the samples are more than ``W / 2`` apart,
  because a container present all along may then have a single sample.
* **Memory** (MiB): the mean over the window of the summed working set
  (``container_memory_working_set_bytes``): each series' mean sample value
  weighted by the part of the window it stands for, by the same edge rule as
  the rate (:func:`covered_s`). A pod deleted or created inside the window thus
  counts for the part it ran, as its CPU does. This is computed here from the
  raw samples (the range selector ``{SEL}[Ws]``), not with
  ``sum(avg_over_time(...))``, which counts a pod that ran for part of the
  window as if it had run all along (a replaced pod twice); nor with a
  subquery, because cAdvisor's samples carry their own timestamps, so
  Prometheus (before 2.48's ``track_timestamps_staleness``) writes no staleness
  markers for them and an instant selector keeps returning a deleted
  container's last value for the 5 minute lookback.
* **Count**: the pods with a matched container, each counted for the part of
  the window it covers, rounded (at least 1): a replaced pod counts once.

**metrics.k8s.io** (metrics-server) otherwise: ``GET
/apis/metrics.k8s.io/v1beta1/namespaces/NS/pods`` sampled every
``METRICS_EVERY_S`` while the load runs; figures are the mean of the samples
taken inside the window (all samples when none is: a short run).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import statistics
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
MIB = 1048576
EXTRAPOLATION_THRESHOLD = 1.1
"""PromQL's rate() stretches a series to a window edge when its first (last)
sample lies within this many average sample intervals of the edge."""


@dataclass(frozen=True)
class Block:
    """One group of containers' usage over the window (``cpu_mcores`` None: not measured)."""

    count: int
    cpu_mcores: float | None
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
    """block -> {cpu, mem} -> PromQL, for the blocks the phase has.

    ``cpu`` answers the block's CPU in mCores; ``mem`` is a range selector whose
    answer (a matrix of raw samples) gives the memory and the count
    (:func:`working_set`).
    """
    out: dict[str, dict[str, str]] = {}
    for block, selector in _selectors(mesh, namespace).items():
        out[block] = {
            "cpu": (
                f"sum(rate(container_cpu_usage_seconds_total{{{selector}}}[{window_s}s])) * 1000"
            ),
            "mem": f"container_memory_working_set_bytes{{{selector}}}[{window_s}s]",
        }
    return out


class PrometheusError(Exception):
    pass


@dataclass(frozen=True)
class Series:
    """One series of a range-vector answer: its labels and its samples, oldest first."""

    labels: dict[str, str]
    times: tuple[float, ...]
    """Unix seconds (Prometheus keeps milliseconds)."""
    values: tuple[float, ...]

    @property
    def average_interval(self) -> float | None:
        """Seconds between samples on average (PromQL's figure), None for a lone sample."""
        if len(self.times) < 2:
            return None
        return (self.times[-1] - self.times[0]) / (len(self.times) - 1)


def sample_interval(series: list[Series]) -> float | None:
    """The median time between consecutive samples over all ``series`` (None: no two)."""
    gaps = [b - a for s in series for a, b in zip(s.times, s.times[1:], strict=False)]
    return statistics.median(gaps) if gaps else None


def covered_s(series: Series, begin: float, end: float, interval: float | None) -> float:
    """Seconds of ``[begin, end]`` that ``series`` stands for, by rate()'s edge rule.

    From its first to its last sample, plus at each end the stretch to the
    window edge when that is shorter than 1.1 average sample intervals (the
    container ran on to the edge; the next sample fell outside the window), else
    half an interval (it started or stopped inside the window, within one
    interval of that sample). The interval is the series' own average, or
    ``interval`` (the block's) for a lone sample; with neither, the lone sample
    stands for the whole window.
    """
    own = series.average_interval or interval
    if own is None:
        return end - begin
    first, last = series.times[0], series.times[-1]
    threshold = EXTRAPOLATION_THRESHOLD * own
    before = first - begin if first - begin < threshold else own / 2
    after = end - last if end - last < threshold else own / 2
    return min(end - begin, last - first + before + after)


@dataclass(frozen=True)
class WorkingSet:
    mean_bytes: float
    """The mean over the window of the summed working set of the series."""
    pods: int
    """Pods, each counted for the part of the window it covers, rounded; at least 1."""
    interval: float | None
    """The median time between samples (:func:`sample_interval`)."""


def working_set(series: list[Series], begin: float, end: float) -> WorkingSet:
    """Memory and count of a block from its working-set samples in ``[begin, end]``.

    Method: ``sum(mean(series values) * covered_s(series)) / (end - begin)``;
    a pod covers the longest time any of its containers does (a container's
    series before and after a restart add up), capped at the window.
    Assumes each container is scraped by one job (two would count it twice).
    """
    length = end - begin
    interval = sample_interval(series)
    total = 0.0
    by_container: dict[tuple[str, str], float] = {}
    for one in series:
        covered = covered_s(one, begin, end, interval)
        total += statistics.fmean(one.values) * covered
        key = (one.labels.get("pod", ""), one.labels.get("container", ""))
        by_container[key] = by_container.get(key, 0.0) + covered
    by_pod: dict[str, float] = {}
    for (pod, _), covered in by_container.items():
        by_pod[pod] = max(by_pod.get(pod, 0.0), min(covered, length))
    pods = max(1, math.floor(sum(by_pod.values()) / length + 0.5)) if series else 0
    return WorkingSet(total / length, pods, interval)


def _query(base_url: str, promql: str, at: float, client: httpx.Client) -> dict[str, Any]:
    """The ``data`` of an instant query at ``at`` (unix seconds)."""
    try:
        response = client.get(
            base_url.rstrip("/") + "/api/v1/query",
            params={"query": promql, "time": f"{at:.3f}"},
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
    data = payload.get("data")
    return data if isinstance(data, dict) else {}


def query_scalar(base_url: str, promql: str, at: float, client: httpx.Client) -> float | None:
    """The single value of an instant query at ``at``; None when the result is empty."""
    result = _query(base_url, promql, at, client).get("result") or []
    if not result:
        return None
    return float(result[0]["value"][1])


def query_series(base_url: str, promql: str, at: float, client: httpx.Client) -> list[Series]:
    """The series of a range-vector instant query at ``at``, with their raw samples."""
    data = _query(base_url, promql, at, client)
    if data.get("resultType") != "matrix":
        raise PrometheusError(f"Prometheus answered {data.get('resultType')} to {promql!r}")
    out = []
    for item in data.get("result") or []:
        values = item.get("values") or []
        if values:
            out.append(
                Series(
                    labels=dict(item.get("metric") or {}),
                    times=tuple(float(t) for t, _ in values),
                    values=tuple(float(v) for _, v in values),
                )
            )
    return out


@dataclass(frozen=True)
class Usage:
    blocks: dict[str, Block]
    warnings: list[str]
    """Why a figure is missing, one line each."""


def prometheus_usage(
    base_url: str, mesh: Mesh | None, namespace: str, start: dt.datetime, end: dt.datetime
) -> Usage:
    """Each block's figures over ``[end - W, end]``, ``W`` = ``end - start`` in whole seconds.

    A block is left out when Prometheus has no working-set sample of it in the
    window; its CPU is None when its samples are too sparse for a rate.
    """
    window_s = max(1, round((end - start).total_seconds()))
    stop = round(end.timestamp(), 3)
    begin = stop - window_s
    blocks: dict[str, Block] = {}
    warnings: list[str] = []
    with httpx.Client(timeout=PROMETHEUS_TIMEOUT_S) as client:
        for block, promql in queries(mesh, namespace, window_s).items():
            found = query_series(base_url, promql["mem"], stop, client)
            if not found:
                continue
            memory = working_set(found, begin, stop)
            cpu = query_scalar(base_url, promql["cpu"], stop, client)
            if memory.interval is None or memory.interval > window_s / 2:
                sparse = (
                    "has a single sample of each container"
                    if memory.interval is None
                    else f"samples the containers every {memory.interval:g} s, so it may have "
                    "a single sample of one"
                )
                warnings.append(
                    f"no {block} CPU: Prometheus {sparse} in the {window_s} s window, and a "
                    f"rate needs two (scrape cAdvisor every {window_s / 4:g} s or less, or run "
                    "longer)"
                )
                cpu = None
            elif cpu is None:
                warnings.append(f"no {block} CPU: no container has two samples in the window")
            blocks[block] = Block(
                count=memory.pods,
                cpu_mcores=None if cpu is None else round(cpu, 2),
                mem_mb=round(memory.mean_bytes / MIB, 2),
            )
    return Usage(blocks, warnings)


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
                cpus = [b.cpu_mcores for b in present if b.cpu_mcores is not None]
                out[name] = Block(
                    count=max(b.count for b in present),
                    cpu_mcores=round(sum(cpus) / len(cpus), 2) if cpus else None,
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
