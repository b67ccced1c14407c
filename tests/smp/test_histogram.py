from __future__ import annotations

import itertools
import json
import random

import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st

from smp.histogram import (
    HistogramError,
    buckets_from_hdr,
    check_buckets,
    decode_hdr,
    hdr_extremes,
    hdr_percentiles,
    merge_bucket_lists,
    merge_buckets,
    merge_hdr,
    percentile_from_buckets,
    summary_from_buckets,
    total_count,
)
from smp.model import HistogramBucket
from tests.conftest import SAMPLES

WIDTH = 0.5
OFFSET = 0.1
EPS = 1e-9


def edge(index: int) -> float:
    return OFFSET + index * WIDTH


@st.composite
def grid_histograms(draw: st.DrawFn, soft: bool = True) -> list[HistogramBucket]:
    """Buckets on one shared grid; with ``soft`` the outer edges are a run's min/max (fortio)."""
    indices = sorted(draw(st.sets(st.integers(0, 40), min_size=1, max_size=10)))
    buckets = [HistogramBucket(edge(i), edge(i + 1), draw(st.integers(1, 500))) for i in indices]
    if soft:
        first, last = buckets[0], buckets[-1]
        low = draw(st.floats(first.start_ms, first.end_ms, exclude_max=True))
        high_floor = low if len(buckets) == 1 else last.start_ms
        high = draw(st.floats(high_floor, last.end_ms))
        first.start_ms = low
        last.end_ms = high
    return buckets


quantiles = st.floats(0.001, 100)


def test_it_merges_identical_buckets_by_adding_counts() -> None:
    a = [HistogramBucket(1, 2, 3), HistogramBucket(2, 3, 4)]
    b = [HistogramBucket(1, 2, 10), HistogramBucket(3, 4, 1)]
    assert merge_buckets(a, b) == [
        HistogramBucket(1, 2, 13),
        HistogramBucket(2, 3, 4),
        HistogramBucket(3, 4, 1),
    ]


def test_it_merges_fortio_outer_buckets_taking_the_widest_min_and_max() -> None:
    a = [HistogramBucket(0.3, 1, 5), HistogramBucket(1, 2, 3), HistogramBucket(2, 2.7, 1)]
    b = [HistogramBucket(0.6, 1, 2), HistogramBucket(1, 2, 1), HistogramBucket(2, 2.4, 4)]
    assert merge_buckets(a, b) == [
        HistogramBucket(0.3, 1, 7),
        HistogramBucket(1, 2, 4),
        HistogramBucket(2, 2.7, 5),
    ]


def test_a_soft_outer_edge_takes_the_other_runs_bucket_edge() -> None:
    a = [HistogramBucket(1.4, 2, 5)]  # a single-bucket run: min 1.4, max 2
    b = [HistogramBucket(0.5, 1, 1), HistogramBucket(1, 2, 1), HistogramBucket(2, 3, 1)]
    assert merge_buckets(a, b)[1] == HistogramBucket(1, 2, 6)


def test_it_rejects_buckets_of_a_different_resolution_naming_the_bucket() -> None:
    a = [HistogramBucket(0, 1, 1), HistogramBucket(1, 2, 1), HistogramBucket(2, 3, 1)]
    b = [HistogramBucket(0, 0.5, 1), HistogramBucket(0.5, 1, 1), HistogramBucket(1, 1.5, 1)]
    with pytest.raises(HistogramError, match=r"bucket \[0, 1\) of histogram 0 .* resolution"):
        merge_buckets(a, b)


def test_it_rejects_buckets_with_a_different_offset() -> None:
    a = [HistogramBucket(0, 1, 1), HistogramBucket(1, 2, 1), HistogramBucket(2, 3, 1)]
    b = [HistogramBucket(0.2, 0.5, 1), HistogramBucket(0.5, 1.5, 1), HistogramBucket(1.5, 2, 1)]
    with pytest.raises(
        HistogramError, match=r"\[0\.2, 0\.5\) of histogram 1 overlaps bucket \[0, 1\)"
    ):
        merge_buckets(a, b)


