"""`smp-runner certify`: every check passing and failing, on facts the test controls, and
`run` certifying first (the cluster through the real kubernetes client and a fake API)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner import certify
from runner.certify import FAIL, PASS, WARN
from runner.cli import cli

from .fake_kube import FakeApiServer, FakeCluster


def fake_root(
    tmp_path: Path, *, load: float = 0.2, available_kb: int = 8_000_000, governor: str | None = None
) -> Path:
    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    (root / "proc/loadavg").write_text(f"{load} 0.30 0.20 1/200 4242\n")
    (root / "proc/stat").write_text(
        "cpu  100 0 50 1000 5 0 1 2 0 0\ncpu0 50 0 25 500 2 0 0 1 0 0\n"
    )
    (root / "proc/meminfo").write_text(f"MemTotal: 16000000 kB\nMemAvailable: {available_kb} kB\n")
    if governor:
        for cpu in ("cpu0", "cpu1"):
            path = root / f"sys/devices/system/cpu/{cpu}/cpufreq"
            path.mkdir(parents=True)
            (path / "scaling_governor").write_text(governor + "\n")
    return root


def by_name(checks: list[certify.Check]) -> dict[str, str]:
    return {c.name: c.status for c in checks}


def test_a_fit_machine_passes_every_local_check(tmp_path: Path) -> None:
    checks = certify.certify_local(
        1000, 16, root=fake_root(tmp_path, governor="performance"), cores=4,
        probe=iter([1000.0, 1010.0, 995.0]).__next__, generator=lambda rate, conns: rate * 0.998,
    )  # fmt: skip
    assert by_name(checks) == dict.fromkeys(
        ["cores", "load", "cpu-steal", "cpu-governor", "memory", "calibration", "generator"], PASS
    )
    assert certify.summary(checks) == PASS


def test_an_unfit_machine_fails_each_local_check_with_its_reason(tmp_path: Path) -> None:
    checks = certify.certify_local(
        5000, 64, root=fake_root(tmp_path, load=9.0, available_kb=300_000, governor="powersave"),
        cores=1, probe=iter([1000.0, 700.0, 1200.0]).__next__,
        generator=lambda rate, conns: rate * 0.9,
    )  # fmt: skip
    statuses = by_name(checks)
    assert {n: statuses[n] for n in ("cores", "load", "memory", "calibration", "generator")} == (
        dict.fromkeys(["cores", "load", "memory", "calibration", "generator"], FAIL)
    )
    assert statuses["cpu-governor"] == WARN
    reasons = {c.name: c.reason for c in checks}
    assert "1 cores for 5000 rps" in reasons["cores"] and "need 4" in reasons["cores"]
    assert "4500.0 of 5000 rps" in reasons["generator"]
    assert certify.summary(checks) == FAIL


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        (lambda: certify.check_cores(2, 1000), PASS),
        (lambda: certify.check_cores(2, 5000), WARN),
        (lambda: certify.check_cores(1, 1000), FAIL),
        (lambda: certify.check_calibration([1000, 1002, 998]), PASS),
        (lambda: certify.check_calibration([1000, 1150, 1000]), WARN),
        (lambda: certify.check_calibration([1000, 1400, 800]), FAIL),
        (lambda: certify.check_calibration([0.0, 0.0]), FAIL),
        (lambda: certify.check_steal(0.001), PASS),
        (lambda: certify.check_steal(0.05), WARN),
        (lambda: certify.check_steal(0.2), FAIL),
        (lambda: certify.check_steal(None), WARN),
        (lambda: certify.check_load(0.5, 2), PASS),
        (lambda: certify.check_load(3.0, 2), WARN),
        (lambda: certify.check_load(9.0, 2), FAIL),
        (lambda: certify.check_governor([]), WARN),
        (lambda: certify.check_generator(1000.0, 1000), PASS),
        (lambda: certify.check_generator(1030.0, 1000), WARN),  # overshoot: a warning
        (lambda: certify.check_generator(985.0, 1000), FAIL),
        (lambda: certify.check_memory(2000), PASS),
        (lambda: certify.check_memory(600), WARN),
        (lambda: certify.check_memory(100), FAIL),
    ],
)
def test_each_check_has_its_bounds(check: object, expected: str) -> None:
    assert callable(check)
    assert check().status == expected


def test_steal_is_the_stolen_share_between_two_readings() -> None:
    # user nice system idle iowait irq softirq steal: 1000 ticks passed, 50 of them stolen.
    before = [100, 0, 50, 1000, 5, 0, 1, 2]
    after = [500, 0, 150, 1450, 5, 0, 1, 52]
    assert certify.steal_share(before, after) == pytest.approx(0.05)
    assert certify.steal_share([1, 2, 3], [4, 5, 6]) is None


# The cluster -------------------------------------------------------------------------------


def certify_cluster(api: FakeApiServer, tmp_path: Path, *extra: str) -> tuple[int, dict[str, str]]:
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    argv = ["certify", "--profile", "http-1k", "--kubeconfig", str(kubeconfig), "--json", *extra]
    result = CliRunner().invoke(cli, argv)
    answer = json.loads(result.stdout)
    return result.exit_code, {c["name"]: c["status"] for c in answer["checks"]}


def test_a_ready_cluster_passes(api: FakeApiServer, tmp_path: Path) -> None:
    code, statuses = certify_cluster(api, tmp_path, "--mesh", "istio")
    assert code == 0
    assert statuses == dict.fromkeys(["nodes", "control-plane", "metrics", "clocks"], PASS)


def test_nodes_not_ready_and_clocks_apart_fail(
    api: FakeApiServer, cluster: FakeCluster, tmp_path: Path
) -> None:
    cluster.nodes_ready, cluster.clock_offset_s = 0, 90.0
    code, statuses = certify_cluster(api, tmp_path, "--mesh", "istio")
    assert code == 1
    assert (statuses["nodes"], statuses["clocks"]) == (FAIL, FAIL)


def test_a_missing_control_plane_and_an_unreachable_prometheus_fail(
    api: FakeApiServer, tmp_path: Path
) -> None:
    code, statuses = certify_cluster(
        api, tmp_path, "--mesh", "linkerd", "--prometheus", "http://127.0.0.1:9"
    )
    assert code == 1
    assert (statuses["control-plane"], statuses["metrics"]) == (FAIL, FAIL)


def test_run_certifies_first_and_records_it_or_that_it_was_skipped(
    api: FakeApiServer, cluster: FakeCluster, tmp_path: Path
) -> None:
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    out = tmp_path / "bundle.json"
    argv = ["run", "--profile", "http-100", "--kubeconfig", str(kubeconfig), "--quiet"]
    argv += ["--out", str(out), "--mesh", "istio"]
    assert CliRunner().invoke(cli, argv).exit_code == 0
    labels = json.loads(out.read_text())["labels"]
    assert labels["certify.status"] == PASS and labels["certify.nodes"].startswith("pass: 3 of 3")

    assert CliRunner().invoke(cli, [*argv, "--skip-certify"]).exit_code == 0
    assert json.loads(out.read_text())["labels"]["certify.status"] == "skipped"

    # An unfit cluster: the run stops before it creates anything.
    cluster.nodes_ready = 0
    out.unlink()
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 1 and "failed certification (nodes: 0 of 3 nodes ready" in (
        result.output
    )
    assert not out.exists()
    assert len(cluster.created_namespaces) == 4  # the two runs above, none for this one
