"""`smp-runner run --local` end to end, with real nginx and haproxy (installed by
scripts/ensure-system-packages.sh; a missing proxy fails these tests, it does not skip them)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from runner import processes
from runner.cli import cli
from runner.processes import descendants
from runner.tools import check_tool, run_tool
from smp.model import Bundle
from smp.submission import read_submission

PHASE = ["--duration", "2s", "--warmup", "0.5s"]


def run_local(tmp_path: Path, *extra: str, profile: str = "http-100") -> Bundle:
    out = tmp_path / "bundle.json"
    result = CliRunner().invoke(
        cli, ["run", "--profile", profile, "--local", "--quiet", "--out", str(out), *extra]
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: valid SMP bundle" in result.output
    report = read_submission(out.read_bytes(), native_alone=True)
    assert report.ok, [f"{p.path}: {p.message}" for p in report.errors]
    assert report.bundle is not None
    return report.bundle


def assert_overhead_is_measured(bundle: Bundle, proxy: str) -> None:
    baseline, mesh = bundle.runs
    assert (baseline.role, mesh.role) == ("baseline", "mesh")
    for run in (baseline, mesh):
        assert run.requested_qps == 100
        assert run.actual_qps is not None and abs(run.actual_qps - 100) <= 2
        assert run.error_count == 0 and run.status_codes == {"200": run.request_count}
        assert run.histogram and run.load_generator is not None
        assert run.resources is not None and run.resources.workloads[0].name == "app"
        assert (run.resources.workloads[0].cpu_mcores or 0) > 0
    assert mesh.latencies_ms.p50 is not None and baseline.latencies_ms.p50 is not None
    assert mesh.latencies_ms.p50 > baseline.latencies_ms.p50
    sidecar = mesh.resources.sidecar if mesh.resources else None
    assert sidecar is not None and sidecar.count == 2
    assert (sidecar.cpu_mcores or 0) > 0 and (sidecar.mem_mb or 0) > 0
    assert baseline.resources is not None and baseline.resources.sidecar is None
    assert bundle.mesh_config.mesh_type == proxy
    assert bundle.mesh_config.proxy_build and bundle.mesh_config.proxy_build.startswith(proxy)
    env = bundle.environment
    assert env.kubernetes_version is None and env.provider == "local"
    assert env.node[0].cores == os.cpu_count() and env.node[0].mem_mb
    assert env.calibration is not None and env.calibration.probe == "meshmark-cpu/1"
    assert env.calibration.score > 0


@pytest.mark.slow
def test_a_local_run_through_nginx_measures_the_proxies_overhead(tmp_path: Path) -> None:
    bundle = run_local(tmp_path, "--proxy", "nginx", *PHASE)
    assert_overhead_is_measured(bundle, "nginx")
    assert bundle.mesh_config.mtls_enabled is False
    # The machine was certified first, and the bundle says how it fared, check by check.
    assert bundle.labels["certify.status"] in ("pass", "warn")
    assert bundle.labels["certify.generator"].startswith(("pass:", "warn:"))


@pytest.mark.slow
def test_a_local_run_through_haproxy_with_mtls_measures_the_proxies_overhead(
    tmp_path: Path,
) -> None:
    bundle = run_local(tmp_path, "--proxy", "haproxy", "--mtls", *PHASE)
    assert_overhead_is_measured(bundle, "haproxy")
    assert bundle.mesh_config.mtls_enabled is True


@pytest.mark.slow
def test_two_generator_processes_share_one_schedule_in_a_local_run(tmp_path: Path) -> None:
    bundle = run_local(
        tmp_path, "--proxy", "nginx", "--generator-processes", "2", "--skip-certify", *PHASE
    )
    assert_overhead_is_measured(bundle, "nginx")
    for run in bundle.runs:
        assert run.labels["loadgen.processes"] == "2"
    assert bundle.labels["certify.status"] == "skipped"


@pytest.mark.slow
def test_repeat_interleaves_pairs_and_each_mesh_run_is_scored_against_its_own_baseline(
    tmp_path: Path,
) -> None:
    bundle = run_local(tmp_path, "--proxy", "nginx", "--repeat", "2", "--skip-certify", *PHASE)
    assert [r.role for r in bundle.runs] == ["baseline", "mesh", "baseline", "mesh"]
    assert [r.labels["runner.pair"] for r in bundle.runs] == ["1/2", "1/2", "2/2", "2/2"]
    assert bundle.labels["runner.repeat"] == "2"
    assert len({r.id for r in bundle.runs}) == 4
    for first, second in (bundle.runs[0:2], bundle.runs[2:4]):
        pair = Bundle(
            profile=bundle.profile,
            environment=bundle.environment,
            mesh_config=bundle.mesh_config,
            runs=[first, second],
        )
        assert_overhead_is_measured(pair, "nginx")
    # The pairs were made one after the other, each baseline before its mesh run.
    starts = [r.start_time for r in bundle.runs]
    assert all(a is not None and b is not None and a < b for a, b in itertools.pairwise(starts))
    scored = CliRunner().invoke(cli, ["score", "--json", str(tmp_path / "bundle.json")])
    assert scored.exit_code == 0, scored.output
    assert [entry["run"] for entry in json.loads(scored.stdout)["runs"]] == [1, 3]


CHAIN_PHASE = ["--duration", "6s", "--warmup", "1s", "--skip-certify"]
"""6,000 requests a phase at 1,000 rps (http-chain-1k, grpc-1k): enough beyond p99 to score.
Certification is skipped: the http-100 runs above certify first, and test_certify.py makes
each check pass and fail; here a busy test machine must not stop a test of the topology."""


def assert_the_chain_is_measured(bundle: Bundle, proxy: str) -> None:
    baseline, mesh = bundle.runs
    for run in (baseline, mesh):
        assert run.profile_id == "http-chain-1k" and run.requested_qps == 1000
        assert run.error_count == 0 and run.status_codes == {"200": run.request_count}
        assert run.resources is not None
        (apps,) = run.resources.workloads
        assert (apps.name, apps.count) == ("app", 3)
        assert (apps.cpu_mcores or 0) > 0
    # Six proxies: one client and one server side for each of the three hops.
    assert mesh.resources is not None and mesh.resources.sidecar is not None
    assert mesh.resources.sidecar.count == 6 and (mesh.resources.sidecar.cpu_mcores or 0) > 0
    assert baseline.resources is not None and baseline.resources.sidecar is None
    # Every request crossed six proxies: the mesh run is slower than its baseline.
    assert mesh.latencies_ms.p50 is not None and baseline.latencies_ms.p50 is not None
    assert mesh.latencies_ms.p50 > baseline.latencies_ms.p50
    topology = bundle.mesh_config.labels["local.topology"]
    assert topology.count("server proxy") == 3 and "app-3" in topology
    assert bundle.mesh_config.mesh_type == proxy


def score_of(path: Path) -> dict[str, object]:
    scored = CliRunner().invoke(cli, ["score", "--json", str(path)])
    assert scored.exit_code == 0, scored.output
    (entry,) = json.loads(scored.stdout)["runs"]
    return dict(entry["meshmark"])


@pytest.mark.slow
def test_the_chain_profile_runs_locally_through_nginx(tmp_path: Path) -> None:
    out = tmp_path / "bundle.json"
    bundle = run_local(tmp_path, "--proxy", "nginx", *CHAIN_PHASE, profile="http-chain-1k")
    assert_the_chain_is_measured(bundle, "nginx")
    meshmark = score_of(out)
    assert meshmark["scorable"] is True and 0 < float(str(meshmark["score"])) < 100


@pytest.mark.slow
def test_the_chain_profile_runs_locally_through_haproxy_with_mtls(tmp_path: Path) -> None:
    out = tmp_path / "bundle.json"
    bundle = run_local(
        tmp_path, "--proxy", "haproxy", "--mtls", *CHAIN_PHASE, profile="http-chain-1k"
    )
    assert_the_chain_is_measured(bundle, "haproxy")
    assert bundle.mesh_config.mtls_enabled is True
    assert score_of(out)["scorable"] is True


def test_a_missing_proxy_is_a_clear_error_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(processes, "SBIN_DIRS", ())
    result = CliRunner().invoke(cli, ["run", "--profile", "http-100", "--local", "--quiet"])
    assert result.exit_code == 1
    assert "nginx is not installed" in result.output
    assert "apt-get install nginx" in result.output
    assert "Traceback" not in result.output


def test_grpc_with_an_http_only_generator_is_refused_locally() -> None:
    result = CliRunner().invoke(
        cli, ["run", "--profile", "grpc-1k", "--local", "--quiet", "--load-generator", "wrk"]
    )
    assert result.exit_code == 1
    assert "wrk and hey speak HTTP/1.1 only" in result.output


def assert_grpc_is_measured(bundle: Bundle, proxy: str) -> None:
    baseline, mesh = bundle.runs
    for run in (baseline, mesh):
        assert (run.profile_id, run.protocol, run.requested_qps) == ("grpc-1k", "grpc", 1000)
        assert run.actual_qps is not None and abs(run.actual_qps - 1000) <= 20
        # Every call answered OK: gRPC's status names, not HTTP codes.
        assert run.error_count == 0 and run.status_codes == {"OK": run.request_count}
        assert run.resources is not None and (run.resources.workloads[0].cpu_mcores or 0) > 0
    assert mesh.resources is not None and mesh.resources.sidecar is not None
    assert mesh.resources.sidecar.count == 2 and (mesh.resources.sidecar.cpu_mcores or 0) > 0
    assert bundle.mesh_config.mesh_type == proxy


@pytest.mark.slow
def test_the_grpc_profile_runs_locally_through_nginx(tmp_path: Path) -> None:
    bundle = run_local(tmp_path, "--proxy", "nginx", *CHAIN_PHASE, profile="grpc-1k")
    assert_grpc_is_measured(bundle, "nginx")
    assert score_of(tmp_path / "bundle.json")["scorable"] is True


@pytest.mark.slow
def test_the_grpc_profile_runs_locally_through_haproxy_with_mtls(tmp_path: Path) -> None:
    bundle = run_local(tmp_path, "--proxy", "haproxy", "--mtls", *CHAIN_PHASE, profile="grpc-1k")
    assert_grpc_is_measured(bundle, "haproxy")
    assert bundle.mesh_config.mtls_enabled is True
    assert score_of(tmp_path / "bundle.json")["scorable"] is True


def test_run_needs_exactly_one_place_to_run() -> None:
    result = CliRunner().invoke(cli, ["run", "--profile", "http-100"])
    assert result.exit_code == 2
    assert "--local or --kubeconfig" in result.output


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_ctrl_c_in_the_middle_of_a_local_run_stops_everything_and_removes_the_temp_dir(
    tmp_path: Path,
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    argv = [sys.executable, "-c", "from runner.cli import main; main()", "run"]
    argv += ["--profile", "http-100", "--local", "--duration", "20s", "--warmup", "0s"]
    argv += ["--out", str(tmp_path / "never.json")]
    with subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True) as runner:
        assert runner.stderr is not None
        seen = []
        deadline = time.monotonic() + 60
        for line in runner.stderr:
            seen.append(line)
            if line.startswith("baseline: straight to the application"):
                break
            assert time.monotonic() < deadline, seen
        time.sleep(1.0)  # in the middle of the baseline phase
        children = descendants(runner.pid)
        assert children, "the app server should be running"
        assert list(tmpdir.iterdir()), "the run's temp dir should exist"
        runner.send_signal(signal.SIGINT)
        rest = runner.stderr.read()
        assert runner.wait(30) == 130, "".join(seen) + rest
    assert "interrupted" in rest
    assert "Traceback" not in rest
    assert [pid for pid in children if Path(f"/proc/{pid}").exists()] == []
    assert _processes_mentioning(str(tmpdir)) == []
    assert list(tmpdir.iterdir()) == []
    assert not (tmp_path / "never.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize(("tool", "requested"), [("wrk", None), ("hey", 200.0)], ids=["wrk", "hey"])
def test_installed_load_generators_are_run_and_read_by_the_smp_readers(
    tmp_path: Path, tool: str, requested: float | None
) -> None:
    port = processes.free_port()
    argv = [sys.executable, "-m", "runner.workload", "--port", str(port)]
    with processes.Cleanup() as cleanup:
        app = processes.start_process("app", [*argv, "--payload-bytes", "64"], tmp_path)
        cleanup.add(app.stop)
        processes.wait_for_port(app, port)
        run = run_tool(
            tool,
            url=f"http://127.0.0.1:{port}/",
            rate=200.0,
            connections=4,
            duration_s=1.0,
            workdir=tmp_path,
            cleanup=cleanup,
            name=tool,
        )
    result = run.result
    assert result.load_generator is not None and result.load_generator.name == tool
    assert result.raw is not None and result.raw.format == tool
    assert result.requested_qps == requested and result.connections == 4
    assert (result.request_count or 0) > 50 and not result.error_count
    assert result.latencies_ms.p50 is not None and result.latencies_ms.p50 > 0
    assert run.finished - run.started >= 1.0


def test_a_missing_load_generator_says_where_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(processes, "SBIN_DIRS", ())
    for tool, hint in (("wrk", "apt-get install wrk"), ("fortio", "not packaged by Debian")):
        with pytest.raises(click.ClickException, match=hint):
            check_tool(tool)


@pytest.mark.slow
def test_settle_loads_the_target_until_its_latency_is_stable(tmp_path: Path) -> None:
    bundle = run_local(tmp_path, "--proxy", "nginx", "--settle", "--skip-certify", *PHASE)
    for run in bundle.runs:
        windows = int(run.labels["runner.settle_windows"])
        assert 3 <= windows <= 15
    assert_overhead_is_measured(bundle, "nginx")


NEW_KIND_PHASE = ["--skip-certify"]
"""The new kinds skip certification like the chain profiles (test_certify.py covers it)."""


@pytest.mark.slow
@pytest.mark.parametrize("proxy", ["nginx", "haproxy"])
def test_a_capacity_profile_searches_each_phase_through_real_proxies(
    tmp_path: Path, proxy: str
) -> None:
    bundle = run_local(
        tmp_path, "--proxy", proxy, "--duration", "1s", "--warmup", "0.3s", *NEW_KIND_PHASE,
        profile="http-capacity-p99-10ms",
    )  # fmt: skip
    baseline, mesh = bundle.runs
    for run in (baseline, mesh):
        search = run.capacity
        assert search is not None and search.objective_p99_ms == 10
        assert search.trials[0].requested_qps == 500 and len(search.trials) >= 3
        passed = [t.requested_qps for t in search.trials if t.passed]
        assert passed and search.rps == max(passed) and run.requested_qps == search.rps
        assert all(t.p99_ms is not None and t.p99_ms <= 10 for t in search.trials if t.passed)
    assert mesh.resources is not None and mesh.resources.sidecar is not None
    assert mesh.resources.sidecar.count == 2
    assert bundle.config is not None and bundle.config.clients[0].rps is None
    scored = CliRunner().invoke(cli, ["score", "--json", str(tmp_path / "bundle.json")])
    assert scored.exit_code == 0, scored.output
    (entry,) = json.loads(scored.stdout)["runs"]
    assert entry["meshmark"] is None
    assert baseline.capacity is not None and mesh.capacity is not None
    assert entry["capacity"]["kept"] == pytest.approx(mesh.capacity.rps / baseline.capacity.rps)


@pytest.mark.slow
@pytest.mark.parametrize("proxy", ["nginx", "haproxy"])
def test_a_churn_profile_opens_a_connection_per_request_through_mtls_proxies(
    tmp_path: Path, proxy: str
) -> None:
    bundle = run_local(
        tmp_path, "--proxy", proxy, "--mtls", *PHASE, *NEW_KIND_PHASE, profile="http-churn-100"
    )
    baseline, mesh = bundle.runs
    for run in (baseline, mesh):
        assert run.labels["loadgen.keepalive"] == "false"
        assert run.requested_qps == 100 and run.error_count == 0
        assert run.status_codes == {"200": run.request_count}
    assert mesh.latencies_ms.p50 is not None and baseline.latencies_ms.p50 is not None
    assert mesh.latencies_ms.p50 > baseline.latencies_ms.p50
    assert bundle.mesh_config.mtls_enabled is True


@pytest.mark.slow
@pytest.mark.parametrize("proxy", ["nginx", "haproxy"])
def test_real_world_mode_draws_its_workload_from_the_recorded_seed(
    tmp_path: Path, proxy: str
) -> None:
    from runner.realworld import draw

    bundle = run_local(
        tmp_path, "--proxy", proxy, "--real-world", "--seed", "11", "--duration", "3s",
        "--warmup", "0.5s", *NEW_KIND_PHASE, profile="http-1k",
    )  # fmt: skip
    assert bundle.profile == "http-1k-real-world"
    assert bundle.labels["realworld.seed"] == "11" and bundle.labels["realworld.model"] == "rw-1"
    plan = draw(11, 1000, 3.0, 0.5).plan
    for run in bundle.runs:
        assert run.profile_id == "http-1k-real-world"
        assert run.labels["realworld.seed"] == "11"
        # Every slot of the drawn plan after its warm-up, exactly.
        assert run.request_count == len(plan.times) - plan.warm_slots
        assert run.error_count == 0
