"""The bundles the ingest bench sends: a pool of distinct demo bundles, and a big one."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_ingest.settings import MARK


@dataclass
class Pool:
    """Demo bundles split around a marker in their labels: any tag makes a new body."""

    parts: list[tuple[bytes, bytes]]
    runs: list[int]
    docs: list[dict[str, Any]]

    def body(self, index: int, tag: str) -> bytes:
        prefix, suffix = self.parts[index % len(self.parts)]
        return prefix + tag.encode() + suffix

    def runs_of(self, index: int) -> int:
        return self.runs[index % len(self.runs)]

    def write(self, path: Path) -> None:
        """Two lines per bundle (before and after the marker), for the Lua script."""
        with path.open("wb") as out:
            for prefix, suffix in self.parts:
                out.write(prefix + b"\n" + suffix + b"\n")


def make_pool(size: int, seed: int) -> Pool:
    from meshmark.demo.generate import generate

    pool = Pool([], [], [])
    for sub in generate(size, seed):
        doc = json.loads(sub.body)
        pool.docs.append(copy.deepcopy(doc))
        doc.setdefault("labels", {})["bench"] = MARK
        text = json.dumps(doc, separators=(",", ":")).encode()
        prefix, suffix = text.split(MARK.encode())
        assert b"\n" not in text
        pool.parts.append((prefix, suffix))
        pool.runs.append(len(doc["runs"]))
    return pool


def _fine_histogram(run: dict[str, Any], per_bucket: int) -> None:
    """Split every bucket into ``per_bucket`` narrower ones, its count spread evenly."""
    fine = []
    for bucket in run["histogram"]:
        start, end, count = bucket["start_ms"], bucket["end_ms"], bucket["count"]
        k = per_bucket if end > start else 1
        edges = [start, *(round(start + (end - start) * j / k, 6) for j in range(1, k)), end]
        for j in range(k):
            share = count * (j + 1) // k - count * j // k
            fine.append({"start_ms": edges[j], "end_ms": edges[j + 1], "count": share})
    run["histogram"] = fine
    _percentiles_from_histogram(run)


def _percentiles_from_histogram(run: dict[str, Any]) -> None:
    """Reported percentiles as the fine histogram gives them, so the bundle stays consistent."""
    from smp.histogram import locate_percentile
    from smp.model import HistogramBucket

    buckets = [HistogramBucket(b["start_ms"], b["end_ms"], b["count"]) for b in run["histogram"]]
    for name, q in (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("p999", 99.9)):
        if run["latencies_ms"].get(name) is not None:
            run["latencies_ms"][name] = round(locate_percentile(buckets, q)[0], 6)


def big_bundle(
    doc: dict[str, Any], limit: int, max_buckets: int, tag: str
) -> tuple[bytes, int, int]:
    """A valid bundle just under ``limit`` bytes: one baseline and as many mesh runs as fit,
    each with a histogram of up to ``max_buckets`` buckets. Returns (body, runs, buckets)."""
    doc = copy.deepcopy(doc)
    doc["labels"]["bench"] = tag
    baseline = next(r for r in doc["runs"] if r["role"] == "baseline")
    mesh = next(r for r in doc["runs"] if r["role"] == "mesh")
    per_bucket = max_buckets // max(len(baseline["histogram"]), len(mesh["histogram"]))
    _fine_histogram(baseline, per_bucket)
    template = copy.deepcopy(mesh)
    _fine_histogram(mesh, per_bucket)

    def mesh_run(n: int, per: int) -> dict[str, Any]:
        run = copy.deepcopy(template)
        run["id"] = f"{template['id']}-{n}"
        _fine_histogram(run, per)
        return run

    def encoded(runs: list[dict[str, Any]]) -> bytes:
        return json.dumps({**doc, "runs": runs}, separators=(",", ":")).encode()

    runs = [baseline, mesh]
    while len(encoded([*runs, mesh_run(len(runs), per_bucket)])) <= limit:
        runs.append(mesh_run(len(runs), per_bucket))
    low, high = 1, per_bucket  # the last run: the most buckets that still fit
    while low < high:
        mid = (low + high + 1) // 2
        if len(encoded([*runs, mesh_run(len(runs), mid)])) <= limit:
            low = mid
        else:
            high = mid - 1
    if len(encoded([*runs, mesh_run(len(runs), low)])) <= limit:
        runs.append(mesh_run(len(runs), low))
    body = encoded(runs)
    return body, len(runs), sum(len(r["histogram"]) for r in runs)
