from __future__ import annotations

import copy
import datetime as dt
import itertools
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from smp.consistency import WARNING_RULES, check_bundle, check_result
from smp.document import bundle_from_dict, result_from_dict
from smp.errors import Problem
from smp.histogram import summary_from_buckets, total_count
from smp.model import Bundle, HistogramBucket, Latencies, PerformanceTestResult
from tests.smp import examples


def good_result() -> PerformanceTestResult:
    return result_from_dict(examples.result())


def good_bundle() -> Bundle:
    return bundle_from_dict(examples.bundle())


def found(problems: list[Problem]) -> set[tuple[str, str]]:
    return {(p.path, p.rule) for p in problems}


def test_the_example_result_and_bundle_are_consistent() -> None:
    assert check_result(good_result()) == []
    assert check_bundle(good_bundle()) == []


# percentiles-ordered


def test_it_rejects_percentiles_out_of_order() -> None:
    r = good_result()
    r.histogram = []  # or the histogram would contradict the new p90 too
    r.latencies_ms.p90 = 0.9  # below p50 = 1.0
    problems = check_result(r)
    assert found(problems) == {("latencies_ms.p90", "percentiles-ordered")}
    assert "p90 (0.9 ms) is below p50 (1.0 ms)" in problems[0].message


def test_it_reports_every_percentile_below_an_earlier_one() -> None:
    r = PerformanceTestResult(latencies_ms=Latencies(p50=5, p90=3, p99=4, max=6))
    assert found(check_result(r)) == {
        ("latencies_ms.p90", "percentiles-ordered"),
        ("latencies_ms.p99", "percentiles-ordered"),
    }


def test_it_accepts_equal_neighbouring_percentiles() -> None:
    r = PerformanceTestResult(latencies_ms=Latencies(min=1, p50=1, p90=2, p99=2, max=2))
    assert check_result(r) == []


def test_a_bundle_problem_carries_the_runs_index_in_its_path() -> None:
    b = good_bundle()
    b.runs[1].latencies_ms.p99 = 2.0  # below the mesh run's p95 2.8
    assert ("runs[1].latencies_ms.p99", "percentiles-ordered") in found(check_bundle(b))


# average-within-range


def test_it_rejects_an_average_above_the_max() -> None:
    r = good_result()
    r.latencies_ms.average = 5.0
    assert found(check_result(r)) == {("latencies_ms.average", "average-within-range")}


def test_it_rejects_an_average_below_the_min() -> None:
    r = good_result()
    r.latencies_ms.average = 0.4
    assert found(check_result(r)) == {("latencies_ms.average", "average-within-range")}


def test_it_accepts_an_average_within_min_and_max() -> None:
    r = good_result()
    r.latencies_ms.average = 3.9
    assert check_result(r) == []


# request-count-matches-rate: 10% of actual_qps x duration_s, plus one request


def test_it_rejects_a_request_count_that_does_not_fit_the_rate() -> None:
    r = good_result()
    r.actual_qps = 150.0  # 9000 expected over 60 s, 6000 reported
    assert found(check_result(r)) == {("request_count", "request-count-matches-rate")}


def test_it_accepts_a_request_count_within_ten_percent_plus_one() -> None:
    r = good_result()
    r.actual_qps = 110.0  # 6600 expected; 6000 is 600 away, allowed 661
    assert check_result(r) == []
    r.actual_qps = 112.0  # 6720 expected; 720 away, allowed 673
    assert found(check_result(r)) == {("request_count", "request-count-matches-rate")}


# histogram-count-matches


def test_it_rejects_a_histogram_holding_more_requests_than_were_made() -> None:
    r = good_result()
    r.histogram[0].count += 1
    assert ("histogram", "histogram-count-matches") in found(check_result(r))


def test_it_rejects_an_empty_histogram_for_a_run_with_requests() -> None:
    r = good_result()
    r.histogram = [HistogramBucket(b.start_ms, b.end_ms, 0) for b in r.histogram]
    assert found(check_result(r)) == {("histogram", "histogram-count-matches")}


