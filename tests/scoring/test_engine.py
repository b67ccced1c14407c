"""MeshMark version 1 on fixed inputs: the worked example of docs/meshmark.md and its variants.

meshmark-1 is no longer current; its scores stay readable and reproducible, so every
call here names the version (``formula=MESHMARK_1``).

The inputs are hardcoded here from the doc (nothing is parsed from it); the
doc's printed outputs are asserted, and a last test checks the doc still
prints them, so the spec and the code cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from scoring.engine import (
    MESHMARK_1,
    PairArrays,
    Weights,
    pair_arrays_from_results,
    score_arrays,
    score_pair,
)
from scoring.inputs import pair_row
from smp.model import (
    EnvironmentConfig,
    IndividualWorkload,
    Latencies,
    PerformanceTestResult,
    ResourceUsage,
    RunResources,
    ServiceMeshConfig,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "meshmark.md"
TIGHT = 5e-7  # the doc prints six decimals

EXPECTED_MUES = {
    "latency_p50": 0.800000,
    "latency_p90": 0.750000,
    "latency_p99": 0.750000,
    "latency_p999": 0.625000,
    "throughput_vs_requested": 0.990000,
    "throughput_vs_baseline": 0.991984,
    "success_vs_baseline": 0.995199,
    "cpu_app_share": 0.666667,
    "memory_app_share": 0.600000,
}
EXPECTED_CLASSES = {"latency": 0.731250, "throughput": 0.992394, "cpu": 0.666667, "memory": 0.6}
EXPECTED_SCORE = 74.757778


def example_baseline() -> PerformanceTestResult:
    return PerformanceTestResult(
        latencies_ms=Latencies(p50=0.80, p90=1.20, p99=2.40, p999=6.00),
        actual_qps=998.0,
        requested_qps=1000.0,
        request_count=59880,
        error_count=12,
        role="baseline",
        profile_id="http-1k",
    )


def example_mesh(workload_mem: bool = True) -> PerformanceTestResult:
    return PerformanceTestResult(
        latencies_ms=Latencies(p50=1.00, p90=1.60, p99=3.20, p999=9.60),
        actual_qps=990.0,
        requested_qps=1000.0,
        request_count=59400,
        error_count=297,
        role="mesh",
        profile_id="http-1k",
        resources=RunResources(
            sidecar=ResourceUsage(count=4, cpu_mcores=420, mem_mb=212),
            ingress_gateway=ResourceUsage(count=1, cpu_mcores=130, mem_mb=70),
            workloads=[
                IndividualWorkload(
                    name="frontend", count=2, cpu_mcores=700, mem_mb=320 if workload_mem else None
                ),
                IndividualWorkload(
                    name="backend", count=2, cpu_mcores=500, mem_mb=280 if workload_mem else None
                ),
            ],
        ),
    )


def example_mesh_config() -> ServiceMeshConfig:
    return ServiceMeshConfig(
        mesh_type="istio",
        mesh_version="1.24.0",
        mtls_enabled=True,
        sidecar=ResourceUsage(count=4, cpu_mcores=100, mem_mb=160),
        mesh_control_plane=ResourceUsage(count=1, cpu_mcores=50, mem_mb=118),
    )


def example_columns() -> dict[str, list[float]]:
    """The example's figures as the doc derives them (section 8)."""
    return {
        "baseline_p50": [0.80],
        "mesh_p50": [1.00],
        "baseline_p90": [1.20],
        "mesh_p90": [1.60],
        "baseline_p99": [2.40],
        "mesh_p99": [3.20],
        "baseline_p999": [6.00],
        "mesh_p999": [9.60],
        "baseline_qps": [998.0],
        "mesh_qps": [990.0],
        "requested_qps": [1000.0],
        "baseline_error_rate": [12 / 59880],
        "mesh_error_rate": [297 / 59400],
        "mesh_cpu_mcores": [600.0],
        "app_cpu_mcores": [1200.0],
        "mesh_mem_mb": [400.0],
        "app_mem_mb": [600.0],
    }


def test_the_worked_example_scores_exactly_as_the_doc_says() -> None:
    score = score_pair(
        example_baseline(), example_mesh(), mesh_config=example_mesh_config(), formula=MESHMARK_1
    )

    assert score.version == MESHMARK_1.version == "meshmark-1"
    for name, value in EXPECTED_MUES.items():
        assert score.mues[name] == pytest.approx(value, abs=TIGHT), name
    for name, value in EXPECTED_CLASSES.items():
        assert score.classes[name] == pytest.approx(value, abs=TIGHT), name
    assert score.score == pytest.approx(EXPECTED_SCORE, abs=TIGHT)
    assert score.score is not None and round(score.score, 2) == 74.76
    assert score.partial is False
    assert score.missing == []
    assert score.mue_mask == 511


def test_the_worked_example_reads_the_figures_the_doc_derives() -> None:
    row = pair_row(example_baseline(), example_mesh(), mesh_config=example_mesh_config())

    expected = {name: values[0] for name, values in example_columns().items()}
    assert {name: row[name] for name in expected} == pytest.approx(expected, rel=1e-12)