def test_it_keeps_runs_that_occupy_disjoint_ranges() -> None:
    a = [HistogramBucket(0, 1, 1)]
    b = [HistogramBucket(5, 6, 2)]
    assert merge_buckets(a, b) == [HistogramBucket(0, 1, 1), HistogramBucket(5, 6, 2)]


def test_it_refuses_unsorted_or_negative_buckets() -> None:
    with pytest.raises(HistogramError, match="negative count"):
        check_buckets([HistogramBucket(0, 1, -1)])
    with pytest.raises(HistogramError, match=r"histogram\[1\]"):
        check_buckets([HistogramBucket(1, 2, 1), HistogramBucket(0, 1, 1)])


def test_it_merges_the_three_real_meshery_fortio_runs() -> None:
    runs = json.loads((SAMPLES / "meshery" / "meshery-results-fortio.json").read_bytes())
    lists = []
    for run in runs:
        data = run["runner_results"][0]["DurationHistogram"]["Data"]
        lists.append([HistogramBucket(d["Start"] * 1e3, d["End"] * 1e3, d["Count"]) for d in data])
    merged = merge_bucket_lists(lists)
    assert total_count(merged) == 78 + 300 + 300
    # The 5.0-5.123 ms last bucket of one run sits in the other's 5-6 ms bucket.
    five = next(b for b in merged if b.start_ms == pytest.approx(5.0))
    assert five.end_ms == pytest.approx(6.0)
    assert five.count == 3 + 28


def test_summary_from_buckets_uses_edges_and_midpoints() -> None:
    summary = summary_from_buckets([HistogramBucket(1, 2, 1), HistogramBucket(2, 4, 1)])
    assert summary.min == 1
    assert summary.max == 4
    assert summary.average == pytest.approx((1.5 + 3) / 2)
    assert summary.p50 == pytest.approx(2.0)


@settings(max_examples=200)
@given(grid_histograms(), grid_histograms())
def test_merged_total_count_is_the_sum(a: list[HistogramBucket], b: list[HistogramBucket]) -> None:
    assert total_count(merge_buckets(a, b)) == total_count(a) + total_count(b)


@settings(max_examples=200)
@given(grid_histograms(), grid_histograms())
def test_merging_is_commutative(a: list[HistogramBucket], b: list[HistogramBucket]) -> None:
    assert merge_buckets(a, b) == merge_buckets(b, a)


@settings(max_examples=200)
@given(grid_histograms(soft=False), grid_histograms(soft=False), grid_histograms(soft=False))
def test_merging_is_associative_on_a_shared_grid(
    a: list[HistogramBucket], b: list[HistogramBucket], c: list[HistogramBucket]
) -> None:
    assert merge_buckets(merge_buckets(a, b), c) == merge_buckets(a, merge_buckets(b, c))


@settings(max_examples=200)
@given(st.lists(grid_histograms(), min_size=2, max_size=4))
def test_merging_many_runs_does_not_depend_on_their_order(
    lists: list[list[HistogramBucket]],
) -> None:
    expected = merge_bucket_lists(lists)
    for order in itertools.permutations(lists):
        assert merge_bucket_lists(order) == expected


@settings(max_examples=200)
@given(grid_histograms(), quantiles, quantiles)
def test_percentile_is_monotone_in_q(buckets: list[HistogramBucket], q1: float, q2: float) -> None:
    low, high = sorted((q1, q2))
    assert percentile_from_buckets(buckets, low) <= percentile_from_buckets(buckets, high) + EPS


@settings(max_examples=200)
@given(grid_histograms(), quantiles)
def test_percentile_lies_within_the_histogram(buckets: list[HistogramBucket], q: float) -> None:
    value = percentile_from_buckets(buckets, q)
    assert buckets[0].start_ms - EPS <= value <= buckets[-1].end_ms + EPS


