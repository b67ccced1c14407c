"""Prometheus range-query dumps of per-container CPU and memory, and which block each container is.

See the package docstring (:mod:`smp.resources`) for the shapes read and what
the real files taught.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Literal

from smp.errors import ReaderError
from smp.model import IndividualWorkload, ResourceUsage, RunResources

Metric = Literal["cpu", "memory"]
FORMAT = "resources"
MIB = 1024 * 1024
MIN_WORKING_SET_BYTES = MIB
"""No running container's working set is below this; a lower memory figure is not bytes."""
MAX_CORES = 1024
"""More cores than this in one container's series means the unit is not cores."""
SKIPPED_CONTAINERS = frozenset({"", "POD"})
"""cAdvisor's pod-level series (no container) and the pause container."""


@dataclass(frozen=True)
class MeshPods:
    """How one mesh's pods and containers are told apart in per-container series."""

    sidecar_containers: tuple[str, ...] = ()
    sidecar_pods: str | None = None
    """Per-node proxy pods that do the sidecars' work (Traefik Mesh)."""
    control_plane_pods: str | None = None
    control_plane_namespaces: tuple[str, ...] = ()
    ingress_pods: str | None = None


MESH_PODS: dict[str, MeshPods] = {
    "istio": MeshPods(
        sidecar_containers=("istio-proxy",),
        control_plane_pods=r"istiod-|istio-pilot-",
        ingress_pods=r"istio-ingressgateway-",
    ),
    "linkerd": MeshPods(
        sidecar_containers=("linkerd-proxy",),
        control_plane_pods=r"linkerd-(?:destination|identity|proxy-injector)-",
        control_plane_namespaces=("linkerd",),
    ),
    "cilium": MeshPods(control_plane_pods=r"cilium-"),
    "kuma": MeshPods(
        sidecar_containers=("kuma-sidecar",), control_plane_pods=r"kuma-control-plane-"
    ),
    "consul": MeshPods(
        sidecar_containers=("consul-dataplane", "envoy-sidecar"),
        control_plane_pods=r"consul-(?:server|connect-injector)-",
    ),
    "traefik_mesh": MeshPods(
        sidecar_pods=r"traefik-mesh-proxy-", control_plane_pods=r"traefik-mesh-controller-"
    ),
}


def classify(pod: str, container: str, namespace: str | None, mesh_type: str) -> str:
    """The block a container's figures go to: a RunResources block, ``workloads`` or ``skip``."""
    if container in SKIPPED_CONTAINERS:
        return "skip"
    mesh = MESH_PODS.get(mesh_type)
    if mesh is None:
        return "workloads"
    if (mesh.control_plane_pods and re.match(mesh.control_plane_pods, pod)) or (
        namespace is not None and namespace in mesh.control_plane_namespaces
    ):
        return "mesh_control_plane"
    if mesh.ingress_pods and re.match(mesh.ingress_pods, pod):
        return "ingress_gateway"
    if container in mesh.sidecar_containers or (
        mesh.sidecar_pods and re.match(mesh.sidecar_pods, pod)
    ):
        return "sidecar"
    return "workloads"


# -- Prometheus ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    pod: str
    container: str
    namespace: str | None
    samples: tuple[tuple[float, float], ...]
    """(unix time, value) in the file's unit: cores or bytes."""


@dataclass(frozen=True)
class PromDump:
    """One file of one metric."""

    name: str
    metric: Metric
    series: tuple[Series, ...]

    def span(self) -> tuple[float, float]:
        times = [t for s in self.series for t, _ in s.samples]
        return (min(times), max(times)) if times else (math.nan, math.nan)


def metric_of(name: str) -> Metric | None:
    """``cpu`` or ``memory`` from a file name (``cpu_istio_1000.json``, ``mem-baseline.json``)."""
    stem = PurePath(name).name.lower()
    has_cpu, has_mem = "cpu" in stem, "mem" in stem
    if has_cpu == has_mem:
        return None
    return "cpu" if has_cpu else "memory"


def is_prometheus(doc: Any) -> bool:
    if isinstance(doc, dict):
        data = doc.get("data")
        return isinstance(data, dict) and "resultType" in data
    return (
        isinstance(doc, list)
        and bool(doc)
        and all(isinstance(x, dict) and "metric" in x and "values" in x for x in doc)
    )


