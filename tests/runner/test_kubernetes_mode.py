"""`smp-runner run --kubeconfig`, through the real kubernetes client, against a fake API server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from runner.cli import cli
from runner.k8s import extract_json
from smp.submission import read_submission

from ..conftest import SAMPLES
from .fake_kube import FakeApiServer, FakeCluster, JobOutcome

FORTIO_SAMPLE = SAMPLES / "fortio" / "fortio_1.57.3_http_iter8.json"
FORTIO_LOG_PREFIX = (
    "Fortio 1.57.3 running at 100 queries per second, 2->2 procs, for 10s: http://smp-app\n"
    "Starting at 100 qps with 4 thread(s) [gomax 2] for 10s : 250 calls each\n"
)
PROBE_LOG = '{"probe": "meshmark-cpu/1", "score": 987.6, "unit": "ops/s"}\n'


def fortio_log(ns: str) -> JobOutcome:
    # fortio logs to stderr and writes the JSON to stdout; a pod log has both.
    return JobOutcome(0, FORTIO_LOG_PREFIX + FORTIO_SAMPLE.read_text() + "\nAll done 100 calls\n")


def healthy_cluster() -> FakeCluster:
    return FakeCluster(
        logs={"smp-load": fortio_log, "smp-calibrate": lambda ns: JobOutcome(0, PROBE_LOG)}
    )


def run_k8s(api: FakeApiServer, tmp_path: Path, *extra: str) -> Any:
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    out = tmp_path / "bundle.json"
    args = ["run", "--profile", "http-100", "--kubeconfig", str(kubeconfig), "--quiet"]
    return CliRunner().invoke(cli, [*args, "--out", str(out), *extra]), out


def test_it_runs_both_phases_and_writes_a_valid_bundle(
    api: FakeApiServer, cluster: FakeCluster, tmp_path: Path
) -> None:
    result, out = run_k8s(api, tmp_path, "--mesh", "istio", "--mtls")
    assert result.exit_code == 0, result.output
    report = read_submission(out.read_bytes(), native_alone=True)
    assert report.ok, [str(p) for p in report.errors]
    bundle = report.bundle
    assert bundle is not None
    assert bundle.profile == "http-100"
    assert [r.role for r in bundle.runs] == ["baseline", "mesh"]
    env = bundle.environment
    assert env.kubernetes_version == "v1.30.2"
    assert len(env.node) == 1
    node = env.node[0]
    assert (node.type, node.cores, node.arch, node.count) == ("n2-standard-8", 8, "amd64", 3)
    assert node.mem_mb == pytest.approx(32109.8, abs=0.1)
    assert env.kernel_version == "6.1.0-28-cloud-amd64" and env.provider == "gce"
    assert env.calibration is not None and env.calibration.score == 987.6
    mesh = bundle.mesh_config
    assert (mesh.mesh_type, mesh.mesh_version, mesh.mtls_enabled) == ("istio", "1.24.1", True)
    baseline_run, mesh_run = bundle.runs
    assert mesh_run.load_generator is not None and mesh_run.load_generator.name == "fortio"
    assert mesh_run.raw is not None and mesh_run.raw.format == "fortio"
    assert mesh_run.request_count == 100
    # metrics.k8s.io: two sidecars (app and load pods), the app, and istiod.
    assert mesh_run.resources is not None and mesh_run.resources.sidecar is not None
    assert mesh_run.resources.sidecar.count == 2
    assert mesh_run.resources.sidecar.cpu_mcores == pytest.approx(155.0)
    assert mesh_run.resources.sidecar.mem_mb == pytest.approx(98.0)
    assert mesh_run.resources.mesh_control_plane is not None
    assert mesh_run.resources.mesh_control_plane.cpu_mcores == pytest.approx(35.0)
    assert [w.name for w in mesh_run.resources.workloads] == ["smp-app"]
    assert mesh_run.resources.workloads[0].cpu_mcores == pytest.approx(150.0)
    assert baseline_run.resources is not None and baseline_run.resources.sidecar is None
    # Everything it created is gone, and both namespaces carried the run id.
    assert cluster.namespaces == {}
    assert sorted(cluster.deleted_namespaces) == sorted(cluster.created_namespaces)
    assert len(cluster.created_namespaces) == 2
    run_id = bundle.labels["run_id"]
    assert all(run_id in ns for ns in cluster.created_namespaces)


def test_it_injects_sidecars_only_in_the_mesh_namespace(
    api: FakeApiServer, cluster: FakeCluster, tmp_path: Path
) -> None:
    seen: dict[str, dict[str, Any]] = {}
    original = cluster._route

    def spy(method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if method == "POST" and path == "/api/v1/namespaces":
            seen[body["metadata"]["labels"]["meshmark.io/phase"]] = body["metadata"]
        return original(method, path, query, body)

    cluster._route = spy  # type: ignore[method-assign]
    result, _ = run_k8s(api, tmp_path, "--mesh", "auto")
    assert result.exit_code == 0, result.output
    assert seen["mesh"]["labels"]["istio-injection"] == "enabled"
    assert seen["baseline"]["labels"]["istio-injection"] == "disabled"
    assert seen["mesh"]["labels"]["app.kubernetes.io/managed-by"] == "smp-runner"


def test_it_deletes_the_namespaces_when_the_load_job_fails(
    api: FakeApiServer, cluster: FakeCluster, tmp_path: Path
) -> None:
    cluster.logs["smp-load"] = lambda ns: JobOutcome(1, "Aborting because of dial tcp: refused\n")
    result, out = run_k8s(api, tmp_path)
    assert result.exit_code == 1
    assert "load generator exited with status 1" in result.output
    assert "dial tcp: refused" in result.output
    assert cluster.created_namespaces and cluster.namespaces == {}
    assert not out.exists()


def test_it_deletes_the_namespaces_when_the_log_is_garbage(
    api: FakeApiServer, cluster: FakeCluster, tmp_path: Path
) -> None:
    def garbage_in_mesh_phase(ns: str) -> JobOutcome:
        return (
            JobOutcome(0, "segfault\x00\x01 {not json") if ns.endswith("-mesh") else fortio_log(ns)
        )

    cluster.logs["smp-load"] = garbage_in_mesh_phase
    result, _ = run_k8s(api, tmp_path)
    assert result.exit_code == 1
    assert "cannot read the mesh load generator's output" in result.output
    assert len(cluster.created_namespaces) == 2  # it got to the mesh phase
    assert cluster.namespaces == {}
    assert "Traceback" not in result.output


def test_ctrl_c_during_the_mesh_phase_deletes_both_namespaces(
    api: FakeApiServer, cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import runner.k8s

    original = runner.k8s._wait_container

    def interrupted_in_mesh_phase(cluster_: Any, ns: str, *args: Any, **kwargs: Any) -> Any:
        if ns.endswith("-mesh"):
            raise KeyboardInterrupt
        return original(cluster_, ns, *args, **kwargs)

    monkeypatch.setattr(runner.k8s, "_wait_container", interrupted_in_mesh_phase)
    result, out = run_k8s(api, tmp_path)
    assert result.exit_code == 130
    assert "interrupted" in result.output
    assert len(cluster.created_namespaces) == 2 and cluster.namespaces == {}
    assert not out.exists()


def test_it_refuses_a_mesh_that_is_not_installed_before_creating_anything(
    api: FakeApiServer, cluster: FakeCluster, tmp_path: Path
) -> None:
    result, _ = run_k8s(api, tmp_path, "--mesh", "linkerd")
    assert result.exit_code == 1
    assert "linkerd is not installed" in result.output
    assert "deployment linkerd-destination in namespace linkerd" in result.output
    assert cluster.created_namespaces == []


def test_it_says_when_the_kubeconfig_is_unusable(tmp_path: Path) -> None:
    bad = tmp_path / "kubeconfig"
    bad.write_text("apiVersion: v1\nkind: Config\n")
    result = CliRunner().invoke(
        cli, ["run", "--profile", "http-100", "--kubeconfig", str(bad), "--quiet"]
    )
    assert result.exit_code == 1
    assert f"cannot use kubeconfig {bad}" in result.output


def test_it_finds_the_json_document_in_a_log_with_other_lines() -> None:
    log = 'starting\n{"a": {"b": [1, 2]}}\ntrailing line\n'
    assert json.loads(extract_json(log)) == {"a": {"b": [1, 2]}}
    with pytest.raises(ValueError, match="no JSON"):
        extract_json("no json here {oops\n")


def test_a_chain_profile_deploys_one_server_per_service_and_loads_through_them_all(
    api: FakeApiServer, cluster: FakeCluster, tmp_path: Path
) -> None:
    created: list[tuple[str, str, str]] = []
    load_args: dict[str, list[str]] = {}
    original = cluster._route

    def spy(method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        found = re.search(r"/namespaces/([^/]+)/(\w+)$", path)
        if method == "POST" and body and found:
            ns, kind = found.groups()
            created.append((ns.rsplit("-", 1)[-1], kind, body["metadata"]["name"]))
            if body["metadata"]["name"] == "smp-load":
                load_args[ns] = body["spec"]["template"]["spec"]["containers"][0]["args"]
        return original(method, path, query, body)

    cluster._route = spy  # type: ignore[method-assign]
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    out = tmp_path / "bundle.json"
    result = CliRunner().invoke(
        cli,
        [
            *("run", "--profile", "http-chain-1k", "--kubeconfig", str(kubeconfig)),
            *("--quiet", "--out", str(out), "--mesh", "istio"),
        ],
    )
    assert result.exit_code == 0, result.output
    apps = ["smp-app-1", "smp-app-2", "smp-app-3"]
    for phase in ("baseline", "mesh"):
        assert [name for p, kind, name in created if p == phase and kind == "deployments"] == apps
        assert [name for p, kind, name in created if p == phase and kind == "services"] == apps
    # The load asks app 1 to fetch from app 2, which fetches from app 3's echo endpoint.
    for ns, args in load_args.items():
        url = args[-1]
        hosts = [f"{app}.{ns}.svc.cluster.local:8080" for app in apps]
        assert url == (
            f"http://{hosts[0]}/fortio/fetch/{hosts[1]}/fortio/fetch/{hosts[2]}/echo?size=1024"
        )
    report = read_submission(out.read_bytes(), native_alone=True)
    assert report.ok and report.bundle is not None
    assert report.bundle.profile == "http-chain-1k"


def _load_jobs(cluster: FakeCluster) -> list[tuple[str, str, list[str]]]:
    """(namespace, job name, container args) of every load Job created, in order."""
    return [
        (ns, body["metadata"]["name"], body["spec"]["template"]["spec"]["containers"][0]["args"])
        for ns, kind, body in cluster.created
        if kind == "jobs" and body["metadata"]["name"].startswith("smp-load")
    ]


def test_a_churn_profile_turns_the_generators_keep_alive_off_and_says_so(
    api: FakeApiServer, cluster: FakeCluster, tmp_path: Path
) -> None:
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    out = tmp_path / "bundle.json"
    args = ["run", "--profile", "http-churn-100", "--kubeconfig", str(kubeconfig), "--quiet"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out), "--skip-certify"])
    assert result.exit_code == 0, result.output
    jobs = _load_jobs(cluster)
    assert len(jobs) == 2 and all("-keepalive=false" in job_args for _, _, job_args in jobs)
    report = read_submission(out.read_bytes(), native_alone=True)
    assert report.bundle is not None
    assert all(r.labels["loadgen.keepalive"] == "false" for r in report.bundle.runs)


def _faster_fortio_log(ns: str) -> JobOutcome:
    """The fortio sample with every duration divided by 10 (p99 4 ms instead of 40 ms): a
    run that meets a 10 ms objective. It delivered 7.98 requests/s whatever was asked."""
    doc = json.loads(FORTIO_SAMPLE.read_text())
    hist = doc["DurationHistogram"]
    for key in ("Min", "Max", "Sum", "Avg", "StdDev"):
        hist[key] = hist[key] / 10
    for bucket in hist["Data"]:
        bucket["Start"], bucket["End"] = bucket["Start"] / 10, bucket["End"] / 10
    for point in hist["Percentiles"]:
        point["Value"] = point["Value"] / 10
    return JobOutcome(0, FORTIO_LOG_PREFIX + json.dumps(doc) + "\nAll done 100 calls\n")


def test_a_capacity_search_on_a_cluster_runs_one_job_per_trial_and_finds_the_delivered_limit(
    api: FakeApiServer, cluster: FakeCluster, tmp_path: Path
) -> None:
    """Every trial Job delivers 7.98 rps: a trial passes only when that is at least 95% of
    its rate, so the capacity is 7.98 / 0.95 = 8.4 rps, found within the 5% tolerance."""
    cluster.logs["smp-load"] = _faster_fortio_log
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    out = tmp_path / "bundle.json"
    args = ["run", "--profile", "http-capacity-p99-10ms", "--kubeconfig", str(kubeconfig)]
    result = CliRunner().invoke(cli, [*args, "--quiet", "--out", str(out), "--skip-certify"])
    assert result.exit_code == 0, result.output
    report = read_submission(out.read_bytes(), native_alone=True)
    assert report.ok, [str(p) for p in report.errors]
    assert report.bundle is not None
    limit = 7.975606391552989 / 0.95
    for run in report.bundle.runs:
        assert run.capacity is not None and run.capacity.converged
        assert limit / 1.05 <= run.capacity.rps <= limit
        rates = [t.requested_qps for t in run.capacity.trials]
        assert rates[0] == 500 and len(rates) == len(set(rates)) <= 16
    jobs = _load_jobs(cluster)
    names = [(ns, name) for ns, name, _ in jobs]
    assert len(names) == len(set(names)), "each trial is a Job of its own in its phase"
    assert len({ns for ns, _ in names}) == 2
    trial_rates = [float(job_args[job_args.index("-qps") + 1]) for _, _, job_args in jobs]
    baseline = report.bundle.runs[0].capacity
    assert baseline is not None
    assert trial_rates[: len(baseline.trials)] == [t.requested_qps for t in baseline.trials]
