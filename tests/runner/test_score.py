"""`smp-runner score`: the local MeshMark preview, computed with scoring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from runner.cli import cli
from scoring.engine import score_pair
from smp import document

from ..factories import make_bundle

CALIBRATED = {
    "kubernetes_version": "v1.30.2",
    "node": [{"type": "n2-standard-8", "cores": 8, "mem_mb": 32768, "arch": "amd64", "count": 3}],
    "calibration": {"probe": "meshmark-cpu/1", "score": 2000.0, "unit": "ops/s"},
}


def write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(doc))
    return path


def test_it_prints_the_score_the_classes_and_the_normalized_figures(tmp_path: Path) -> None:
    doc = make_bundle(environment=CALIBRATED)
    result = CliRunner().invoke(cli, ["score", str(write(tmp_path, doc))])
    assert result.exit_code == 0, result.output
    bundle = document.bundle_from_dict(doc)
    expected = score_pair(
        bundle.runs[0],
        bundle.runs[1],
        mesh_config=bundle.mesh_config,
        environment=bundle.environment,
    )
    assert expected.score is not None
    assert f"MeshMark {expected.score:.1f} / 100" in result.output
    assert "istio 1.24.1 mTLS profile http-1k" in result.output
    for cls in ("latency", "throughput", "cpu", "memory"):
        assert f"\n  {cls} " in result.output
    assert "normalized to the reference machine" in result.output
    assert "calibration factor 2.000 (meshmark-cpu/1)" in result.output
    # 750 mCores at 990 rps, times f = 2: 1515.2 mCores per 1k rps on the reference machine.
    assert "CPU per 1k rps     1515.2 mCores" in result.output
    assert "added p99 latency  5.000 ms" in result.output


def test_json_output_matches_the_scoring_engine(tmp_path: Path) -> None:
    doc = make_bundle(environment=CALIBRATED)
    result = CliRunner().invoke(cli, ["score", "--json", str(write(tmp_path, doc))])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    [run] = payload["runs"]
    bundle = document.bundle_from_dict(doc)
    expected = score_pair(
        bundle.runs[0],
        bundle.runs[1],
        mesh_config=bundle.mesh_config,
        environment=bundle.environment,
    )
    assert run["run"] == 1
    assert run["meshmark"] == json.loads(json.dumps(expected.to_dict()))
    assert run["figures"]["normalized"] is True and run["figures"]["factor"] == 2.0
    assert run["figures"]["cpu_mcores_per_1k_rps"] == pytest.approx(1515.15, abs=0.01)


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