def read_prometheus(doc: Any, name: str, metric: Metric | None = None) -> PromDump:
    """A range-query dump; ReaderError naming the file, the series and the rule otherwise."""
    metric = metric or metric_of(name)
    if metric is None:
        raise ReaderError(
            FORMAT,
            f"{name}: say whether it holds CPU or memory (cpu:FILE or mem:FILE, or 'cpu' or "
            "'mem' in the file name)",
        )
    if isinstance(doc, dict):
        data = doc.get("data") or {}
        if data.get("resultType") != "matrix":
            raise ReaderError(
                FORMAT,
                f"{name}: resultType {data.get('resultType')!r}: a range query (matrix) is needed",
            )
        doc = data.get("result")
    if not isinstance(doc, list):
        raise ReaderError(FORMAT, f"{name}: expected a list of series")
    series = tuple(_series(item, f"{name}[{i}]") for i, item in enumerate(doc))
    for item in series:
        _check_unit(item, metric, name)
    return PromDump(name, metric, series)


def _series(item: Any, where: str) -> Series:
    if not isinstance(item, dict) or not isinstance(item.get("metric"), dict):
        raise ReaderError(FORMAT, f"{where}: expected {{metric: {{...}}, values: [...]}}")
    labels = item["metric"]
    samples: list[tuple[float, float]] = []
    for index, pair in enumerate(item.get("values") or []):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ReaderError(FORMAT, f'{where}.values[{index}]: expected [time, "value"]')
        try:
            stamp, value = float(pair[0]), float(pair[1])
        except (TypeError, ValueError):
            raise ReaderError(FORMAT, f"{where}.values[{index}]: {pair!r} is not numbers") from None
        if math.isnan(value):
            continue  # Prometheus writes NaN where there was nothing to compute
        if math.isinf(value) or value < 0:
            raise ReaderError(FORMAT, f"{where}.values[{index}]: {pair[1]!r} is not a figure")
        samples.append((stamp, value))
    return Series(
        pod=str(labels.get("pod", labels.get("pod_name", ""))),
        container=str(labels.get("container", labels.get("container_name", ""))),
        namespace=labels.get("namespace"),
        samples=tuple(samples),
    )


def _check_unit(series: Series, metric: Metric, name: str) -> None:
    if series.container in SKIPPED_CONTAINERS or not series.samples:
        return
    who = f"{name}: series {{pod={series.pod}, container={series.container}}}"
    if metric == "memory":
        low = min(series.samples, key=lambda s: s[1])
        if low[1] < MIN_WORKING_SET_BYTES:
            when = dt.datetime.fromtimestamp(low[0], dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            raise ReaderError(
                FORMAT,
                f"{who}: {low[1]:,.0f} at {when} is not a memory level in bytes (a running "
                "container's working set is never below 1 MiB); was it rate() of the gauge? "
                "Dump container_memory_working_set_bytes itself",
            )
    else:
        high = max(value for _, value in series.samples)
        if high > MAX_CORES:
            raise ReaderError(
                FORMAT,
                f"{who}: {high:g} is not cores (CPU dumps hold "
                "rate(container_cpu_usage_seconds_total[...]), in cores)",
            )


def _mean_in(series: Series, start: float, end: float) -> float | None:
    inside = [value for stamp, value in series.samples if start <= stamp <= end]
    return math.fsum(inside) / len(inside) if inside else None


def resources_from_dumps(
    dumps: Iterable[PromDump], start: dt.datetime, end: dt.datetime, mesh_type: str
) -> RunResources | None:
    """The run's resources from its dumps: each series averaged over [start, end], then summed.

    CPU becomes millicores (cores x 1000), memory MiB (bytes / 2^20); a block's
    ``count`` is its distinct pods. None when no series has a sample in the window.
    """
    lo, hi = start.timestamp(), end.timestamp()
    figures: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    pods: dict[tuple[str, str], set[str]] = defaultdict(set)
    for dump in dumps:
        for series in dump.series:
            block = classify(series.pod, series.container, series.namespace, mesh_type)
            mean = _mean_in(series, lo, hi)
            if block == "skip" or mean is None:
                continue
            key = (block, series.container if block == "workloads" else "")
            value = mean * 1000 if dump.metric == "cpu" else mean / MIB
            field = "cpu_mcores" if dump.metric == "cpu" else "mem_mb"
            figures[key][field] = figures[key].get(field, 0.0) + value
            pods[key].add(series.pod)
    if not figures:
        return None
    resources = RunResources()
    for (block, container), values in sorted(figures.items()):
        cpu, mem = _rounded(values.get("cpu_mcores")), _rounded(values.get("mem_mb"))
        count = len(pods[(block, container)])
        if block == "workloads":
            resources.workloads.append(
                IndividualWorkload(name=container, count=count, cpu_mcores=cpu, mem_mb=mem)
            )
        else:
            setattr(resources, block, ResourceUsage(count=count, cpu_mcores=cpu, mem_mb=mem))
    return resources


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
