"""Istio benchmark CSV (istio/tools perf/benchmark runner: fortio results, one run per row).

The runner flattens each fortio JSON result (``fortio.py convert_data``) and
the Prometheus CPU/memory of the pods (``prom.py``) into one row; the columns
are chosen with ``--csv``, so only ``Labels``, ``ActualQPS`` and ``NumThreads``
are required. Known columns and units:

* ``StartTime`` (RFC 3339, nanoseconds) -> ``start_time``; ``ActualDuration``
  (whole seconds) -> ``duration_s``; ``NumThreads`` -> ``connections``;
  ``ActualQPS`` -> ``actual_qps`` and ``RequestedQPS`` -> ``requested_qps``
  (the runner rounds both to integers; RequestedQPS 99999999 stands for
  fortio's "max" and becomes None with label ``istio.requested_qps=max``).
* ``min``, ``p50``, ``p90``, ``p99``, ``p999``, ``max``: integer MICROseconds,
  converted to ms (``p75`` is dropped).
* ``RunType`` (HTTP, GRPC, TCP) -> ``protocol``; absent in the sample, so None.
* ``errorPercent`` and ``Payload`` become labels (the row holds no request
  count, so ``request_count`` and ``error_count`` stay None).
* ``<cpu_mili|mem_Mi|mem_MB>_<min|avg|max>_<group>``: millicores and MiB
  (``mem_MB`` is also bytes / 1024^2). Only ``avg`` columns are used. Groups:
  ``istio_proxy_<pod>`` is the istio-proxy container of that pod: a sidecar,
  except ``istio-ingressgateway`` / ``egressgateway`` pods, which are the
  gateways (``ingress_gateway`` / ``egress_gateway``); the older per-container
  names ``<deployment>_proxy`` likewise; ``<pilot|istiod>_discovery`` is the
  control plane; ``telemetry_mixer`` / ``policy_mixer`` are Mixer; the fortio
  app containers (``fortio[server]_deployment_<captured|uncaptured>``) are
  ``workloads``. Each ResourceUsage is the SUM over its pods, with ``count`` =
  number of pods. Other resource columns are kept as labels.

``Labels`` goes to label ``fortio.labels``; its last ``_`` part is the runner's
sidecar mode: ``baseline`` / ``no_istio`` give role "baseline", ``both``,
``serveronly``, ``clientonly``, ``ingress`` give "mesh" (label
``istio.sidecar_mode``). A Labels value starting ``nighthawk_`` marks a
nighthawk run. The runner writes ``-`` for a key the run lacked: that cell is
read as absent, except in the required columns. A row whose cells are all
empty is skipped; any other empty or non-numeric cell is an error naming the
line and the column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Iterator

from smp.errors import ReaderError
from smp.loaders import decode_text
from smp.model import (
    IndividualWorkload,
    Latencies,
    LoadGenerator,
    PerformanceTestResult,
    ResourceUsage,
    RunResources,
)
from smp.readers._fields import CsvRows

NAME = "istio-csv"

REQUIRED_COLUMNS: tuple[str, ...] = ("Labels", "ActualQPS", "NumThreads")
LATENCY_COLUMNS: dict[str, str] = {
    "min": "min",
    "p50": "p50",
    "p90": "p90",
    "p99": "p99",
    "p999": "p999",
    "max": "max",
}
MAX_QPS_MARKER = 99999999
"""What the runner writes as RequestedQPS for fortio's ``-qps max``."""

# "cpu_mili_avg_istio_proxy_fortioclient", "mem_MB_max_pilot_discovery": kind, statistic, group
RESOURCE_COLUMN = re.compile(
    r"^(?P<kind>cpu_mili|mem_Mi|mem_MB)_(?P<stat>min|avg|max)_(?P<group>.+)$"
)
# "2020-08-12T08:44:44.445810184Z": fortio's start time with up to 9 fraction digits
START_TIME = re.compile(
    r"^(?P<base>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(?P<fraction>\d{1,9}))?(?P<zone>Z|[+-]\d\d:\d\d)$"
)
_MODES = {
    "baseline": "baseline",
    "no_istio": "baseline",
    "both": "mesh",
    "serveronly": "mesh",
    "clientonly": "mesh",
    "ingress": "mesh",
}
_APPS = {"fortio_deployment": "fortioclient", "fortioserver_deployment": "fortioserver"}


