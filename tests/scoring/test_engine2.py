"""MeshMark version 2 on fixed inputs: its worked example (docs/meshmark.md, section 10),
its variants, and the properties that motivated it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.engine import MESHMARK_2, MIN_TAIL_SAMPLES, score_pair
from scoring.inputs import successful
from smp.histogram import summary_from_buckets
from smp.model import HistogramBucket, Latencies, PerformanceTestResult

from .test_engine import example_baseline, example_mesh, example_mesh_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "meshmark.md"
TIGHT = 5e-7
BUDGET = 0.01  # http-1k's error budget

EXPECTED_MUES = {
    "latency_p50": 0.800000,
    "latency_p90": 0.750000,
    "latency_p99": 0.750000,
    "latency_p999": 0.500000,
    "throughput_vs_requested": 0.990000,
    "throughput_vs_baseline": 0.991984,
    "errors_within_budget": 0.520040,
    "cpu_app_share": 0.666667,
    "memory_app_share": 0.600000,
}
EXPECTED_CLASSES = {
    "latency": 0.700000,
    "throughput": 0.990992,
    "errors": 0.520040,
    "cpu": 0.666667,
    "memory": 0.600000,
}
EXPECTED_SCORE = 69.553975


def example2_baseline() -> PerformanceTestResult:
    run = example_baseline()
    run.latencies_ok_ms = Latencies(p50=0.80, p90=1.20, p99=2.40, p999=6.00)
    return run


def example2_mesh() -> PerformanceTestResult:
    """The meshmark-1 example's mesh run, whose tool separated its successful requests:
    its 297 failures were fast, so the successful requests' tail is slower."""
    run = example_mesh()
    run.latencies_ok_ms = Latencies(p50=1.00, p90=1.60, p99=3.20, p999=12.00)
    return run


def score(
    baseline: PerformanceTestResult, mesh: PerformanceTestResult, budget: float | None = BUDGET
) -> object:
    return score_pair(
        baseline, mesh, mesh_config=example_mesh_config(), error_budget=budget, formula=MESHMARK_2
    )


def test_the_worked_example_scores_exactly_as_the_doc_says() -> None:
    result = score_pair(
        example2_baseline(),
        example2_mesh(),
        mesh_config=example_mesh_config(),
        error_budget=BUDGET,
    )

    assert result.version == MESHMARK_2.version == "meshmark-2"
    for name, value in EXPECTED_MUES.items():
        assert result.mues[name] == pytest.approx(value, abs=TIGHT), name
    for name, value in EXPECTED_CLASSES.items():
        assert result.classes[name] == pytest.approx(value, abs=TIGHT), name
    assert result.score == pytest.approx(EXPECTED_SCORE, abs=TIGHT)
    assert result.score is not None and round(result.score, 2) == 69.55
    assert result.partial is False and result.missing == [] and result.mue_mask == 511


def test_variant_d_the_same_run_without_its_failures_scores_higher() -> None:
    mesh = example2_mesh()
    mesh.error_count = 0

    result = score_pair(
        example2_baseline(), mesh, mesh_config=example_mesh_config(), error_budget=BUDGET
    )

    # errors MUE 1: the baseline's own 0.02% are not the mesh's doing.
    assert result.mues["errors_within_budget"] == 1.0
    assert result.score is not None and round(result.score, 2) == 79.15


def test_variant_e_mixed_latencies_without_a_histogram_are_not_scorable() -> None:
    mesh = example_mesh()  # 297 failures among latencies that include them, no histogram

    result = score_pair(
        example2_baseline(), mesh, mesh_config=example_mesh_config(), error_budget=BUDGET
    )

    assert result.score is None
    assert {"latency_p50", "latency_p99"} <= set(result.missing)


def test_variant_f_a_half_length_run_loses_its_p999() -> None:
    baseline, mesh = example2_baseline(), example2_mesh()
    baseline.request_count, baseline.error_count = 29940, 6
    mesh.request_count, mesh.error_count = 29700, 148

    result = score_pair(baseline, mesh, mesh_config=example_mesh_config(), error_budget=BUDGET)

    # 29,552 successful mesh requests put 29.6 beyond p99.9: fewer than 50.
    assert result.missing == ["latency_p999"]
    assert result.classes["latency"] == pytest.approx((0.8 + 0.75 + 0.75) / 3, abs=TIGHT)


def test_the_doc_still_prints_the_worked_example_numbers() -> None:
    text = DOC.read_text(encoding="utf-8")
    for number in ["0.520040", "0.990992", "0.700000", "69.553975", "**69.55**", "**79.15**"]:
        assert number in text, number
    assert "`meshmark-2`" in text


def test_without_a_budget_the_errors_class_is_missing_and_the_score_partial() -> None:
    result = score_pair(example2_baseline(), example2_mesh(), mesh_config=example_mesh_config())

    assert result.classes["errors"] is None and result.partial


# Successful requests from a histogram ----------------------------------------------------


