"""Absolute figures, the calibration factor and environment classes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.normalize import (
    NORMALIZED_LABEL,
    REFERENCE_PROBE,
    REFERENCE_SCORE,
    added_p99_ms,
    calibration_factor,
    core_bucket,
    cpu_per_1k_rps,
    env_class,
    figures_pair,
    mem_per_proxy,
)
from smp.model import Calibration, EnvironmentConfig, Node
from tests.scoring.test_engine import (
    example_baseline,
    example_mesh,
    example_mesh_config,
)


def example_environment(calibration: Calibration | None = None) -> EnvironmentConfig:
    return EnvironmentConfig(
        node=[Node(type="n2-standard-4", cores=4, mem_mb=16384, arch="amd64", count=3)],
        calibration=calibration or Calibration(probe="meshmark-cpu/1", score=1250.0),
    )


def test_the_reference_is_the_documented_probe_and_figure() -> None:
    assert REFERENCE_PROBE == "meshmark-cpu/1"
    assert REFERENCE_SCORE == 1000.0


def test_the_worked_example_figures_are_normalized_as_the_doc_says() -> None:
    figures = figures_pair(
        example_baseline(),
        example_mesh(),
        mesh_config=example_mesh_config(),
        environment=example_environment(),
    )

    assert figures.factor == 1.25
    assert figures.normalized
    assert figures.label == NORMALIZED_LABEL == "normalized to the reference machine"
    assert figures.cpu_per_1k_rps == pytest.approx(757.575758, abs=5e-7)
    assert figures.mem_per_proxy_mb == 53.0
    assert figures.added_p99_ms == pytest.approx(1.00, abs=1e-12)
    assert env_class(example_environment().node) == "x86_64/8-15 cores"


def test_without_calibration_the_figures_are_shown_as_measured() -> None:
    figures = figures_pair(example_baseline(), example_mesh(), mesh_config=example_mesh_config())

    assert figures.factor is None
    assert not figures.normalized
    assert "not normalized" in figures.label
    assert figures.cpu_per_1k_rps == pytest.approx(606.060606, abs=5e-7)
    assert figures.added_p99_ms == pytest.approx(0.80, abs=1e-12)
    assert figures.to_dict()["mem_mb_per_proxy"] == 53.0


def test_a_figure_from_another_probe_is_never_used() -> None:
    assert calibration_factor(Calibration(probe="sysbench-cpu/1", score=1250.0)) is None
    assert calibration_factor(Calibration(probe=REFERENCE_PROBE, score=1250.0, unit="s")) is None


@pytest.mark.parametrize("score", [0.0, -5.0, math.nan, math.inf])
def test_a_calibration_that_is_not_positive_and_finite_is_not_used(score: float) -> None:
    assert calibration_factor(Calibration(probe=REFERENCE_PROBE, score=score)) is None


def test_no_calibration_means_no_factor() -> None:
    assert calibration_factor(None) is None


def test_a_faster_machine_has_its_cpu_figure_scaled_up_to_the_reference() -> None:
    factor = calibration_factor(Calibration(probe=REFERENCE_PROBE, score=2000.0))

    assert factor == 2.0
    assert cpu_per_1k_rps(300.0, 1000.0, factor).item() == 600.0
    assert added_p99_ms(2.0, 2.5, factor).item() == 1.0


def test_the_figure_functions_work_on_columns() -> None:
    cpu = cpu_per_1k_rps([600.0, 100.0, 50.0], [990.0, 0.0, math.nan], [1.25, 1.0, 1.0])
    mem = mem_per_proxy([212.0, 100.0, math.nan], [4, 0, 2])
    added = added_p99_ms([2.4, 3.0], [3.2, 2.9])

    assert cpu[0] == pytest.approx(757.575758, abs=5e-7)
    assert np.isnan(cpu[1:]).all()
    assert mem[0] == 53.0
    assert np.isnan(mem[1:]).all()
    assert added.tolist() == pytest.approx([0.8, -0.1])  # negative: within noise, not hidden


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=0.0, max_value=1e5),
    st.floats(min_value=1.0, max_value=1e5),
    st.floats(min_value=0.1, max_value=10.0),
    st.floats(min_value=0.0, max_value=1e4),
)
def test_more_mesh_cpu_never_lowers_cpu_per_1k_rps(
    cpu: float, qps: float, factor: float, extra: float
) -> None:
    assert cpu_per_1k_rps(cpu + extra, qps, factor) >= cpu_per_1k_rps(cpu, qps, factor)


@pytest.mark.parametrize(
    ("cores", "label"),
    [
        (0.5, "<1 core"),
        (1, "1 core"),
        (3, "2-3 cores"),
        (4, "4-7 cores"),
        (15.9, "8-15 cores"),
        (16, "16-31 cores"),
        (64, "64-127 cores"),
        (128, "128+ cores"),
        (None, "unknown cores"),
        (math.nan, "unknown cores"),
    ],
)
def test_total_cores_fall_into_power_of_two_buckets(cores: float | None, label: str) -> None:
    assert core_bucket(cores) == label


def test_environment_classes_name_architecture_and_core_bucket() -> None:
    arm = [Node(cores=16, arch="arm64", count=2)]
    mixed = [Node(cores=8, arch="x86_64"), Node(cores=8, arch="aarch64")]
    vague = [Node(cores=8, arch="x86_64"), Node(arch="x86_64")]

    assert env_class(arm) == "aarch64/32-63 cores"
    assert env_class(mixed) == "mixed/16-31 cores"
    assert env_class(vague) == "x86_64/unknown cores"
    assert env_class([Node(cores=2)]) == "unknown-arch/2-3 cores"
    assert env_class([]) == "unknown-arch/unknown cores"


def test_environment_class_depends_only_on_the_nodes() -> None:
    nodes = [Node(cores=4, arch="AMD64", count=3)]

    assert env_class(nodes) == env_class(list(reversed(nodes))) == "x86_64/8-15 cores"
