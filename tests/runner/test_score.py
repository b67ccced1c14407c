"""`smp-runner score`: the local MeshMark preview, computed with scoring."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from runner.cli import cli
from smp.model import Bundle, Calibration, EnvironmentConfig, Node

from ..factories import make_bundle
from ..scoring.test_engine import example_mesh_config
from ..scoring.test_engine2 import example2_baseline, example2_mesh


def write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(doc))
    return path


def worked_example(tmp_path: Path) -> Path:
    """The bundle of docs/meshmark.md's meshmark-2 example, as `smp-runner run` writes it:
    each run says how it was made, so the admission rules can check it."""
    runs = [example2_baseline(), example2_mesh()]
    for run in runs:
        run.protocol, run.connections, run.duration_s = "http", 16, 60.0
        run.warmup_s, run.payload_bytes = 5.0, 1024
    bundle = Bundle(
        profile="http-1k",
        environment=EnvironmentConfig(
            kubernetes_version="v1.30.2",
            node=[Node(type="n2-standard-4", cores=4, mem_mb=16384, arch="amd64", count=3)],
            calibration=Calibration(probe="meshmark-cpu/1", score=1250.0),
        ),
        mesh_config=example_mesh_config(),
        runs=runs,
    )
    return write(tmp_path, bundle.to_dict())


def test_it_prints_the_worked_example_score_classes_and_normalized_figures(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(cli, ["score", str(worked_example(tmp_path))])
    assert result.exit_code == 0, result.output
    # docs/meshmark.md, section 10: 69.553975; classes 0.7, 0.990992, 0.520040, 2/3, 0.6.
    assert "MeshMark 69.6 / 100" in result.output
    assert "istio 1.24.0 mTLS profile http-1k" in result.output
    for cls, value in (
        ("latency", "0.700"),
        ("throughput", "0.991"),
        ("errors", "0.520"),
        ("cpu", "0.667"),
        ("memory", "0.600"),
    ):
        assert re.search(rf"\n  {cls} +{value}", result.output), (cls, result.output)
    assert "ranked: yes" in result.output
    assert "normalized to the reference machine" in result.output
    assert "calibration factor 1.250 (meshmark-cpu/1)" in result.output
    # 600 mCores at 990 rps, times f = 1.25: 757.6 mCores per 1k rps; (3.2 - 2.4) * 1.25 ms.
    assert "CPU per 1k rps     757.6 mCores" in result.output
    assert "added p99 latency  1.000 ms" in result.output


def test_json_output_gives_the_worked_example_to_six_decimals(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["score", "--json", str(worked_example(tmp_path))])
    assert result.exit_code == 0, result.output
    [run] = json.loads(result.output)["runs"]
    assert run["run"] == 1
    meshmark = run["meshmark"]
    assert meshmark["score"] == pytest.approx(69.553975, abs=5e-7)
    assert meshmark["classes"] == pytest.approx(
        {
            "latency": 0.7,
            "throughput": 0.990992,
            "errors": 0.520040,
            "cpu": 0.666667,
            "memory": 0.6,
        },
        abs=5e-7,
    )
    assert meshmark["mue_mask"] == 511 and meshmark["partial"] is False
    assert run["ranked"] is True and run["admission"] == []
    figures = run["figures"]
    assert figures["normalized"] is True and figures["factor"] == 1.25
    assert figures["cpu_mcores_per_1k_rps"] == pytest.approx(757.58, abs=0.005)
    assert figures["mem_mb_per_proxy"] == pytest.approx(53.0)
    assert figures["added_p99_ms"] == pytest.approx(1.0)


def test_a_bundle_without_a_baseline_cannot_be_scored(tmp_path: Path) -> None:
    doc = make_bundle()
    doc["runs"] = doc["runs"][1:]
    result = CliRunner().invoke(cli, ["score", str(write(tmp_path, doc))])
    assert result.exit_code == 1
    assert "has no baseline run" in result.output


def test_an_invalid_bundle_lists_every_problem(tmp_path: Path) -> None:
    doc = make_bundle()
    doc["runs"][1]["latencies_ms"]["p90"] = 99.0
    result = CliRunner().invoke(cli, ["score", str(write(tmp_path, doc))])
    assert result.exit_code == 1
    assert "is not a valid SMP bundle" in result.output
    assert "runs[1].latencies_ms.p95" in result.output and "[percentiles-ordered]" in result.output


def test_it_says_why_a_board_would_not_rank_a_run(tmp_path: Path) -> None:
    doc = make_bundle()
    doc["runs"][1]["connections"] = 1
    doc["runs"][1]["error_count"] = 1200  # 2% of 59,400: twice http-1k's budget
    doc["runs"][1]["latencies_ok_ms"] = doc["runs"][1]["latencies_ms"]
    result = CliRunner().invoke(cli, ["score", str(write(tmp_path, doc))])
    assert result.exit_code == 0, result.output
    assert "ranked: no" in result.output
    assert "warning: runs[1].connections: 1 connections; http-1k uses 16" in result.output
    assert "[pair-connections]" in result.output and "[profile-connections]" in result.output
    assert "[error-budget]" in result.output
