"""Latency histogram math: percentiles from buckets and merging.

Percentiles cannot be averaged across runs; they are recomputed from merged
bucket counts. Two bucketings are supported:

* explicit buckets (``HistogramBucket`` lists, as fortio writes them), merged
  when their edges agree (see :func:`merge_bucket_lists` for the exact rule);
* HDR histograms (the ``hdrhistogram`` package, base64 compressed V2
  encoding), merged exactly.

All explicit-bucket values are milliseconds. HDR histograms hold integers in
whatever unit they were recorded in; callers pass ``units_per_ms`` to convert.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from smp.model import HistogramBucket, Latencies


class HistogramError(ValueError):
    """A histogram that cannot be used or merged (bad buckets, other bucketing, bad HDR data)."""


def total_count(buckets: Sequence[HistogramBucket]) -> int:
    return sum(b.count for b in buckets)


def locate_percentile(
    buckets: Sequence[HistogramBucket], q: float
) -> tuple[float, HistogramBucket]:
    """Latency at percentile ``q`` and the bucket it falls in (see percentile_from_buckets)."""
    if not 0 < q <= 100:
        raise HistogramError(f"percentile {q} is outside (0, 100]")
    total = total_count(buckets)
    if total <= 0:
        raise HistogramError("the histogram holds no requests")
    previous_percent = 0.0
    cumulative = 0
    for bucket in buckets:
        if bucket.count < 0:
            raise HistogramError(
                f"bucket [{bucket.start_ms}, {bucket.end_ms}) has a negative count"
            )
        if bucket.count == 0:
            continue
        cumulative += bucket.count
        percent = 100.0 * cumulative / total
        if percent >= q:
            fraction = (q - previous_percent) / (percent - previous_percent)
            return bucket.start_ms + (bucket.end_ms - bucket.start_ms) * fraction, bucket
        previous_percent = percent
    # Only reachable through float rounding of the last cumulative percentage.
    last = next(b for b in reversed(buckets) if b.count > 0)
    return last.end_ms, last


def percentile_from_buckets(buckets: Sequence[HistogramBucket], q: float) -> float:
    """Latency at percentile ``q`` (0 < q <= 100) from explicit buckets, in ms.

    Method (fortio's): walk the buckets in order accumulating the percentage of
    requests; in the first bucket whose cumulative percentage reaches ``q``,
    interpolate linearly between its start and end by how far into the bucket
    ``q`` falls. Assumes requests are spread uniformly inside a bucket.
    Raises HistogramError when there are no requests or ``q`` is out of range.
    """
    return locate_percentile(buckets, q)[0]


def summary_from_buckets(buckets: Sequence[HistogramBucket]) -> Latencies:
    """min/average/percentiles/max in ms, recomputed from explicit buckets.

    ``min`` is the start of the first non-empty bucket and ``max`` the end of
    the last one (exact for fortio, whose outer buckets carry the run's min and
    max as edges; an outer bound otherwise). ``average`` weights each bucket's
    midpoint by its count, so it is exact only when requests are spread
    symmetrically inside buckets. Percentiles use :func:`percentile_from_buckets`.
    """
    filled = [b for b in buckets if b.count > 0]
    if not filled:
        raise HistogramError("the histogram holds no requests")
    total = total_count(filled)
    average = sum(b.count * (b.start_ms + b.end_ms) / 2 for b in filled) / total
    return Latencies(
        min=filled[0].start_ms,
        average=average,
        p50=percentile_from_buckets(filled, 50),
        p90=percentile_from_buckets(filled, 90),
        p95=percentile_from_buckets(filled, 95),
        p99=percentile_from_buckets(filled, 99),
        p999=percentile_from_buckets(filled, 99.9),
        max=filled[-1].end_ms,
    )


def bucket_order_issues(buckets: Sequence[HistogramBucket]) -> list[tuple[int, str]]:
    """``(index, message)`` for each bucket that ends before it starts or overlaps its predecessor.

    Buckets may touch (one's end equals the next one's start) and may be points
    (start == end, fortio's single-value run).
    """
    issues: list[tuple[int, str]] = []
    for index, bucket in enumerate(buckets):
        if not bucket.start_ms <= bucket.end_ms:
            issues.append((index, f"ends ({bucket.end_ms}) before it starts ({bucket.start_ms})"))
        elif index and bucket.start_ms < buckets[index - 1].end_ms:
            before = buckets[index - 1]
            issues.append(
                (
                    index,
                    f"[{bucket.start_ms}, {bucket.end_ms}) overlaps or precedes the bucket "
                    f"before it [{before.start_ms}, {before.end_ms}); buckets must be sorted "
                    "and must not overlap",
                )
            )
    return issues


def check_buckets(buckets: Sequence[HistogramBucket], name: str = "histogram") -> None:
    """Raise HistogramError unless counts are >= 0 and buckets sorted and disjoint."""
    for index, bucket in enumerate(buckets):
        if bucket.count < 0:
            raise HistogramError(f"{name}[{index}] has a negative count ({bucket.count})")
    issues = bucket_order_issues(buckets)
    if issues:
        index, message = issues[0]
        raise HistogramError(f"{name}[{index}] {message}")


# -- merging explicit buckets -------------------------------------------------------------


@dataclass(frozen=True)
class _Member:
    """A bucket of one input list, with which of its edges are soft.

    A soft edge is a data extreme rather than a bucketing edge: fortio writes
    the run's min as the first bucket's start and its max as the last bucket's
    end, so the true bucket edge lies at or below a soft start and at or above
    a soft end.
    """

    bucket: HistogramBucket
    source: int
    soft_start: bool
    soft_end: bool

    def describe(self) -> str:
        b = self.bucket
        return f"bucket [{b.start_ms}, {b.end_ms}) of histogram {self.source}"


def _members(lists: Sequence[Sequence[HistogramBucket]]) -> list[_Member]:
    out: list[_Member] = []
    for source, buckets in enumerate(lists):
        check_buckets(buckets, f"histogram {source}")
        filled = [b for b in buckets if b.count > 0]
        for index, bucket in enumerate(filled):
            out.append(_Member(bucket, source, index == 0, index == len(filled) - 1))
    out.sort(key=lambda m: (m.bucket.start_ms, m.bucket.end_ms))
    return out


def _clusters(members: list[_Member]) -> list[list[_Member]]:
    """Group buckets that overlap, directly or through a chain of overlaps."""
    clusters: list[list[_Member]] = []
    start = end = -math.inf
    for member in members:
        b = member.bucket
        joins = bool(clusters) and (b.start_ms < end or (b.start_ms == start == end))
        if joins:
            clusters[-1].append(member)
            end = max(end, b.end_ms)
        else:
            clusters.append([member])
            start, end = b.start_ms, b.end_ms
    return clusters


def _overlap(x: HistogramBucket, y: HistogramBucket) -> bool:
    if x.start_ms == x.end_ms:  # a point lies in y when y.start <= p < y.end (or y is p)
        return y.start_ms <= x.start_ms < y.end_ms or y.start_ms == y.end_ms == x.start_ms
    if y.start_ms == y.end_ms:
        return x.start_ms <= y.start_ms < x.end_ms
    return x.start_ms < y.end_ms and y.start_ms < x.end_ms


def _edge_agrees(x_value: float, x_soft: bool, y_value: float, y_soft: bool, lower: bool) -> bool:
    """Whether two edges can be the same bucketing edge; soft edges may lie inside."""
    if x_soft and y_soft:
        return True
    if x_soft:
        return x_value >= y_value if lower else x_value <= y_value
    if y_soft:
        return y_value >= x_value if lower else y_value <= x_value
    return x_value == y_value


def _compatible(x: _Member, y: _Member) -> bool:
    a, b = x.bucket, y.bucket
    return _edge_agrees(a.start_ms, x.soft_start, b.start_ms, y.soft_start, True) and (
        _edge_agrees(a.end_ms, x.soft_end, b.end_ms, y.soft_end, False)
    )


def _conflict(member: _Member, other: _Member) -> HistogramError:
    return HistogramError(
        f"incompatible bucketings: {member.describe()} overlaps {other.describe()} "
        "but their edges differ (different resolution or offset); "
        "merge only histograms written with the same bucket edges"
    )


def _merge_cluster(cluster: list[_Member]) -> HistogramBucket:
    count = sum(m.bucket.count for m in cluster)
    if len(cluster) == 1:
        b = cluster[0].bucket
        return HistogramBucket(b.start_ms, b.end_ms, count)
    # Pairwise first, in order, so the error names the first conflicting pair.
    for i, x in enumerate(cluster):
        for y in cluster[i + 1 :]:
            if y.bucket.start_ms > x.bucket.end_ms:
                break
            if x.source != y.source and _overlap(x.bucket, y.bucket) and not _compatible(x, y):
                raise _conflict(y, x)
    hard_start = next((m for m in cluster if not m.soft_start), None)
    hard_end = next((m for m in cluster if not m.soft_end), None)
    start = hard_start.bucket.start_ms if hard_start else min(m.bucket.start_ms for m in cluster)
    end = hard_end.bucket.end_ms if hard_end else max(m.bucket.end_ms for m in cluster)
    # Chains of pairwise-compatible overlaps can still disagree as a whole.
    for member in cluster:
        b = member.bucket
        start_ok = b.start_ms >= start if member.soft_start else b.start_ms == start
        end_ok = b.end_ms <= end if member.soft_end else b.end_ms == end
        if not start_ok and hard_start is not None:
            raise _conflict(member, hard_start)
        if not end_ok and hard_end is not None:
            raise _conflict(member, hard_end)
    return HistogramBucket(start, end, count)


def merge_bucket_lists(lists: Sequence[Sequence[HistogramBucket]]) -> list[HistogramBucket]:
    """Merge several explicit bucketings into one, adding counts.

    Rule: buckets that overlap must be the same bucket of a common bucketing.
    Buckets with identical ``(start, end)`` add their counts. The first and
    last non-empty bucket of each input have *soft* outer edges (fortio writes
    the run's min and max there): a soft start may lie above the other
    buckets' start, a soft end below their end; the merged bucket takes the
    hard edge, or the min of soft starts / max of soft ends when all are soft.
    Any other overlap (different resolution or offset) raises HistogramError
    naming the first conflicting bucket. Buckets that overlap nothing are
    kept as they are, so runs that occupy disjoint ranges always merge.
    Zero-count buckets carry no data and are dropped.

    Soft edges are known only in the original lists: merge all runs in one
    call rather than folding pairwise, since an outer bucket of an
    intermediate result can become an inner one. With identical buckets every
    merged percentile lies between the inputs' percentiles; a widened soft
    outer bucket can move percentiles inside it slightly outside that range.
    """
    return [_merge_cluster(c) for c in _clusters(_members(lists))]


def merge_buckets(
    a: Sequence[HistogramBucket], b: Sequence[HistogramBucket]
) -> list[HistogramBucket]:
    """Merge two explicit bucketings (see :func:`merge_bucket_lists` for the rule)."""
    return merge_bucket_lists([a, b])


# -- HDR histograms -----------------------------------------------------------------------


_HDR_ENCODINGS: dict[int, str] = {
    0x1C849308: "V0",
    0x1C849301: "V1",
    0x1C849302: "V1 compressed",
    0x1C849303: "V2 uncompressed",
    0x1C849304: "V2 compressed",
}
"""HdrHistogram encoding cookies (word size bits masked out) and their names."""


def _hdr_encoding(encoded: str) -> str | None:
    try:
        cookie = int.from_bytes(base64.b64decode(encoded[:8])[:4], "big")
    except ValueError:
        return None
    return _HDR_ENCODINGS.get(cookie & ~0xF0, f"unknown (cookie {cookie:#x})")


def decode_hdr(encoded: str) -> Any:
    """Decode one base64 compressed V2 HDR histogram, or raise HistogramError.

    Older encodings (V0/V1, HdrHistogram before 2.0 and log format 1.1) and
    DoubleHistogram payloads are refused with the encoding named.
    """
    try:
        return HdrHistogram.decode(encoded)
    except Exception:  # hdrh raises TypeError, zlib.error and its own exception types
        encoding = _hdr_encoding(encoded)
    if encoding is None:
        problem = "the HDR histogram is not base64 text"
    elif encoding == "V2 compressed":
        problem = "the V2 compressed HDR histogram is corrupt or truncated"
    else:
        problem = f"the HDR histogram's encoding is {encoding}"
    raise HistogramError(
        f"{problem}; only base64 compressed V2 histograms (HdrHistogram 2.x) can be read"
    )


def merge_hdr_histograms(histograms: Sequence[Any]) -> Any:
    """Add decoded HDR histograms into a new one (exact when they share parameters).

    The result covers the lowest lowest-trackable value, the highest
    highest-trackable value and the most significant figures of the inputs.
    Inputs with other parameters are re-recorded bucket by bucket at each
    bucket's lowest value, exact only when the result's buckets are finer.
    """
    if not histograms:
        raise HistogramError("no HDR histograms to merge")
    merged = HdrHistogram(
        min(h.lowest_trackable_value for h in histograms),
        max(h.highest_trackable_value for h in histograms),
        max(h.significant_figures for h in histograms),
    )
    for histogram in histograms:
        merged.add(histogram)
    return merged


def merge_hdr(encoded: Sequence[str]) -> str:
    """Merge base64 compressed V2 HDR histograms into one, encoded the same way."""
    merged = merge_hdr_histograms([decode_hdr(e) for e in encoded])
    return bytes(merged.encode()).decode("ascii")


def hdr_percentiles(encoded: str | Sequence[str], qs: Sequence[float]) -> dict[float, int]:
    """Values at percentiles ``qs`` (0..100) of one or several (merged) HDR histograms.

    Values are in the histograms' recorded unit. Each is the highest value
    equivalent to the recorded value at that rank (HdrHistogram's convention),
    so it lies within the histogram's precision above the true value.
    """
    if any(not 0 <= q <= 100 for q in qs):
        raise HistogramError(f"percentiles must lie in [0, 100], got {list(qs)}")
    items = [encoded] if isinstance(encoded, str) else list(encoded)
    histogram = merge_hdr_histograms([decode_hdr(e) for e in items])
    if histogram.get_total_count() == 0:
        raise HistogramError("the HDR histogram holds no values")
    values = histogram.get_percentile_to_value_dict(list(qs))
    return {float(q): int(values[q]) for q in qs}


def hdr_extremes(histogram: Any) -> tuple[int, int]:
    """(lowest, highest) equivalent value of the first and last non-empty HDR bucket.

    Computed from the counts rather than ``get_min_value`` because
    ``HdrHistogram.add`` into an empty histogram resets its tracked min to 0.
    """
    filled = [i for i in range(histogram.counts_len) if histogram.get_count_at_index(i) > 0]
    if not filled:
        raise HistogramError("the HDR histogram holds no values")
    low = int(histogram.get_value_from_index(filled[0]))
    high = int(histogram.get_highest_equivalent_value(histogram.get_value_from_index(filled[-1])))
    return low, high


def buckets_from_hdr(
    histogram: Any, max_buckets: int = 200, *, units_per_ms: float = 1.0
) -> list[HistogramBucket]:
    """Explicit buckets (ms) from an HDR histogram, at most ``max_buckets`` of them.

    Each non-empty HDR bucket ``[lowest, highest + 1)`` becomes a bucket. When
    there are more than ``max_buckets``, neighbours are grouped on a log scale:
    edges grow geometrically from the first positive value to the largest
    value, so relative resolution is the same everywhere; each group spans its
    members (edges stay HDR edges). Empty buckets are left out.
    """
    if max_buckets < 1:
        raise HistogramError("max_buckets must be at least 1")
    exact: list[tuple[int, int, int]] = []
    for index in range(histogram.counts_len):
        count = int(histogram.get_count_at_index(index))
        if count:
            low = int(histogram.get_value_from_index(index))
            exact.append((low, int(histogram.get_highest_equivalent_value(low)) + 1, count))
    if len(exact) > max_buckets:
        exact = _log_groups(exact, max_buckets)
    return [HistogramBucket(lo / units_per_ms, hi / units_per_ms, n) for lo, hi, n in exact]


def _log_groups(exact: list[tuple[int, int, int]], max_buckets: int) -> list[tuple[int, int, int]]:
    # A first bucket starting at 0 gets group 0 to itself; logs start above it.
    base = exact[0][0] if exact[0][0] > 0 else exact[0][1]
    ratio = math.log(exact[-1][1] / base) / (max_buckets - 1) if max_buckets > 1 else 0.0
    groups: dict[int, list[int]] = {}
    for lo, hi, count in exact:
        if lo < base or ratio == 0.0:
            key = 0
        else:
            key = min(int(math.log(lo / base) / ratio) + 1, max_buckets - 1)
        group = groups.setdefault(key, [lo, hi, 0])
        group[0] = min(group[0], lo)
        group[1] = max(group[1], hi)
        group[2] += count
    return [(g[0], g[1], g[2]) for _, g in sorted(groups.items())]