@settings(max_examples=200)
@given(grid_histograms(soft=False), grid_histograms(soft=False), quantiles)
def test_merged_percentile_lies_between_the_inputs_percentiles(
    a: list[HistogramBucket], b: list[HistogramBucket], q: float
) -> None:
    # True for a shared grid: the merged CDF is a mixture of the two. Not claimed
    # for fortio's soft outer buckets, whose merged edges widen the outer bucket.
    pa, pb = percentile_from_buckets(a, q), percentile_from_buckets(b, q)
    merged = percentile_from_buckets(merge_buckets(a, b), q)
    assert min(pa, pb) - 1e-6 <= merged <= max(pa, pb) + 1e-6


def _record(values: list[int]) -> HdrHistogram:
    histogram = HdrHistogram(1, 3_600_000_000, 3)
    for value in values:
        histogram.record_value(value)
    return histogram


hdr_values = st.lists(st.integers(1, 3_600_000_000), min_size=1, max_size=200)


@settings(max_examples=200, deadline=None)
@given(hdr_values, hdr_values, st.lists(st.floats(0.01, 100), min_size=1, max_size=5))
def test_hdr_merge_equals_recording_every_value_into_one_histogram(
    a: list[int], b: list[int], qs: list[float]
) -> None:
    merged = merge_hdr([_record(a).encode().decode(), _record(b).encode().decode()])
    everything = _record(a + b)
    decoded = decode_hdr(merged)
    assert decoded.get_total_count() == len(a) + len(b)
    assert decoded.counts_len == everything.counts_len
    assert list(decoded.counts[: decoded.counts_len]) == list(
        everything.counts[: everything.counts_len]
    )
    values = sorted(a + b)
    percentiles = hdr_percentiles(merged, qs)
    for q in qs:
        rank = max(int(q * len(values) / 100 + 0.5), 1)
        true_value = values[rank - 1]
        assert percentiles[q] >= true_value
        assert everything.values_are_equivalent(percentiles[q], true_value)


def test_hdr_percentiles_accepts_several_encoded_histograms() -> None:
    low = _record([10] * 50).encode().decode()
    high = _record([10_000] * 50).encode().decode()
    result = hdr_percentiles([low, high], [25, 75])
    assert result[25] == 10
    assert _record([10_000]).values_are_equivalent(result[75], 10_000)


def test_buckets_from_hdr_keeps_counts_and_caps_the_bucket_count() -> None:
    rng = random.Random(7)
    histogram = _record([rng.randint(1, 10_000_000) for _ in range(5000)])
    buckets = buckets_from_hdr(histogram, 50, units_per_ms=1000)
    assert len(buckets) <= 50
    assert total_count(buckets) == 5000
    check_buckets(buckets)
    low, high = hdr_extremes(histogram)
    assert buckets[0].start_ms == low / 1000
    assert buckets[-1].end_ms == (high + 1) / 1000


def test_buckets_from_hdr_is_exact_when_few_buckets_are_filled() -> None:
    histogram = _record([100, 100, 5000])
    buckets = buckets_from_hdr(histogram, 200)
    assert [(b.start_ms, b.count) for b in buckets] == [(100, 2), (5000, 1)]


def test_decode_hdr_names_an_unsupported_encoding() -> None:
    line = (SAMPLES / "hdrhistogram" / "raphael.hlog").read_text().splitlines()[3]
    with pytest.raises(HistogramError, match="encoding is V1 compressed"):
        decode_hdr(line.split(",")[-1])


def test_merging_all_runs_at_once_succeeds_where_a_pairwise_fold_cannot() -> None:
    # Documented limit: a soft outer edge of an intermediate result becomes an inner edge.
    a = [HistogramBucket(0.3, 1, 1), HistogramBucket(1, 1.7, 1)]  # max 1.7 in the 1-2 bucket
    b = [HistogramBucket(3, 4, 1)]
    c = [HistogramBucket(0.5, 1, 1), HistogramBucket(1, 2, 1), HistogramBucket(2, 2.5, 1)]
    merged = merge_bucket_lists([a, b, c])
    assert merged[1] == HistogramBucket(1, 2, 2)
    with pytest.raises(HistogramError):
        merge_buckets(merge_buckets(a, b), c)
