"""Latency histogram math: percentiles from buckets and merging.

Percentiles cannot be averaged across runs; they are recomputed from merged
bucket counts. Two bucketings are supported:

* explicit buckets (``HistogramBucket`` lists, as fortio writes them), merged
  when their edges agree;
* HDR histograms (the ``hdrhistogram`` package), merged exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from smp.model import HistogramBucket


class HistogramError(ValueError):
    """Buckets that cannot be used (negative counts, overlapping or unsorted edges)."""


def total_count(buckets: Sequence[HistogramBucket]) -> int:
    return sum(b.count for b in buckets)


def percentile_from_buckets(buckets: Sequence[HistogramBucket], q: float) -> float:
    """Latency at percentile ``q`` (0 < q <= 100) from explicit buckets, in ms.

    Method (fortio's): walk the buckets in order accumulating the percentage of
    requests; in the first bucket whose cumulative percentage reaches ``q``,
    interpolate linearly between its start and end by how far into the bucket
    ``q`` falls. Assumes requests are spread uniformly inside a bucket.
    Raises HistogramError when there are no requests or ``q`` is out of range.
    """
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
            return bucket.start_ms + (bucket.end_ms - bucket.start_ms) * fraction
        previous_percent = percent
    last = buckets[-1]
    return last.end_ms