def test_it_accepts_a_histogram_holding_fewer_requests_like_wrk2_after_calibration() -> None:
    r = good_result()
    r.request_count, r.actual_qps = 18000, 300.0
    r.status_codes = {"200": 17988, "503": 12}
    assert check_result(r) == []


# percentiles-match-histogram: within the containing bucket's width or 5%


def test_it_rejects_a_percentile_that_the_histogram_contradicts() -> None:
    r = good_result()
    r.histogram = [
        HistogramBucket(0.5, 1.0, 100),
        HistogramBucket(1.0, 2.0, 100),
        HistogramBucket(2.0, 3.0, 790),  # the median now lies near 2.4 ms, not 1.0
        HistogramBucket(3.0, 4.0, 10),
    ]
    problems = check_result(r)
    assert found(problems) == {("latencies_ms.p50", "percentiles-match-histogram")}
    assert "histogram gives 2.37975 ms" in problems[0].message


def test_it_accepts_a_percentile_within_its_bucket() -> None:
    r = good_result()
    r.latencies_ms.p50 = 1.45  # histogram says 1.0; the bucket [0.5, 1.0) is 0.5 wide
    assert check_result(r) == []


# start-before-end


def test_it_rejects_an_end_time_before_the_start_time() -> None:
    r = good_result()
    assert r.start_time is not None
    r.end_time = r.start_time - dt.timedelta(seconds=1)
    assert found(check_result(r)) == {("end_time", "start-before-end")}


def test_it_accepts_an_end_time_after_the_start_time() -> None:
    r = good_result()
    assert r.start_time is not None
    r.end_time = r.start_time + dt.timedelta(seconds=60)
    assert check_result(r) == []


# duration-matches-times: 1 s + 10%


def test_it_rejects_a_duration_that_does_not_fit_the_timestamps() -> None:
    r = good_result()
    assert r.start_time is not None
    r.end_time = r.start_time + dt.timedelta(seconds=30)
    assert found(check_result(r)) == {("duration_s", "duration-matches-times")}


def test_it_accepts_a_duration_within_a_second_and_ten_percent() -> None:
    r = good_result()
    assert r.start_time is not None
    r.end_time = r.start_time + dt.timedelta(seconds=65)  # 5 s away, allowed 1 + 6.5
    assert check_result(r) == []


# latency-looks-like-seconds: p50 < 0.05 ms and 0 < max < 1 ms


def test_it_rejects_seconds_written_as_milliseconds() -> None:
    # fortio's README run (seconds) copied under latencies_ms.
    r = PerformanceTestResult(
        latencies_ms=Latencies(min=0.00027292, p50=0.000412, p99=0.000901, max=0.000930407)
    )
    problems = check_result(r)
    assert found(problems) == {("latencies_ms", "latency-looks-like-seconds")}
    assert "multiply by 1000?" in problems[0].message
    assert "latency-looks-like-seconds" not in WARNING_RULES


def test_it_accepts_a_fast_loopback_run_in_milliseconds() -> None:
    # nighthawk big_sample: p50 0.182 ms, max 19.2 ms; and fortio's README run in ms.
    fast = PerformanceTestResult(latencies_ms=Latencies(min=0.136, p50=0.182, max=19.19))
    readme = PerformanceTestResult(latencies_ms=Latencies(min=0.273, p50=0.412, max=0.930))
    assert check_result(fast) == []
    assert check_result(readme) == []


# finite-number


def test_it_rejects_nan_and_infinity_without_cascading() -> None:
    r = good_result()
    r.latencies_ms.p99 = math.nan
    r.actual_qps = math.inf
    r.histogram[1].end_ms = math.nan
    assert found(check_result(r)) == {
        ("latencies_ms.p99", "finite-number"),
        ("actual_qps", "finite-number"),
        ("histogram[1].end_ms", "finite-number"),
    }


def test_it_finds_non_finite_numbers_in_the_environment() -> None:
    b = good_bundle()
    b.environment.node[0].cores = math.inf
    assert found(check_bundle(b)) == {("environment.node[0].cores", "finite-number")}


# non-negative