def test_the_columnar_path_gives_the_same_worked_example() -> None:
    result = score_arrays(PairArrays.from_columns(example_columns()), formula=MESHMARK_1)

    assert result.score[0] == pytest.approx(EXPECTED_SCORE, abs=TIGHT)
    assert result.classes["throughput"][0] == pytest.approx(0.992394, abs=TIGHT)


def test_variant_a_drops_the_memory_class_and_flags_the_score_partial() -> None:
    score = score_pair(
        example_baseline(),
        example_mesh(workload_mem=False),
        mesh_config=example_mesh_config(),
        formula=MESHMARK_1,
    )

    assert score.score is not None and round(score.score, 2) == 79.68
    assert score.classes["memory"] is None
    assert score.missing == ["memory_app_share"]
    assert score.missing_classes == ["memory"]
    assert score.partial is True
    assert score.mue_mask == 255


def test_variant_b_applies_adjusted_weights() -> None:
    weights = Weights(mues={"latency_p99": 0.5, "latency_p999": -0.5}, classes={"latency": 0.5})

    score = score_pair(
        example_baseline(),
        example_mesh(),
        mesh_config=example_mesh_config(),
        weights=weights,
        formula=MESHMARK_1,
    )

    assert score.classes["latency"] == pytest.approx(0.746875, abs=TIGHT)
    assert score.score is not None and round(score.score, 2) == 75.10
    assert score.to_dict()["weights"] == {
        "mues": {"latency_p99": 0.5, "latency_p999": -0.5},
        "classes": {"latency": 0.5},
    }


def test_variant_c_without_a_mesh_p99_is_not_scorable() -> None:
    mesh = example_mesh()
    mesh.latencies_ms.p99 = None

    score = score_pair(
        example_baseline(), mesh, mesh_config=example_mesh_config(), formula=MESHMARK_1
    )

    assert score.score is None
    assert score.scorable is False
    assert score.partial is False
    assert "latency_p99" in score.missing
    assert score.mues["latency_p50"] == pytest.approx(0.8)


def test_the_doc_still_prints_the_worked_example_numbers() -> None:
    text = DOC.read_text(encoding="utf-8")

    for number in [
        "0.800000",
        "0.750000",
        "0.625000",
        "0.731250",
        "0.990000",
        "0.991984",
        "0.995199",
        "0.992394",
        "0.666667",
        "0.600000",
        "= 74.76",
        "74.757778",
        "**79.68**",
        "0.746875",
        "**75.10**",
        "606.06",
        "757.58",
        "53.00 MiB",
        "1.00 ms",
        "`x86_64/8-15 cores`",
        '"meshmark-cpu/1"',
        "`meshmark-1`",
    ]:
        assert number in text, number


def test_a_run_block_overrides_the_config_block_and_absent_ones_fall_back() -> None:
    config = example_mesh_config()
    mesh = example_mesh()

    row = pair_row(example_baseline(), mesh, mesh_config=config)
    assert row["mesh_cpu_mcores"] == 420 + 130 + 50  # run sidecar, run gateway, config plane

    row_without_config = pair_row(example_baseline(), mesh)
    assert row_without_config["mesh_cpu_mcores"] == 420 + 130


def test_app_resources_fall_back_to_the_environment_workloads() -> None:
    mesh = example_mesh()
    assert mesh.resources is not None
    mesh.resources.workloads = []
    environment = EnvironmentConfig(
        individual_workloads=[IndividualWorkload(name="app", count=3, cpu_mcores=900, mem_mb=450)]
    )

    row = pair_row(example_baseline(), mesh, environment=environment)

    assert row["app_cpu_mcores"] == 900
    assert row["app_mem_mb"] == 450
    assert math.isnan(pair_row(example_baseline(), mesh)["app_cpu_mcores"])


def test_a_missing_mue_is_dropped_and_its_class_renormalized() -> None:
    columns = example_columns()
    columns["mesh_p999"] = [math.nan]

    result = score_arrays(PairArrays.from_columns(columns), formula=MESHMARK_1).row(0)

    assert result.missing == ["latency_p999"]
    assert result.classes["latency"] == pytest.approx((0.8 + 0.75 + 0.75) / 3)
    assert result.partial is False


def test_a_missing_baseline_error_rate_reads_as_no_baseline_errors() -> None:
    columns = example_columns()
    columns["baseline_error_rate"] = [math.nan]

    result = score_arrays(PairArrays.from_columns(columns), formula=MESHMARK_1).row(0)

    assert result.mues["success_vs_baseline"] == pytest.approx(0.995)


def test_a_baseline_that_failed_every_request_gives_no_error_mue() -> None:
    columns = example_columns()
    columns["baseline_error_rate"] = [1.0]

    result = score_arrays(PairArrays.from_columns(columns), formula=MESHMARK_1).row(0)

    assert result.mues["success_vs_baseline"] is None


def test_a_mesh_that_served_nothing_gets_zero_throughput_mues() -> None:
    columns = example_columns()
    columns["mesh_qps"] = [0.0]

    result = score_arrays(PairArrays.from_columns(columns), formula=MESHMARK_1).row(0)

    assert result.mues["throughput_vs_requested"] == 0.0
    assert result.mues["throughput_vs_baseline"] == 0.0


