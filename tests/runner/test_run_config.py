"""`smp-runner run --config` (an SMP test configuration as the profile) and
`profiles show ID --smp`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from runner.cli import cli
from smp.custom_profiles import CustomProfile, profile_of_bundle
from smp.profiles import get_profile
from smp.spec.read import read_test_config
from smp.submission import read_submission

ROOT = Path(__file__).resolve().parents[2]
QUICK = ("--duration", "2s", "--warmup", "0.5s")
LOAD_TEST = ROOT.parent / "shared/real-data/smp-repo-artifacts/meshery-smp-action/load-test.yaml"


def meshery_variant(tmp_path: Path, **client: object) -> Path:
    """Meshery's load-test.yaml with its client's fields changed (or removed, when None)."""
    doc = yaml.safe_load(LOAD_TEST.read_text())
    for key, value in client.items():
        if value is None:
            doc["test"]["clients"][0].pop(key, None)
        else:
            doc["test"]["clients"][0][key] = value
    path = tmp_path / "load-test.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_profiles_show_smp_prints_the_profile_as_an_smp_test_configuration() -> None:
    result = CliRunner().invoke(cli, ["profiles", "show", "http-1k", "--smp"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["id"] == "http-1k" and doc["duration"] == "60s"
    assert doc["clients"] == [{"protocol": "PROTOCOL_HTTP", "connections": 16, "rps": "1000"}]
    assert doc["labels"]["profile.meshmark.io/payload_bytes"] == "1024"
    read = read_test_config(result.stdout.encode())
    assert read.test_config is not None and read.test_config.clients[0].rps == 1000
    as_yaml = CliRunner().invoke(cli, ["profiles", "show", "grpc-1k", "--smp", "--yaml"])
    assert as_yaml.exit_code == 0, as_yaml.output
    assert yaml.safe_load(as_yaml.stdout)["clients"][0]["protocol"] == "PROTOCOL_GRPC"


def test_run_needs_a_profile_or_a_config_but_not_both(tmp_path: Path) -> None:
    runner = CliRunner()
    neither = runner.invoke(cli, ["run", "--local"])
    assert neither.exit_code == 2 and "--profile ID or --config FILE" in neither.output
    both = runner.invoke(cli, ["run", "--local", "--profile", "http-100", "--config", "x.yaml"])
    assert both.exit_code == 2 and "--profile ID or --config FILE" in both.output


def test_the_configuration_and_the_command_line_must_agree(tmp_path: Path) -> None:
    runner = CliRunner()
    generator = runner.invoke(
        cli, ["run", "--local", "--config", str(LOAD_TEST), "--load-generator", "hey"]
    )
    assert generator.exit_code == 2
    assert "contradicts the configuration's load_generator fortio" in generator.output
    mesh = runner.invoke(
        cli,
        ["run", "--kubeconfig", str(tmp_path / "kc"), "--config", str(LOAD_TEST), "--mesh", "kuma"],
    )
    assert mesh.exit_code == 2
    assert "--mesh kuma contradicts the configuration's mesh type istio" in mesh.output


def test_a_config_that_is_no_profile_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = meshery_variant(tmp_path, connections=None)
    result = CliRunner().invoke(cli, ["run", "--local", "--config", str(path)])
    assert result.exit_code == 1
    assert "clients[0].connections: a profile names its connections" in result.output
    result = CliRunner().invoke(cli, ["run", "--local", "--config", str(ROOT / "README.md")])
    assert result.exit_code == 1 and "README.md" in result.output


@pytest.mark.slow
def test_merysheys_configuration_runs_locally_as_a_custom_profile(tmp_path: Path) -> None:
    # Without its fortio (not a Debian package), the runner's own generator makes the load.
    config = meshery_variant(tmp_path, load_generator=None, rps=50)
    out = tmp_path / "bundle.json"
    result = CliRunner().invoke(
        cli,
        ["run", "--config", str(config), "--local", "--quiet", "--out", str(out), *QUICK],
    )
    assert result.exit_code == 0, result.output
    assert "endpoints (https://smp-spec.io) are not used" in result.stderr
    assert "the configuration is for istio; --local measures its proxies" in result.stderr
    report = read_submission(out.read_bytes(), native_alone=True)
    assert report.ok, report.errors
    bundle = report.bundle
    assert bundle is not None and bundle.profile is not None
    assert bundle.profile.startswith("custom-")
    assert [run.profile_id for run in bundle.runs] == [bundle.profile] * 2
    assert [run.requested_qps for run in bundle.runs] == [50, 50]
    assert [run.connections for run in bundle.runs] == [2, 2]
    found, problems = profile_of_bundle(bundle)
    assert problems == [] and isinstance(found, CustomProfile) and found.id == bundle.profile
    score = CliRunner().invoke(cli, ["score", str(out), "--json"])
    assert score.exit_code == 0, score.output
    [entry] = json.loads(score.stdout)["runs"]
    # Scored against the custom profile's rules: the 2 s run is a custom run, and its
    # 100 requests are too few for a p99 (MeshMark 2 needs 50 samples past each tail).
    assert entry["meshmark"]["classes"]["throughput"] > 0.9
    assert "latency_p99" in entry["meshmark"]["missing"]
    assert entry["ranked"] is False
    rules = {reason["rule"] for reason in entry["admission"]}
    assert {"custom-run", "profile-duration"} <= rules
    assert f"on the {bundle.profile} board" in entry["admission"][0]["message"]


@pytest.mark.slow
def test_a_standard_profile_shown_as_smp_runs_as_that_profile(tmp_path: Path) -> None:
    shown = CliRunner().invoke(cli, ["profiles", "show", "http-100", "--smp"])
    config = tmp_path / "http-100.json"
    config.write_text(shown.stdout)
    out = tmp_path / "bundle.json"
    result = CliRunner().invoke(
        cli,
        ["run", "--config", str(config), "--local", "--quiet", "--out", str(out), *QUICK],
    )
    assert result.exit_code == 0, result.output
    assert "the configuration is the standard profile http-100" in result.stderr
    bundle = read_submission(out.read_bytes(), native_alone=True).bundle
    assert bundle is not None and bundle.profile == "http-100"
    assert profile_of_bundle(bundle) == (get_profile("http-100"), [])