def test_it_rejects_negative_counts_and_latencies() -> None:
    r = good_result()
    r.error_count = -1
    r.latencies_ms.min = -0.5
    assert found(check_result(r)) == {
        ("error_count", "non-negative"),
        ("latencies_ms.min", "non-negative"),
    }


def test_it_rejects_negative_resource_figures_in_the_mesh_config() -> None:
    b = good_bundle()
    assert b.mesh_config.sidecar is not None
    b.mesh_config.sidecar.mem_mb = -48.2
    assert found(check_bundle(b)) == {("mesh_config.sidecar.mem_mb", "non-negative")}


# errors-within-requests


def test_it_rejects_more_errors_than_requests() -> None:
    r = good_result()
    r.error_count = 6001
    assert found(check_result(r)) == {("error_count", "errors-within-requests")}


def test_it_rejects_status_codes_counting_more_responses_than_requests() -> None:
    r = good_result()
    r.status_codes["503"] = 20
    assert found(check_result(r)) == {("status_codes", "errors-within-requests")}


def test_it_accepts_errors_equal_to_the_request_count() -> None:
    r = good_result()
    r.error_count = 6000
    assert check_result(r) == []


# histogram-buckets-valid


def test_it_rejects_overlapping_histogram_buckets() -> None:
    r = good_result()
    r.histogram[2].start_ms = 1.5
    assert found(check_result(r)) == {("histogram[2]", "histogram-buckets-valid")}


def test_it_rejects_a_bucket_that_ends_before_it_starts() -> None:
    r = good_result()
    r.histogram[3] = HistogramBucket(4.0, 3.0, 10)
    assert found(check_result(r)) == {("histogram[3]", "histogram-buckets-valid")}


# roles-valid


def test_it_rejects_an_unknown_role() -> None:
    r = good_result()
    r.role = "canary"
    assert found(check_result(r)) == {("role", "roles-valid")}


def test_it_rejects_a_bundle_run_without_a_role() -> None:
    b = good_bundle()
    b.runs.append(good_result())
    b.runs[2].role = None
    assert found(check_bundle(b)) == {("runs[2].role", "roles-valid")}


def test_it_rejects_a_mesh_run_in_a_bundle_whose_mesh_type_is_none() -> None:
    b = good_bundle()
    b.mesh_config.mesh_type = "none"
    b.mesh_config.mtls_enabled = None
    assert found(check_bundle(b)) == {("runs[1].role", "roles-valid")}


# baseline-missing (a warning), baseline-interleaved, mesh-run-present


def test_it_warns_when_a_bundle_has_no_baseline() -> None:
    b = good_bundle()
    b.runs[0].role = "mesh"
    problems = check_bundle(b)
    assert found(problems) == {("runs", "baseline-missing")}
    assert all(p.rule in WARNING_RULES for p in problems)


def test_it_rejects_a_second_baseline_that_no_mesh_run_follows() -> None:
    b = good_bundle()
    b.runs.append(good_result())
    assert b.runs[2].role == "baseline"
    assert found(check_bundle(b)) == {("runs[2].role", "baseline-interleaved")}


def test_it_accepts_interleaved_pairs_and_pairs_each_mesh_run_with_the_baseline_before_it() -> None:
    b = good_bundle()
    b.runs += [copy.deepcopy(b.runs[0]), copy.deepcopy(b.runs[1]), copy.deepcopy(b.runs[1])]
    assert [r.role for r in b.runs] == ["baseline", "mesh", "baseline", "mesh", "mesh"]
    assert check_bundle(b) == []
    assert [b.baseline_index_of(i) for i in (1, 3, 4)] == [0, 2, 2]


def test_with_several_baselines_the_runs_start_with_one() -> None:
    b = good_bundle()
    b.runs = [copy.deepcopy(b.runs[1]), b.runs[0], b.runs[1]]
    b.runs += [copy.deepcopy(b.runs[1])]
    b.runs.append(copy.deepcopy(b.runs[2]))
    assert [r.role for r in b.runs] == ["mesh", "baseline", "mesh", "baseline", "mesh"]
    assert found(check_bundle(b)) == {("runs[0].role", "baseline-interleaved")}


