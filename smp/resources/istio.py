"""Istio's benchmark ``compiled-results.json`` rows (istio/tools perf/benchmark) as resources.

Each row is one fortio run joined with Prometheus figures by istio/tools'
``prom.py``: per ``<deployment>_<container>`` group, ``cpu_mili_{min,avg,max}``
(irate of container_cpu_usage_seconds_total, millicores, truncated to whole
ones) and ``mem_MB_{min,avg,max}`` (container_memory_usage_bytes / 2^20,
truncated: MiB, page cache included), summed over the deployment's pods. The
run's averages are used.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from smp.errors import ReaderError
from smp.loaders import load_json
from smp.model import IndividualWorkload, ResourceUsage, RunResources

FORMAT = "resources"

# (block, the row's <deployment>_<container> groups summed into it, pods)
ISTIO_BLOCKS: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("sidecar", ("fortioserver_deployment_proxy", "fortio_deployment_proxy"), 2),
    ("mesh_control_plane", ("pilot_discovery", "pilot_proxy"), 1),
    ("ingress_gateway", ("ingressgateway_proxy",), 1),
    ("mesh_telemetry", ("telemetry_mixer", "telemetry_proxy"), 1),
    ("mesh_policy", ("policy_mixer", "policy_proxy"), 1),
)
ISTIO_WORKLOAD = (
    "fortioserver",
    ("fortioserver_deployment_captured", "fortioserver_deployment_uncaptured"),
)
"""The application: fortio's server, whose "captured" port goes through the sidecar and
"uncaptured" one does not. fortio's client (``fortio_deployment_*``) is the load generator."""


def is_istio_rows(doc: Any) -> bool:
    rows = doc if isinstance(doc, list) else [doc]
    return bool(rows) and all(
        isinstance(r, dict) and "StartTime" in r and any(k.startswith("cpu_mili_") for k in r)
        for r in rows
    )


def read_istio_rows(data: bytes, name: str) -> list[dict[str, Any]]:
    """The rows of ``compiled-results.json`` (JSON Lines, or one JSON list)."""
    text = data.decode("utf-8-sig", errors="strict").strip()
    if text.startswith("["):
        rows = load_json(text, FORMAT)
    else:
        rows = [load_json(line, FORMAT) for line in text.splitlines() if line.strip()]
    if not is_istio_rows(rows):
        raise ReaderError(FORMAT, f"{name}: not rows of Istio's benchmark (StartTime, cpu_mili_*)")
    return list(rows)


def _row_figure(row: Mapping[str, Any], kind: str, group: str) -> float | None:
    value = row.get(f"{kind}_avg_{group}")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ReaderError(FORMAT, f"{kind}_avg_{group}: {value!r} is not a figure")
    return float(value)


def _row_usage(row: Mapping[str, Any], groups: Iterable[str]) -> dict[str, float]:
    usage: dict[str, float] = {}
    for kind, field in (("cpu_mili", "cpu_mcores"), ("mem_MB", "mem_mb")):
        values = [v for g in groups if (v := _row_figure(row, kind, g)) is not None]
        if values:
            usage[field] = math.fsum(values)
    return usage


def resources_from_istio_row(row: Mapping[str, Any]) -> RunResources:
    """One run's resources from its row: run averages, in mCores and MiB as the row has them."""
    resources = RunResources()
    for block, groups, count in ISTIO_BLOCKS:
        usage = _row_usage(row, groups)
        if usage:
            cpu, mem = usage.get("cpu_mcores"), usage.get("mem_mb")
            setattr(resources, block, ResourceUsage(count=count, cpu_mcores=cpu, mem_mb=mem))
    name, groups = ISTIO_WORKLOAD
    usage = _row_usage(row, groups)
    if usage:
        resources.workloads.append(
            IndividualWorkload(
                name=name, count=1, cpu_mcores=usage.get("cpu_mcores"), mem_mb=usage.get("mem_mb")
            )
        )
    return resources


def istio_row_start(row: Mapping[str, Any]) -> dt.datetime | None:
    text = str(row.get("StartTime", ""))
    match = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$", text)
    if not match:
        return None
    fraction = (match.group(2) or "")[:7]
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return dt.datetime.fromisoformat(match.group(1) + fraction + zone)