def test_a_mesh_faster_than_its_baseline_is_clipped_to_one() -> None:
    columns = example_columns()
    columns["mesh_p50"] = [0.5]
    columns["mesh_cpu_mcores"] = [0.0]

    result = score_arrays(PairArrays.from_columns(columns), formula=MESHMARK_1).row(0)

    assert result.mues["latency_p50"] == 1.0
    assert result.mues["cpu_app_share"] == 1.0


def test_a_row_with_only_the_mandatory_figures_is_scored_and_partial() -> None:
    pairs = PairArrays.from_columns(
        {"baseline_p50": [1.0], "mesh_p50": [2.0], "baseline_p99": [3.0], "mesh_p99": [4.0]}
    )

    result = score_arrays(pairs, formula=MESHMARK_1)

    assert result.score[0] == pytest.approx(100 * (0.5 + 0.75) / 2)
    assert bool(result.partial[0]) is True
    assert int(result.class_mask[0]) == 0b0001
    assert int(result.mue_mask[0]) == 0b0101


def test_pair_arrays_from_results_lines_up_configs_with_pairs() -> None:
    pairs = [(example_baseline(), example_mesh()), (example_baseline(), example_mesh(False))]

    arrays = pair_arrays_from_results(pairs, mesh_configs=[example_mesh_config(), None])

    assert len(arrays) == 2
    assert arrays.mesh_cpu_mcores.tolist() == [600.0, 550.0]
    assert math.isnan(arrays.app_mem_mb[1])
    with pytest.raises(ValueError, match="mesh_configs has 1 items"):
        pair_arrays_from_results(pairs, mesh_configs=[None])


def test_pair_arrays_reject_columns_of_different_lengths() -> None:
    columns: dict[str, object] = {name: np.ones(3) for name in PairArrays.column_names()}
    columns["mesh_qps"] = np.ones(2)

    with pytest.raises(ValueError, match=r"mesh_qps has 2 rows, expected 3"):
        PairArrays(**columns)  # type: ignore[arg-type]


def test_pair_arrays_reject_unknown_columns() -> None:
    with pytest.raises(ValueError, match="unknown PairArrays columns: mesh_p75"):
        PairArrays.from_columns({"mesh_p75": [1.0]})


def test_an_empty_input_gives_an_empty_result() -> None:
    result = score_arrays(PairArrays.from_columns({}, n=0), formula=MESHMARK_1)

    assert len(result) == 0
    assert set(result.classes) == set(MESHMARK_1.class_names)
    assert set(result.mues) == set(MESHMARK_1.mue_names)


def test_a_score_serializes_to_json_with_its_breakdown() -> None:
    score = score_pair(
        example_baseline(), example_mesh(), mesh_config=example_mesh_config(), formula=MESHMARK_1
    )

    body = json.loads(json.dumps(score.to_dict()))

    assert body["version"] == "meshmark-1"
    assert list(body["classes"]) == list(MESHMARK_1.class_names)
    assert list(body["mues"]) == list(MESHMARK_1.mue_names)
    assert body["weights"] == {"mues": {}, "classes": {}}
    assert body["scorable"] is True


def test_weights_outside_the_bounds_are_rejected_naming_the_weight() -> None:
    with pytest.raises(ValueError, match=r"'latency_p99'.*outside"):
        Weights(mues={"latency_p99": 0.51})
    with pytest.raises(ValueError, match="class weight 'cpu'"):
        Weights(classes={"cpu": -0.6})
    with pytest.raises(ValueError, match="unknown MUE weight 'latency_p75'"):
        Weights(mues={"latency_p75": 0.1})
    with pytest.raises(ValueError, match="'memory' must be a finite number"):
        Weights(classes={"memory": math.nan})


def test_weights_at_the_bounds_are_accepted() -> None:
    weights = Weights(mues={"latency_p50": -0.5, "latency_p999": 0.5})

    assert weights.mue_weight("latency_p50") == 0.5
    assert weights.mue_weight("latency_p999") == 1.5
    assert weights.class_weight("cpu") == 1.0
    assert not weights.is_default


def test_scoring_a_pair_leaves_its_runs_unchanged() -> None:
    baseline, mesh, config = example_baseline(), example_mesh(), example_mesh_config()
    before = (baseline.to_dict(), mesh.to_dict(), dataclasses.asdict(config))

    score_pair(baseline, mesh, mesh_config=config, formula=MESHMARK_1)

    assert (baseline.to_dict(), mesh.to_dict(), dataclasses.asdict(config)) == before


def test_infinite_figures_count_as_missing() -> None:
    columns = example_columns()
    columns["mesh_p90"] = [math.inf]
    columns["mesh_error_rate"] = [math.inf]
    columns["baseline_error_rate"] = [-math.inf]
    columns["app_mem_mb"] = [math.inf]

    result = score_arrays(PairArrays.from_columns(columns), formula=MESHMARK_1).row(0)

    assert result.missing == ["latency_p90", "success_vs_baseline", "memory_app_share"]