def sniff(data: bytes) -> bool:
    """A CSV whose header names Labels, ActualQPS, NumThreads and a fortio percentile."""
    head = data[:4096].decode("utf-8", errors="replace").lstrip("\ufeff")
    columns = {c.strip() for c in head.split("\n", 1)[0].split(",")}
    return set(REQUIRED_COLUMNS) <= columns and bool(columns & {"p50", "p90", "p99"})


def read(data: bytes) -> list[PerformanceTestResult]:
    """One result per data row; raises ReaderError naming line and column on bad cells."""
    records = csv.reader(io.StringIO(decode_text(data, NAME)))
    try:
        results = list(_rows(records))
    except csv.Error as exc:
        raise ReaderError(NAME, f"line {records.line_num}: malformed CSV: {exc}") from None
    if not results:
        raise ReaderError(NAME, "the CSV has a header but no data rows")
    return results


def _rows(records: CsvRows) -> Iterator[PerformanceTestResult]:
    header = [cell.strip() for cell in next(records, [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ReaderError(NAME, f"header lacks column(s) {', '.join(missing)}; got {header}")
    if not set(header) & set(LATENCY_COLUMNS):
        raise ReaderError(NAME, "header has no latency column (p50, p90, p99, ...)")
    if len(set(header)) != len(header):
        raise ReaderError(NAME, "header names a column twice")
    for record in records:
        if not any(cell.strip() for cell in record):
            continue  # blank line
        line = records.line_num
        if len(record) != len(header):
            raise ReaderError(NAME, f"line {line}: {len(record)} cells, header has {len(header)}")
        yield _Row(line, dict(zip(header, (c.strip() for c in record), strict=True))).result()


class _Row:
    def __init__(self, line: int, cells: dict[str, str]) -> None:
        self.line = line
        self.cells = cells

    def required(self, column: str) -> float:
        value = self.number(column, required=True)
        if value is None:  # pragma: no cover - number() raises for required cells
            raise ReaderError(NAME, f"line {self.line}, column {column!r}: a number is required")
        return value

    def number(self, column: str, required: bool = False) -> float | None:
        """The cell as a float; None when the column is absent or holds the runner's "-"."""
        if column not in self.cells:
            return None
        text = self.cells[column]
        if text == "-" and not required:
            return None
        where = f"line {self.line}, column {column!r}"
        if not text:
            raise ReaderError(NAME, f"{where}: the cell is empty; a number is required")
        try:
            value = float(text)
        except ValueError:
            raise ReaderError(NAME, f"{where}: {text!r} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise ReaderError(NAME, f"{where}: {text!r} must be a finite number >= 0")
        return value

    def result(self) -> PerformanceTestResult:
        labels_text = self.cells["Labels"]
        if not labels_text:
            raise ReaderError(NAME, f"line {self.line}, column 'Labels': the cell is empty")
        qps = self.required("ActualQPS")
        threads = self.required("NumThreads")
        if threads != int(threads):
            raise ReaderError(NAME, f"line {self.line}, column 'NumThreads': must be whole")
        latencies = {
            field: None if (us := self.number(col)) is None else us / 1e3
            for field, col in LATENCY_COLUMNS.items()
        }
        result = PerformanceTestResult(
            latencies_ms=Latencies(**latencies),
            actual_qps=qps,
            start_time=self.start_time(),
            duration_s=self.number("ActualDuration"),
            connections=int(threads),
            load_generator=LoadGenerator(
                name="nighthawk" if labels_text.startswith("nighthawk_") else "fortio"
            ),
            labels={"fortio.labels": labels_text},
        )
        run_type = self.cells.get("RunType", "-").lower()
        if run_type in ("http", "grpc", "tcp", "udp"):
            result.protocol = run_type
        requested = self.number("RequestedQPS")
        if requested == MAX_QPS_MARKER:
            result.labels["istio.requested_qps"] = "max"
        else:
            result.requested_qps = requested
        for column, label in (
            ("errorPercent", "istio.error_percent"),
            ("Payload", "istio.payload"),
        ):
            if self.number(column) is not None:
                result.labels[label] = self.cells[column]
        mode = next((m for m in _MODES if labels_text.endswith("_" + m)), None)
        if mode:
            result.role = _MODES[mode]
            result.labels["istio.sidecar_mode"] = mode
        result.resources = self.resources(result.labels)
        return result

    def start_time(self) -> dt.datetime | None:
        text = self.cells.get("StartTime", "-")
        if text == "-":
            return None
        m = START_TIME.match(text)
        try:
            if not m:
                raise ValueError(text)
            fraction = (m.group("fraction") or "0")[:6].ljust(6, "0")
            zone = "+00:00" if m.group("zone") == "Z" else m.group("zone")
            return dt.datetime.fromisoformat(f"{m.group('base')}.{fraction}{zone}")
        except ValueError:
            raise ReaderError(
                NAME, f"line {self.line}, column 'StartTime': {text!r} is not an RFC 3339 time"
            ) from None

    def resources(self, labels: dict[str, str]) -> RunResources | None:
        groups: dict[str, dict[str, dict[str, float]]] = {}  # block -> pod -> kind -> value
        for column in self.cells:
            m = RESOURCE_COLUMN.match(column)
            if not m or m.group("stat") != "avg":
                continue
            value = self.number(column)
            if value is None:
                continue
            kind = "cpu" if m.group("kind") == "cpu_mili" else "mem"
            block, pod = _classify(m.group("group"))
            if block is None:
                labels[f"istio.{column}"] = self.cells[column]
                continue
            groups.setdefault(block, {}).setdefault(pod, {})[kind] = value
        if not groups:
            return None
        resources = RunResources()
        for block, pods in groups.items():
            if block == "workloads":
                resources.workloads = [
                    IndividualWorkload(
                        name=pod, count=1, cpu_mcores=v.get("cpu"), mem_mb=v.get("mem")
                    )
                    for pod, v in sorted(pods.items())
                ]
            else:
                setattr(resources, block, _usage(pods))
        return resources


def _usage(pods: dict[str, dict[str, float]]) -> ResourceUsage:
    cpu = [v["cpu"] for v in pods.values() if "cpu" in v]
    mem = [v["mem"] for v in pods.values() if "mem" in v]
    return ResourceUsage(
        count=len(pods),
        cpu_mcores=sum(cpu) if cpu else None,
        mem_mb=sum(mem) if mem else None,
    )


def _classify(group: str) -> tuple[str | None, str]:
    """(RunResources field or "workloads" or None, pod/workload name) for a column group."""
    if group.startswith("istio_proxy_"):
        pod = group.removeprefix("istio_proxy_")
        return _proxy_block(pod), pod
    deployment, _, container = group.rpartition("_")
    if container == "proxy" and deployment:
        return _proxy_block(deployment), deployment
    if container == "discovery" and ("pilot" in deployment or "istiod" in deployment):
        return "mesh_control_plane", deployment
    if container == "mixer" and deployment in ("telemetry", "policy"):
        return f"mesh_{deployment}", deployment
    if container in ("captured", "uncaptured") and deployment in _APPS:
        return "workloads", f"{_APPS[deployment]}/{container}"
    return None, group


def _proxy_block(pod: str) -> str:
    if "ingressgateway" in pod:
        return "ingress_gateway"
    if "egressgateway" in pod:
        return "egress_gateway"
    return "sidecar"
