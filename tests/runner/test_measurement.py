"""Process accounting, Kubernetes quantities, mesh helpers and the machine as an environment."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.environment import cpu_model, local_environment, memory_mb
from runner.k8s_manifests import app_deployment, load_args, namespace
from runner.meshes import MESHES, image_version
from runner.procstat import Sample, Sampler, cpu_ns, memory_kib, usage
from runner.prom import (
    COOLDOWN_S,
    Series,
    covered_s,
    cpu_mcores,
    mem_mib,
    queries,
    window,
    working_set,
)
from smp.profiles import get_profile


def test_cpu_is_the_cpu_time_spent_in_the_window_over_its_length() -> None:
    samples = [
        Sample(at=0.0, cpu_ns=0, mem_kib=1024, processes=2),
        Sample(at=1.0, cpu_ns=100_000_000, mem_kib=2048, processes=2),
        Sample(at=2.0, cpu_ns=300_000_000, mem_kib=3072, processes=2),
    ]
    # 0.5 s..1.5 s: 50 ms + 100 ms of CPU in 1 s = 150 mCores; memory: the one sample inside.
    figures = usage(samples, 0.5, 1.5)
    assert figures.cpu_mcores == pytest.approx(150.0)
    assert figures.mem_mb == pytest.approx(2.0)
    assert usage(samples, 0.0, 2.0).mem_mb == pytest.approx(2.0)  # mean of 1, 2 and 3 MiB


def test_a_busy_process_is_measured_near_one_core() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        sampler = Sampler({"busy": busy.pid}, interval_s=0.05).start()
        start = time.monotonic()
        time.sleep(0.6)
        end = time.monotonic()
        sampler.stop()
        figures = sampler.usage("busy", start, end)
    finally:
        busy.kill()
        busy.wait()
    # A whole core is 1000 mCores; allow for a shared, busy machine.
    assert 300 <= figures.cpu_mcores <= 1100, figures
    assert figures.mem_mb > 1 and figures.processes == 1


def test_process_figures_read_this_process() -> None:
    assert (cpu_ns(os.getpid()) or 0) > 0
    assert (memory_kib(os.getpid()) or 0) > 1000
    assert cpu_ns(2**22 + 1) is None and memory_kib(2**22 + 1) is None


def test_kubernetes_quantities_convert_to_millicores_and_mebibytes() -> None:
    assert cpu_mcores("250m") == 250.0
    assert cpu_mcores("2") == 2000.0
    assert cpu_mcores("95000000n") == pytest.approx(95.0)
    assert cpu_mcores("1500u") == pytest.approx(1.5)
    assert mem_mib("51200Ki") == 50.0
    assert mem_mib("64Mi") == 64.0
    assert mem_mib("1G") == pytest.approx(953.674, abs=0.001)
    with pytest.raises(ValueError, match="not a CPU quantity"):
        cpu_mcores("lots")


def test_the_resource_window_drops_warm_up_and_cool_down_unless_too_short() -> None:
    start = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    end = start + dt.timedelta(seconds=60)
    assert window(start, end, 5) == (
        start + dt.timedelta(seconds=5),
        end - dt.timedelta(seconds=COOLDOWN_S),
    )
    assert window(start, start + dt.timedelta(seconds=12), 5) == (
        start,
        start + dt.timedelta(seconds=12),
    )


def test_prometheus_queries_select_the_sidecars_the_app_and_the_control_plane() -> None:
    found = queries(MESHES["linkerd"], "smp-x-mesh", 50)
    assert found["sidecar"]["cpu"] == (
        'sum(rate(container_cpu_usage_seconds_total{namespace="smp-x-mesh",'
        'container=~"linkerd-proxy"}[50s])) * 1000'
    )
    assert found["app"]["mem"] == (
        'container_memory_working_set_bytes{namespace="smp-x-mesh",container="app"}[50s]'
    )
    assert (
        'namespace="linkerd",pod=~".*",container!="",container!="POD"'
        in (found["control_plane"]["cpu"])
    )
    assert "sidecar" not in queries(MESHES["cilium"], "ns", 50)  # sidecarless


def _series(pod: str, times: list[float], value: float = 10 * 2**20) -> Series:
    return Series({"pod": pod, "container": "istio-proxy"}, tuple(times), (value,) * len(times))


def test_a_series_covers_the_window_up_to_its_edges_or_half_an_interval_past_its_samples() -> None:
    every_15 = [103.0, 118.0, 133.0, 148.0]  # 3 s after the start, 2 s before the end
    assert covered_s(_series("a", every_15), 100.0, 150.0, None) == 50.0
    # Stopped: the last sample is 32 s before the end, over 1.1 intervals: half an interval.
    assert covered_s(_series("a", every_15[:2]), 100.0, 150.0, None) == 3.0 + 15.0 + 7.5
    # 17 s from the end is over 1.1 intervals (16.5 s) already: half an interval too.
    assert covered_s(_series("a", every_15[:3]), 100.0, 150.0, None) == 3.0 + 30.0 + 7.5
    # A lone sample takes the block's interval; without one it stands for the whole window.
    assert covered_s(_series("a", [140.0]), 100.0, 150.0, 15.0) == 7.5 + 10.0
    assert covered_s(_series("a", [140.0]), 100.0, 150.0, None) == 50.0


def test_a_replaced_pod_counts_for_the_part_of_the_window_it_ran() -> None:
    old = _series("old", [101.0, 116.0, 131.0, 146.0, 161.0])  # deleted at ~170
    new = _series("new", [181.0, 196.0, 211.0, 226.0, 241.0, 256.0, 271.0, 286.0])
    figures = working_set([old, new], 100.0, 300.0)
    # old: 100..168.5, new: 173.5..300 -> 68.5 + 126.5 = 195 s of 200 at 10 MiB each.
    assert figures.mean_bytes / 2**20 == pytest.approx(10.0 * 195.0 / 200.0)
    assert figures.pods == 1 and figures.interval == 15.0
    # A restart in place with a new series: both halves add up to one container.
    again = _series("old", [181.0, 196.0, 211.0, 226.0, 241.0, 256.0, 271.0, 286.0])
    assert working_set([old, again], 100.0, 300.0).pods == 1
    assert working_set([], 100.0, 300.0).pods == 0
    # A pod of several containers counts once.
    sidecar = Series({"pod": "new", "container": "linkerd-proxy"}, new.times, new.values)
    assert working_set([old, new, sidecar], 100.0, 300.0).pods == 1


def test_image_tags_give_mesh_versions() -> None:
    assert image_version("docker.io/istio/pilot:1.24.1") == "1.24.1"
    assert image_version("quay.io/cilium/cilium:v1.16.4@sha256:abc") == "1.16.4"
    assert image_version("cr.l5d.io/linkerd/controller:stable-2.14.10") == "stable-2.14.10"
    assert image_version("localhost:5000/kuma-cp") is None


def test_each_mesh_is_injected_only_in_the_mesh_phase() -> None:
    for name in ("istio", "linkerd", "kuma", "consul"):
        mesh = MESHES[name]
        on, off = namespace("r", "mesh", mesh), namespace("r", "baseline", mesh)
        pod_on = app_deployment("r", "mesh", mesh)["spec"]["template"]["metadata"]["annotations"]
        injected = {**on["metadata"]["labels"], **on["metadata"]["annotations"], **pod_on}
        assert any(v in ("enabled", "true") for v in injected.values()), name
        not_injected = {**off["metadata"]["labels"], **off["metadata"]["annotations"]}
        assert not any(v in ("enabled", "true") for v in not_injected.values()), name
    cilium = namespace("r", "mesh", MESHES["cilium"])["metadata"]
    assert cilium["annotations"] == {} and "istio-injection" not in cilium["labels"]


def test_fortio_is_asked_for_the_profiles_rate_connections_and_payload() -> None:
    profile = get_profile("http-1k")
    assert profile is not None
    image, command, args = load_args("fortio", profile, "ns1", 1000.0, 60.0)
    assert image.startswith("fortio/fortio:") and command == []
    assert args == [
        "load", "-json", "-", "-qps", "1000", "-c", "16", "-t", "60s",
        "http://smp-app.ns1.svc.cluster.local:8080/echo?size=1024",
    ]  # fmt: skip


def test_the_local_environment_describes_this_machine() -> None:
    env = local_environment(None)
    [node] = env.node
    assert node.cores == os.cpu_count() and node.count == 1
    assert node.mem_mb and node.mem_mb > 100 and node.arch
    assert env.provider == "local" and env.kernel_version and env.kubernetes_version is None
    assert cpu_model("processor\t: 0\nmodel name\t: AMD  EPYC 9B14\n") == "AMD EPYC 9B14"
    assert memory_mb("MemTotal:       16384000 kB\n") == 16000.0


def test_proxy_configs_keep_their_files_in_the_temp_dir(tmp_path: Path) -> None:
    from runner.proxies import Hop, render_haproxy, render_nginx

    hop = Hop("proxy-client", 1000, 2000)
    nginx = render_nginx(hop, tmp_path, None)
    assert f"pid {tmp_path}/nginx.pid;" in nginx and "proxy_pass http://next_hop;" in nginx
    assert "127.0.0.1:2000" in nginx and "listen 127.0.0.1:1000;" in nginx
    haproxy = render_haproxy(hop, tmp_path, None)
    assert "bind 127.0.0.1:1000" in haproxy and "server hop 127.0.0.1:2000" in haproxy
