"""`smp-runner bundle`: bundles from outputs people already have, then `score`.

Real outputs: mesh-bench's constant-throughput runs (fortio JSON and Prometheus
dumps) and Istio 1.2's benchmark runs with their compiled-results.json rows.
Hand-checked figures come from those files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from runner.cli import cli
from smp.custom_profiles import CustomProfile, profile_of_bundle
from smp.submission import read_submission

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT.parent / "shared" / "real-data"
MESH_BENCH = REAL / "mesh-bench/results/02_http_constant_throughput"
BASELINE_1000 = MESH_BENCH / "http_baseline_1000_0_1_2022-06-26T15:32:27Z.json"
ISTIO_1000 = MESH_BENCH / "http_istio_1000_0_1_2022-06-26T21:39:17Z.json"
CPU_BASELINE_1000 = MESH_BENCH / "cpu_baseline_1000.json"
CPU_ISTIO_1000 = MESH_BENCH / "cpu_istio_1000_2022-06-26T21:54:17Z.json"
MEM_ISTIO_1000 = MESH_BENCH / "mem_istio_1000_2022-06-26T21:54:17Z.json"
ISTIO_TOOLS = REAL / "istio-tools/results-istio-1.2.0-fortio"

# mesh-bench's test (experiments/experiment.sh): fortio, 32 connections, 15 minutes.
MESH_BENCH_CONFIG = """\
name: mesh-bench constant throughput, 1000 qps
duration: 15m
clients:
  - {load_generator: fortio, protocol: PROTOCOL_HTTP, connections: 32, rps: 1000}
"""
# Its cluster (gc.sh): GKE 1.22.8-gke.201, one e2-standard-2 node (2 vCPUs, 8 GB).
MESH_BENCH_ENVIRONMENT = """\
kubernetesVersion: 1.22.8-gke.201
nodes: [{type: e2-standard-2, cores: 2, memMb: "8192"}]
labels: {meshmark.io/provider: gke}
"""


def files(tmp_path: Path) -> tuple[Path, Path]:
    config, environment = tmp_path / "config.yaml", tmp_path / "env.yaml"
    config.write_text(MESH_BENCH_CONFIG)
    environment.write_text(MESH_BENCH_ENVIRONMENT)
    return config, environment


def bundle(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["bundle", *map(str, args)])


def mesh_bench_args(tmp_path: Path, *resources: Path) -> list[str | Path]:
    config, environment = files(tmp_path)
    args: list[str | Path] = ["--config", config, "--baseline", BASELINE_1000, "--mesh", ISTIO_1000]
    args += ["--mesh-type", "istio", "--mesh-version", "1.14.1", "--environment", environment]
    for path in resources:
        args += ["--resources", path]
    return [*args, "--out", tmp_path / "bundle.json"]


def mean_cores(path: Path, container: str, start: float, seconds: float) -> float:
    """The dump's mean for ``container`` over [start, start + seconds], in millicores."""
    series = next(s for s in json.loads(path.read_bytes()) if s["metric"]["container"] == container)
    values = [float(v) for t, v in series["values"] if start <= t <= start + seconds]
    return 1000 * sum(values) / len(values)


