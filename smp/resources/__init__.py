"""CPU and memory per container from files people already have, as a run's resources.

Two sources:

- **Prometheus range queries** (``promtool query range -o json``, a JSON list of
  ``{metric: {pod, container, ...}, values: [[unix time, "value"], ...]}``, or the
  HTTP API's ``{status, data: {resultType: "matrix", result: [...]}}``), one
  metric a file: CPU in cores (``rate(container_cpu_usage_seconds_total[..])``)
  or memory in bytes (``container_memory_working_set_bytes``). Which one comes
  from the caller, else from the file name (``cpu`` or ``mem`` in it).
- **Istio's benchmark** ``compiled-results.json`` rows (istio/tools
  perf/benchmark: JSON Lines, one row per fortio run, ``cpu_mili_avg_<deployment>_<container>``
  in millicores and ``mem_MB_avg_...`` in MiB, averaged over the run).

Each container's series is averaged over the run's own window (its
``start_time`` to ``start_time + duration_s``), then the containers are summed
into the blocks of :class:`smp.model.RunResources` by :func:`classify` (the table
is in docs/smp.md, "Resources from Prometheus and Istio's benchmark"); ``count``
is the number of distinct pods.

What the real files taught: mesh-bench's ``mem_*.json`` hold
``sum(rate(container_memory_working_set_bytes[2m]))``, the per-second change
of a gauge (values from 0 to a few hundred thousand), not memory. A memory
series with a sample below 1 MiB is refused: no running container's working
set is that small.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smp.errors import ReaderError
from smp.loaders import load_json
from smp.model import PerformanceTestResult
from smp.resources.istio import (
    is_istio_rows,
    istio_row_start,
    read_istio_rows,
    resources_from_istio_row,
)
from smp.resources.prometheus import (
    FORMAT,
    Metric,
    PromDump,
    is_prometheus,
    read_prometheus,
    resources_from_dumps,
)


def sniff(data: bytes) -> str | None:
    """``prometheus``, ``istio-rows`` or None: what kind of resources file ``data`` is."""
    text = data.decode("utf-8-sig", errors="replace").strip()
    for candidate in (text, text.split("\n", 1)[0]):
        try:
            doc = json.loads(candidate)
        except ValueError:
            continue
        if is_prometheus(doc):
            return "prometheus"
        if is_istio_rows(doc):
            return "istio-rows"
    return None


# -- placing files on runs -------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceFile:
    """A file of resources: a Prometheus dump, or Istio's benchmark rows."""

    name: str
    dump: PromDump | None = None
    rows: tuple[Mapping[str, Any], ...] = ()


def load(data: bytes, name: str, metric: Metric | None = None) -> ResourceFile:
    """Read a resources file of either kind; ReaderError saying what it is not, otherwise."""
    kind = sniff(data)
    if kind == "prometheus":
        return ResourceFile(name, dump=read_prometheus(load_json(data, FORMAT), name, metric))
    if kind == "istio-rows":
        return ResourceFile(name, rows=tuple(read_istio_rows(data, name)))
    raise ReaderError(
        FORMAT,
        f"{name}: neither a Prometheus range query (JSON list of {{metric, values}}, or the "
        "API's {status, data}) nor Istio's benchmark rows (compiled-results.json)",
    )


def window(run: PerformanceTestResult) -> tuple[dt.datetime, dt.datetime] | None:
    """When the run ran: its start and its end (end_time, else start + duration_s)."""
    if run.start_time is None:
        return None
    if run.duration_s is not None:
        return run.start_time, run.start_time + dt.timedelta(seconds=run.duration_s)
    if run.end_time is not None:
        return run.start_time, run.end_time
    return None


def _stamp(value: float) -> str:
    return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def place(
    runs: Sequence[PerformanceTestResult], files: Sequence[ResourceFile], mesh_type: str
) -> list[str]:
    """Set each run's ``resources`` from the files that cover it; what went where, as lines.

    A Prometheus dump goes to the run whose window it overlaps most; Istio's
    rows to the runs whose start time (within 1 s) or fortio labels they carry.
    ReaderError when a file covers no run, or a run would get resources from both
    kinds of file.
    """
    windows = [window(run) for run in runs]
    dumps: dict[int, list[PromDump]] = defaultdict(list)
    rows: dict[int, Mapping[str, Any]] = {}
    lines: list[str] = []
    for file in files:
        if file.dump is not None:
            index = _best_overlap(file.dump, windows)
            dumps[index].append(file.dump)
            lines.append(f"{file.name}: {file.dump.metric} of runs[{index}]")
        else:
            matched = _match_rows(file, runs)
            if not matched:
                raise ReaderError(
                    FORMAT, f"{file.name}: no row starts when a run does, or has its labels"
                )
            rows.update(matched)
            lines.extend(
                f"{file.name}: row {row.get('Labels')} of runs[{i}]" for i, row in matched.items()
            )
    for index, run in enumerate(runs):
        if index in dumps and index in rows:
            raise ReaderError(FORMAT, f"runs[{index}] has resources from a dump and from a row")
        span = windows[index]
        if index in dumps and span is not None:
            run.resources = resources_from_dumps(dumps[index], span[0], span[1], mesh_type)
        elif index in rows:
            run.resources = resources_from_istio_row(rows[index])
    return lines


def _best_overlap(dump: PromDump, windows: Sequence[tuple[dt.datetime, dt.datetime] | None]) -> int:
    lo, hi = dump.span()
    overlaps = [
        (min(hi, w[1].timestamp()) - max(lo, w[0].timestamp())) if w is not None else -1.0
        for w in windows
    ]
    best = max(range(len(overlaps)), key=lambda i: overlaps[i], default=-1)
    if best < 0 or overlaps[best] <= 0:
        runs = ", ".join(
            f"runs[{i}] {w[0]:%Y-%m-%dT%H:%M:%SZ}..{w[1]:%H:%M:%SZ}" if w else f"runs[{i}] no time"
            for i, w in enumerate(windows)
        )
        covers = f"{_stamp(lo)}..{_stamp(hi)}" if not math.isnan(lo) else "no sample"
        raise ReaderError(FORMAT, f"{dump.name}: covers {covers}, which overlaps no run ({runs})")
    return best


def _match_rows(
    file: ResourceFile, runs: Sequence[PerformanceTestResult]
) -> dict[int, Mapping[str, Any]]:
    matched: dict[int, Mapping[str, Any]] = {}
    for index, run in enumerate(runs):
        for row in file.rows:
            start = istio_row_start(row)
            same_start = (
                start is not None
                and run.start_time is not None
                and abs((start - run.start_time).total_seconds()) <= 1
            )
            same_labels = run.labels.get("run_labels") not in (None, "") and run.labels.get(
                "run_labels"
            ) == row.get("Labels")
            if same_start or same_labels:
                matched[index] = row
                break
    return matched


__all__ = [
    "Metric",
    "PromDump",
    "ResourceFile",
    "load",
    "place",
    "read_istio_rows",
    "read_prometheus",
    "resources_from_dumps",
    "resources_from_istio_row",
    "sniff",
    "window",
]
