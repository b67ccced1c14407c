"""The properties docs/meshmark.md promises, checked with hypothesis on generated pairs,
for every version of the formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.engine import (
    MESHMARK_1,
    MESHMARK_2,
    WEIGHT_BOUND,
    Formula,
    PairArrays,
    ScoreArrays,
    Weights,
    pair_arrays_from_results,
    score_arrays,
    score_pair,
)
from smp.model import (
    IndividualWorkload,
    Latencies,
    PerformanceTestResult,
    ResourceUsage,
    RunResources,
)

PROPERTY = settings(max_examples=200, deadline=None)
EVERY_VERSION = pytest.mark.parametrize(
    "formula", [MESHMARK_1, MESHMARK_2], ids=lambda f: f.version
)

LATENCY_COLUMNS = [
    f"{side}_{ok}{p}"
    for p in ("p50", "p90", "p99", "p999")
    for side in ("baseline", "mesh")
    for ok in ("", "ok_")
]
MANDATORY = {
    MESHMARK_1.version: ["baseline_p50", "mesh_p50", "baseline_p99", "mesh_p99"],
    MESHMARK_2.version: [
        "baseline_ok_p50",
        "mesh_ok_p50",
        "baseline_ok_p99",
        "mesh_ok_p99",
        "baseline_ok_count",
        "mesh_ok_count",
    ],
}
MANDATORY_COLUMNS = [name for names in MANDATORY.values() for name in names]
MORE_IS_WORSE = [
    *(f"mesh_{ok}{p}" for p in ("p50", "p90", "p99", "p999") for ok in ("", "ok_")),
    "mesh_error_rate",
    "mesh_cpu_mcores",
    "mesh_mem_mb",
]

latency = st.floats(min_value=1e-3, max_value=1e4)
qps = st.floats(min_value=0.0, max_value=1e5)
positive_qps = st.floats(min_value=1e-2, max_value=1e5)
rate = st.floats(min_value=0.0, max_value=1.0)
baseline_rate = st.floats(min_value=0.0, max_value=0.99)
resource = st.floats(min_value=0.0, max_value=1e5)
# Enough successful requests for every percentile (the sample rule is tested apart).
ok_count = st.floats(min_value=1e5, max_value=1e8)
budget = st.floats(min_value=1e-3, max_value=0.5)

COLUMN_STRATEGIES: dict[str, st.SearchStrategy[float]] = {
    **{name: latency for name in LATENCY_COLUMNS},
    "baseline_qps": positive_qps,
    "mesh_qps": qps,
    "requested_qps": positive_qps,
    "mesh_error_rate": rate,
    "baseline_error_rate": baseline_rate,
    "mesh_cpu_mcores": resource,
    "app_cpu_mcores": resource,
    "mesh_mem_mb": resource,
    "app_mem_mb": resource,
    "baseline_ok_count": ok_count,
    "mesh_ok_count": ok_count,
    "error_budget": budget,
}


@st.composite
def rows(draw: st.DrawFn, *, mandatory: bool = True) -> dict[str, float]:
    """One valid pair; optional figures (and the mandatory ones unless asked) may be missing."""
    row: dict[str, float] = {}
    for name, strategy in COLUMN_STRATEGIES.items():
        can_be_missing = not (mandatory and name in MANDATORY_COLUMNS)
        row[name] = math.nan if can_be_missing and draw(st.booleans()) else draw(strategy)
    return row


def score_rows(
    rows: list[dict[str, float]], formula: Formula, weights: Weights | None = None
) -> ScoreArrays:
    columns = {name: [row[name] for row in rows] for name in COLUMN_STRATEGIES}
    pairs = PairArrays.from_columns(columns)
    return score_arrays(pairs, weights or Weights(), formula)


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    assert np.array_equal(a, b, equal_nan=True)


@EVERY_VERSION
@PROPERTY
@given(st.lists(rows(mandatory=False), min_size=1, max_size=20))
def test_every_score_is_between_0_and_100_or_not_scorable(
    formula: Formula, batch: list[dict[str, float]]
) -> None:
    result = score_rows(batch, formula)

    scored = result.score[result.scorable]
    assert np.all((scored >= 0) & (scored <= 100))
    for values in [*result.classes.values(), *result.mues.values()]:
        present = values[~np.isnan(values)]
        assert np.all((present >= 0) & (present <= 1))


def make_worse(row: dict[str, float], column: str, amount: float) -> dict[str, float]:
    worse = dict(row)
    value = row[column]
    if column == "mesh_qps":
        worse[column] = value / (1.0 + amount)
    elif column == "mesh_error_rate":
        worse[column] = float(np.minimum(1.0, value + amount / 10))  # keeps NaN as NaN
    elif column in LATENCY_COLUMNS:
        worse[column] = value * (1.0 + amount)
    else:
        worse[column] = value + amount * 1000.0
    return worse


@EVERY_VERSION
@PROPERTY
@given(
    rows(),
    st.lists(
        st.tuples(
            st.sampled_from([*MORE_IS_WORSE, "mesh_qps"]), st.floats(min_value=0.0, max_value=10.0)
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_more_overhead_never_raises_the_score(
    formula: Formula, row: dict[str, float], changes: list[tuple[str, float]]
) -> None:
    worse = row
    for column, amount in changes:
        worse = make_worse(worse, column, amount)

    before, after = (
        score_rows([row, worse], formula).row(0),
        score_rows([row, worse], formula).row(1),
    )

    assert before.score is not None and after.score is not None
    assert after.score <= before.score
    for name, value in before.classes.items():
        worse_value = after.classes[name]
        if value is None:
            # Only a resource class can appear (mesh 0 -> >0 beside an app at 0), and at 0.
            assert worse_value is None or worse_value == 0.0
        else:
            assert worse_value is not None and worse_value <= value


@EVERY_VERSION
@PROPERTY
@given(rows(mandatory=False), st.floats(min_value=1e-3, max_value=1e3))
def test_scaling_both_runs_latencies_by_the_same_factor_leaves_the_score_unchanged(
    formula: Formula, row: dict[str, float], factor: float
) -> None:
    scaled = {k: v * factor if k in LATENCY_COLUMNS else v for k, v in row.items()}

    result = score_rows([row, scaled], formula)

    original, rescaled = result.score
    if math.isnan(original):
        assert math.isnan(rescaled)
    else:
        assert rescaled == pytest.approx(original, rel=1e-12, abs=1e-12)


@EVERY_VERSION
@PROPERTY
@given(rows(), st.floats(min_value=1e-3, max_value=1e3))
def test_scaling_mesh_and_app_resources_together_leaves_the_score_unchanged(
    formula: Formula, row: dict[str, float], factor: float
) -> None:
    names = ["mesh_cpu_mcores", "app_cpu_mcores", "mesh_mem_mb", "app_mem_mb"]
    scaled = {k: v * factor if k in names else v for k, v in row.items()}

    original, rescaled = score_rows([row, scaled], formula).score

    assert rescaled == pytest.approx(original, rel=1e-12, abs=1e-12)


@EVERY_VERSION
@PROPERTY
@given(st.lists(rows(mandatory=False), min_size=1, max_size=20))
def test_scoring_is_deterministic(formula: Formula, batch: list[dict[str, float]]) -> None:
    first, second = score_rows(batch, formula), score_rows(batch, formula)

    assert_same(first.score, second.score)
    for name in first.mues:
        assert_same(first.mues[name], second.mues[name])
    assert_same(first.class_mask, second.class_mask)


@EVERY_VERSION
@PROPERTY
@given(
    st.lists(rows(mandatory=False), min_size=1, max_size=20).flatmap(
        lambda batch: st.tuples(st.just(batch), st.permutations(range(len(batch))))
    )
)
def test_permuting_the_rows_permutes_the_scores(
    formula: Formula,
    batch_and_order: tuple[list[dict[str, float]], list[int]],
) -> None:
    batch, order = batch_and_order

    original = score_rows(batch, formula)
    permuted = score_rows([batch[i] for i in order], formula)

    assert_same(permuted.score, original.score[order])
    assert_same(permuted.partial, original.partial[order])
    assert_same(permuted.mue_mask, original.mue_mask[order])


@st.composite
def run_pairs(draw: st.DrawFn) -> tuple[PerformanceTestResult, PerformanceTestResult]:
    def run(side: str) -> PerformanceTestResult:
        requests = draw(st.integers(min_value=1, max_value=10**6))
        return PerformanceTestResult(
            latencies_ms=Latencies(
                p50=draw(latency),
                p90=draw(st.none() | latency),
                p99=draw(latency),
                p999=draw(st.none() | latency),
            ),
            actual_qps=draw(st.none() | positive_qps),
            requested_qps=draw(st.none() | positive_qps),
            request_count=requests,
            error_count=draw(st.none() | st.integers(min_value=0, max_value=requests // 2)),
            role=side,
        )

    baseline, mesh = run("baseline"), run("mesh")
    mesh.resources = RunResources(
        sidecar=ResourceUsage(
            count=2, cpu_mcores=draw(st.none() | resource), mem_mb=draw(st.none() | resource)
        ),
        mesh_control_plane=draw(st.none() | st.builds(ResourceUsage, cpu_mcores=resource)),
        workloads=[
            IndividualWorkload(
                name="app", cpu_mcores=draw(st.none() | resource), mem_mb=draw(resource)
            )
        ],
    )
    return baseline, mesh


@EVERY_VERSION
@PROPERTY
@given(st.lists(run_pairs(), min_size=1, max_size=8))
def test_score_pair_equals_the_matching_row_of_score_arrays(
    formula: Formula,
    pairs: list[tuple[PerformanceTestResult, PerformanceTestResult]],
) -> None:
    batch = score_arrays(pair_arrays_from_results(pairs, error_budget=0.01), formula=formula)

    for i, (baseline, mesh) in enumerate(pairs):
        assert score_pair(baseline, mesh, formula=formula, error_budget=0.01) == batch.row(i)


@EVERY_VERSION
@PROPERTY
@given(rows(), st.sampled_from(["latency", "throughput", "errors", "cpu", "memory"]))
def test_a_class_without_figures_drops_out_of_the_average(
    formula: Formula, row: dict[str, float], dropped: str
) -> None:
    if dropped not in formula.classes:
        return  # meshmark-1 has no errors class
    # p50/p99 are mandatory (covered below); meshmark-1 counts errors as throughput.
    columns = {
        "latency": ["mesh_p90", "mesh_p999", "mesh_ok_p90", "mesh_ok_p999"],
        "throughput": ["mesh_qps"] + (["mesh_error_rate"] if formula is MESHMARK_1 else []),
        "errors": ["mesh_error_rate"],
        "cpu": ["mesh_cpu_mcores"],
        "memory": ["mesh_mem_mb"],
    }[dropped]
    without = {k: (math.nan if k in columns else v) for k, v in row.items()}

    result = score_rows([without], formula).row(0)

    present = {k: v for k, v in result.classes.items() if v is not None}
    assert result.score == pytest.approx(100 * sum(present.values()) / len(present))
    if dropped != "latency":
        assert result.classes[dropped] is None
        assert result.partial
        assert set(formula.classes[dropped]) <= set(result.missing)


@EVERY_VERSION
@PROPERTY
@given(rows(), st.sampled_from(MANDATORY_COLUMNS))
def test_a_pair_without_p50_or_p99_is_not_scorable(
    formula: Formula, row: dict[str, float], column: str
) -> None:
    if column not in MANDATORY[formula.version]:
        return  # the other version's mandatory figure
    row = {**row, column: math.nan}

    result = score_rows([row], formula).row(0)

    assert result.score is None
    assert not result.partial


out_of_bounds = st.floats(allow_nan=False).filter(lambda w: abs(w) > WEIGHT_BOUND)
in_bounds = st.floats(min_value=-WEIGHT_BOUND, max_value=WEIGHT_BOUND)


@PROPERTY
@given(
    st.sampled_from(
        [*MESHMARK_2.classes["latency"], *MESHMARK_1.classes["throughput"], "errors_within_budget"]
    ),
    out_of_bounds,
)
def test_mue_weights_out_of_bounds_are_rejected(name: str, adjustment: float) -> None:
    with pytest.raises(ValueError, match=repr(name)):
        Weights(mues={name: adjustment})


@PROPERTY
@given(st.sampled_from([*MESHMARK_1.class_names, "errors"]), out_of_bounds)
def test_class_weights_out_of_bounds_are_rejected(name: str, adjustment: float) -> None:
    with pytest.raises(ValueError, match=repr(name)):
        Weights(classes={name: adjustment})


@EVERY_VERSION
@PROPERTY
@given(
    st.lists(rows(), min_size=1, max_size=5),
    st.dictionaries(st.sampled_from([*MESHMARK_1.mue_names, "errors_within_budget"]), in_bounds),
    st.dictionaries(st.sampled_from([*MESHMARK_1.class_names, "errors"]), in_bounds),
)
def test_any_weights_within_bounds_keep_the_score_between_0_and_100(
    formula: Formula,
    batch: list[dict[str, float]],
    mue_weights: dict[str, float],
    class_weights: dict[str, float],
) -> None:
    result = score_rows(batch, formula, Weights(mues=mue_weights, classes=class_weights))

    assert np.all((result.score >= 0) & (result.score <= 100))