def test_mesh_benchs_istio_runs_bundle_and_score_with_their_cpu(tmp_path: Path) -> None:
    result = bundle(*mesh_bench_args(tmp_path, CPU_BASELINE_1000, CPU_ISTIO_1000))
    assert result.exit_code == 0, result.output
    assert "valid SMP bundle" in result.stdout
    out = tmp_path / "bundle.json"
    report = read_submission(out.read_bytes(), native_alone=True)
    assert report.ok and report.bundle is not None
    b = report.bundle
    baseline, mesh = b.runs
    assert (baseline.role, mesh.role) == ("baseline", "mesh")
    # RequestedQPS "1000", NumThreads 32, ActualDuration 900031925794 / 900032676686 ns,
    # RetCodes {"200": 896434} and {"200": 893890, "503": 6}.
    assert (baseline.requested_qps, baseline.connections) == (1000, 32)
    assert baseline.duration_s == pytest.approx(900.031925794)
    assert (baseline.request_count, baseline.error_count) == (896434, 0)
    assert (mesh.request_count, mesh.error_count) == (893896, 6)
    assert mesh.raw is not None and mesh.raw.format == "fortio"
    assert mesh.labels["source_file"] == ISTIO_1000.name
    assert b.mesh_config.mesh_type == "istio" and b.mesh_config.mesh_version == "1.14.1"
    assert b.environment.kubernetes_version == "1.22.8-gke.201"
    assert b.environment.node[0].mem_mb == 8192 and b.environment.provider == "gke"
    found, problems = profile_of_bundle(b)
    assert problems == [] and isinstance(found, CustomProfile) and found.id == b.profile
    # Resources: each dump averaged over its run (StartTime 21:39:17.642 for 900.03 s).
    assert mesh.resources is not None and mesh.resources.sidecar is not None
    start = 1656279557.64217944
    sidecar = mean_cores(CPU_ISTIO_1000, "istio-proxy", start, 900.032676686)
    app = mean_cores(CPU_ISTIO_1000, "fortio", start, 900.032676686)
    assert mesh.resources.sidecar.cpu_mcores == pytest.approx(sidecar, abs=1e-3)
    assert mesh.resources.workloads[0].cpu_mcores == pytest.approx(app, abs=1e-3)
    scored = CliRunner().invoke(cli, ["score", "--json", str(out)])
    assert scored.exit_code == 0, scored.output
    [entry] = json.loads(scored.stdout)["runs"]
    score = entry["meshmark"]
    # The dumps have CPU, not memory: every class but memory.
    assert score["missing_classes"] == ["memory"] and score["partial"] is True
    assert score["mues"]["cpu_app_share"] == pytest.approx(app / (app + sidecar), abs=1e-5)
    assert 0 < score["score"] < 100


def test_mesh_benchs_memory_dumps_are_refused_with_the_reason(tmp_path: Path) -> None:
    result = bundle(*mesh_bench_args(tmp_path, CPU_ISTIO_1000, MEM_ISTIO_1000))
    assert result.exit_code == 1
    assert "mem_istio_1000_2022-06-26T21:54:17Z.json" in result.output
    assert "is not a memory level in bytes" in result.output
    assert not (tmp_path / "bundle.json").exists()