def uniform_run(errors: int) -> PerformanceTestResult:
    """1,000 requests spread evenly over 1..2 ms (10 buckets of 100), ``errors`` of them
    failed (which ones, the histogram does not say)."""
    buckets = [HistogramBucket(1.0 + i / 10, 1.0 + (i + 1) / 10, 100) for i in range(10)]
    return PerformanceTestResult(
        latencies_ms=Latencies(p50=1.5, p90=1.9, p99=1.99, p999=1.999),
        request_count=1000,
        error_count=errors,
        histogram=buckets,
    )


def test_a_mesh_runs_mixed_latencies_are_read_as_if_its_failures_were_the_fastest() -> None:
    run = uniform_run(200)

    latencies, count = successful(run, failures_fastest=True)

    # 800 successes; if the 200 failures were the fastest, the successes span 1.2..2.0 ms
    # evenly, and their median is 1.6 ms (the overall 60th percentile).
    assert count == 800
    assert latencies.p50 == pytest.approx(1.6)
    assert latencies.p90 == pytest.approx(1.92)


def test_a_baselines_mixed_latencies_are_read_as_if_its_failures_were_the_slowest() -> None:
    latencies, count = successful(uniform_run(200), failures_fastest=False)

    # The successes span 1.0..1.8 ms: median 1.4 ms (the overall 40th percentile).
    assert count == 800 and latencies.p50 == pytest.approx(1.4)


def test_separated_latencies_and_error_free_runs_are_taken_as_they_are() -> None:
    clean = uniform_run(0)
    assert successful(clean, failures_fastest=True)[0] is clean.latencies_ms
    separated = dataclasses.replace(clean, error_count=5, latencies_ok_ms=Latencies(p50=1.55))
    assert successful(separated, failures_fastest=True)[0].p50 == 1.55


def test_a_run_whose_every_request_failed_has_no_latency() -> None:
    latencies, count = successful(uniform_run(1000), failures_fastest=True)
    assert latencies == Latencies() and count == 0


# Properties ---------------------------------------------------------------------------


@st.composite
def runs_with_histograms(draw: st.DrawFn) -> PerformanceTestResult:
    counts = draw(st.lists(st.integers(min_value=0, max_value=20_000), min_size=3, max_size=12))
    if sum(counts) < 60_000:
        counts[-1] += 60_000 - sum(counts)
    start = draw(st.floats(min_value=0.1, max_value=5.0))
    width = draw(st.floats(min_value=0.01, max_value=2.0))
    buckets = [
        HistogramBucket(start + i * width, start + (i + 1) * width, n) for i, n in enumerate(counts)
    ]
    total = sum(counts)
    return PerformanceTestResult(
        latencies_ms=summary_from_buckets(buckets),
        request_count=total,
        error_count=0,
        actual_qps=total / 60,
        requested_qps=1000.0,
        histogram=buckets,
    )


@settings(max_examples=150, deadline=None)
@given(runs_with_histograms(), runs_with_histograms(), st.integers(min_value=1, max_value=3000))
def test_fast_failures_never_raise_a_score(
    baseline: PerformanceTestResult, mesh: PerformanceTestResult, failures: int
) -> None:
    """A mesh run that also failed ``failures`` requests, answered faster than any
    success, never scores above the same run without them."""
    clean = score(baseline, mesh)
    failing = dataclasses.replace(
        mesh,
        request_count=(mesh.request_count or 0) + failures,
        error_count=failures,
        histogram=[HistogramBucket(0.0, mesh.histogram[0].start_ms, failures), *mesh.histogram],
    )
    worse = score(baseline, failing)
    assert clean.score is not None  # type: ignore[attr-defined]
    assert worse.score is None or worse.score <= clean.score + 1e-9  # type: ignore[attr-defined]


@settings(max_examples=150, deadline=None)
@given(
    st.floats(min_value=0.0, max_value=0.05),
    st.floats(min_value=0.0, max_value=0.05),
    st.floats(min_value=1e-3, max_value=0.2),
)
def test_the_errors_mue_spends_the_budget(base_rate: float, added: float, budget: float) -> None:
    baseline, mesh = example2_baseline(), example2_mesh()
    baseline.request_count, mesh.request_count = 100_000, 100_000
    baseline.error_count = round(base_rate * 100_000)
    mesh.error_count = min(100_000, baseline.error_count + round(added * 100_000))

    mue = score(baseline, mesh, budget).mues["errors_within_budget"]  # type: ignore[attr-defined]

    spent = (mesh.error_count - baseline.error_count) / 100_000 / budget
    assert mue == pytest.approx(max(0.0, 1.0 - spent), abs=1e-9)


def test_the_sample_rule_needs_fifty_beyond_the_percentile() -> None:
    assert MIN_TAIL_SAMPLES == 50
    baseline, mesh = example2_baseline(), example2_mesh()
    mesh.request_count, mesh.error_count = 50_000, 0  # exactly 50 beyond p99.9
    assert score(baseline, mesh).mues["latency_p999"] is not None  # type: ignore[attr-defined]
    mesh.request_count = 49_999
    assert score(baseline, mesh).mues["latency_p999"] is None  # type: ignore[attr-defined]