def test_one_baseline_pairs_with_every_mesh_run_wherever_it_is_listed() -> None:
    b = good_bundle()
    b.runs = [b.runs[1], b.runs[0], copy.deepcopy(b.runs[1])]
    assert check_bundle(b) == []
    assert [b.baseline_index_of(i) for i in (0, 2)] == [1, 1]


def test_it_rejects_a_bundle_without_a_mesh_run() -> None:
    b = good_bundle()
    del b.runs[1]
    assert found(check_bundle(b)) == {("runs", "mesh-run-present")}


# profile-consistent


def test_it_rejects_a_run_of_another_profile() -> None:
    b = good_bundle()
    b.runs[1].profile_id = "grpc-1k"
    problems = check_bundle(b)
    assert found(problems) == {("runs[1].profile_id", "profile-consistent")}
    assert "differs from the bundle's profile ('http-100')" in problems[0].message


def test_it_compares_runs_with_each_other_when_the_bundle_names_no_profile() -> None:
    b = good_bundle()
    b.profile = None
    assert check_bundle(b) == []
    b.runs[1].profile_id = "grpc-1k"
    assert found(check_bundle(b)) == {("runs[1].profile_id", "profile-consistent")}


def test_it_accepts_runs_that_leave_the_profile_to_the_bundle() -> None:
    b = good_bundle()
    for run in b.runs:
        run.profile_id = None
    assert check_bundle(b) == []


# mesh-type-known


def test_it_rejects_an_unknown_mesh_type() -> None:
    b = good_bundle()
    b.mesh_config.mesh_type = "istioo"
    assert found(check_bundle(b)) == {("mesh_config.mesh_type", "mesh-type-known")}


@pytest.mark.parametrize("mesh_type", ["linkerd", "cilium", "kuma"])
def test_it_accepts_every_known_mesh_type(mesh_type: str) -> None:
    b = good_bundle()
    b.mesh_config.mesh_type = mesh_type
    assert check_bundle(b) == []


# mtls-vs-mesh-none


def test_it_rejects_mtls_without_a_mesh() -> None:
    b = good_bundle()
    b.mesh_config.mesh_type = "none"
    del b.runs[1]  # keep only the baseline so no other rule is about the mesh
    assert ("mesh_config.mtls_enabled", "mtls-vs-mesh-none") in found(check_bundle(b))


def test_it_accepts_mtls_with_a_mesh() -> None:
    b = good_bundle()
    assert b.mesh_config.mtls_enabled is True
    assert check_bundle(b) == []


def test_every_problem_is_returned_not_only_the_first() -> None:
    b = good_bundle()
    b.runs[0].latencies_ms.p90 = 0.1
    b.runs[1].error_count = 9000
    b.mesh_config.mesh_type = "istioo"
    assert found(check_bundle(b)) == {
        ("runs[0].latencies_ms.p90", "percentiles-ordered"),
        ("runs[0].latencies_ms.p90", "percentiles-match-histogram"),
        ("runs[1].error_count", "errors-within-requests"),
        ("mesh_config.mesh_type", "mesh-type-known"),
    }


def test_a_path_prefix_is_put_before_every_field() -> None:
    r = good_result()
    r.error_count = -1
    assert found(check_result(r, "results[3]")) == {("results[3].error_count", "non-negative")}


@st.composite
def histograms(draw: st.DrawFn) -> list[HistogramBucket]:
    edges = sorted(draw(st.sets(st.integers(1, 400), min_size=2, max_size=12)))
    return [
        HistogramBucket(lo / 10, hi / 10, draw(st.integers(0, 1000)))
        for lo, hi in itertools.pairwise(edges)
    ]


@settings(max_examples=200)
@given(histograms())
def test_a_result_summarised_from_its_own_histogram_is_consistent(
    buckets: list[HistogramBucket],
) -> None:
    assume(total_count(buckets) > 0)
    r = PerformanceTestResult(
        latencies_ms=summary_from_buckets(buckets),
        histogram=buckets,
        request_count=total_count(buckets),
    )
    assert check_result(r) == []