def test_outputs_of_another_test_than_the_profile_are_refused(tmp_path: Path) -> None:
    result = bundle(
        "--profile", "http-1k", "--baseline", BASELINE_1000, "--mesh", ISTIO_1000,
        "--mesh-type", "istio", "--mesh-version", "1.14.1",
        "--environment", files(tmp_path)[1],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "the outputs are not profile http-1k's test" in result.output
    assert f"runs[0] ({BASELINE_1000.name}): 32 connections; http-1k has 16" in result.output
    # 900 s is longer than http-1k's 60 s: more samples, not another test.
    assert "runs 60 s" not in result.output
    assert "describe the test you ran with --config FILE" in result.output


def test_a_run_shorter_than_the_profiles_share_is_refused(tmp_path: Path) -> None:
    config, environment = files(tmp_path)
    # The same run, stopped after 13 of its 15 minutes (under 90%).
    short = json.loads(ISTIO_1000.read_text())
    short["ActualDuration"] = 780 * 10**9
    stopped = tmp_path / "stopped.json"
    stopped.write_text(json.dumps(short))
    result = bundle(
        "--config", config, "--baseline", BASELINE_1000, "--mesh", stopped,
        "--mesh-type", "istio", "--mesh-version", "1.14.1", "--environment", environment,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "runs[1] (stopped.json): ran 780 s;" in result.output
    assert "runs 900 s (at least 90% of it)" in result.output
    assert "runs[0]" not in result.output


def istio_tools(name: str) -> Path:
    return next(ISTIO_TOOLS.glob(f"*_193ff770_qps_1000_c_16_1024_{name}.json"))


def test_istio_benchmark_runs_with_their_rows_score_completely(tmp_path: Path) -> None:
    config = tmp_path / "istio-tools.yaml"
    config.write_text(
        "duration: 240s\nclients: [{load_generator: fortio, protocol: 1, connections: 16, "
        "rps: 1000}]\nlabels: {profile.meshmark.io/payload_bytes: '1024'}\n"
    )
    environment = tmp_path / "env.json"
    environment.write_text(json.dumps({"nodes": [], "labels": {"meshmark.io/provider": "gke"}}))
    out = tmp_path / "istio.json"
    result = bundle(
        "--config", config, "--baseline", istio_tools("base"),
        "--mesh", istio_tools("both"), "--mesh", istio_tools("serveronly"),
        "--mesh-type", "istio", "--mesh-version", "1.2.0", "--environment", environment,
        "--resources", ISTIO_TOOLS / "compiled-results.json", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = read_submission(out.read_bytes(), native_alone=True)
    assert report.ok and report.bundle is not None
    both = report.bundle.runs[1]
    assert both.resources is not None and both.resources.sidecar is not None
    assert both.resources.sidecar.cpu_mcores == 755  # 439 + 316 mCores in the row
    scored = CliRunner().invoke(cli, ["score", "--json", str(out)])
    entries: list[dict[str, Any]] = json.loads(scored.stdout)["runs"]
    assert [e["run"] for e in entries] == [1, 2]
    for entry in entries:
        assert entry["meshmark"]["partial"] is False
        assert entry["meshmark"]["missing_classes"] == []
    # Memory per proxy: the two sidecars' 32 + 31 MiB, over 2.
    assert entries[0]["figures"]["mem_mb_per_proxy"] == pytest.approx(31.5)


def test_a_file_with_several_runs_is_refused(tmp_path: Path) -> None:
    meshery = ROOT.parent / "shared/samples/meshery/meshery-results-fortio.json"
    result = bundle(
        *mesh_bench_args(tmp_path)[:4], "--mesh", meshery,
        "--mesh-type", "istio", "--mesh-version", "1", "--environment", files(tmp_path)[1],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "holds 3 runs (meshery); give one run a file" in result.output


def test_the_environment_comes_from_one_place(tmp_path: Path) -> None:
    args = mesh_bench_args(tmp_path)
    result = bundle(*args, "--kubeconfig", tmp_path / "kubeconfig")
    assert result.exit_code == 2
    assert "--environment FILE or --kubeconfig" in result.output
    bad = bundle(*[a if a != "istio" else "istio-ish" for a in args])
    assert bad.exit_code == 2 and "'istio-ish' is not a mesh type" in bad.output


def test_the_environment_can_be_read_from_the_cluster(tmp_path: Path) -> None:
    from .fake_kube import FakeApiServer, FakeCluster

    with FakeApiServer(FakeCluster()) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        args = [a for a in mesh_bench_args(tmp_path) if str(a) != str(tmp_path / "env.yaml")]
        args.remove("--environment")
        result = bundle(*args, "--kubeconfig", kubeconfig)
    assert result.exit_code == 0, result.output
    report = read_submission((tmp_path / "bundle.json").read_bytes(), native_alone=True)
    assert report.bundle is not None
    [node] = report.bundle.environment.node  # the fake cluster's three n2-standard-8 nodes
    assert (node.type, node.cores, node.count) == ("n2-standard-8", 8, 3)


def test_without_an_environment_it_is_this_machine_calibrated(tmp_path: Path) -> None:
    args = [a for a in mesh_bench_args(tmp_path) if str(a) != str(tmp_path / "env.yaml")]
    args.remove("--environment")
    result = bundle(*args)
    assert result.exit_code == 0, result.output
    assert "environment: this machine" in result.stderr
    report = read_submission((tmp_path / "bundle.json").read_bytes(), native_alone=True)
    assert report.bundle is not None
    env = report.bundle.environment
    assert env.provider == "local" and env.calibration is not None
    assert env.calibration.probe == "meshmark-cpu/1"
