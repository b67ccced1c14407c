"""Resources per container from mesh-bench's Prometheus dumps and Istio's benchmark rows.

Figures checked by hand against the files under shared/real-data/ (mesh-bench's
results/02_http_constant_throughput/, istio-tools' compiled-results.json).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from smp.errors import ReaderError
from smp.model import PerformanceTestResult
from smp.resources import load, place, read_prometheus, resources_from_dumps
from smp.resources.istio import read_istio_rows, resources_from_istio_row
from smp.resources.prometheus import classify

ROOT = Path(__file__).resolve().parents[2]
MESH_BENCH = ROOT.parent / "shared/real-data/mesh-bench/results/02_http_constant_throughput"
ISTIO_ROWS = (
    ROOT.parent / "shared/real-data/istio-tools/results-istio-1.2.0-fortio/compiled-results.json"
)
CPU_ISTIO = MESH_BENCH / "cpu_istio_1000_2022-06-26T21:54:17Z.json"
MEM_ISTIO = MESH_BENCH / "mem_istio_1000_2022-06-26T21:54:17Z.json"
UTC = dt.UTC


def at(stamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(stamp, UTC)


def dump(path: Path, **kwargs: Any) -> Any:
    return read_prometheus(json.loads(path.read_bytes()), path.name, **kwargs)


def test_a_dump_averaged_over_one_sample_gives_that_samples_figures() -> None:
    cpu = dump(CPU_ISTIO)
    assert cpu.metric == "cpu" and len(cpu.series) == 2
    # The first sample, at 1656279557 (21:39:17Z): fortio 0.09714912557804194 cores,
    # istio-proxy 0.19305083987126714 cores, both in pod target-fortio-746f85d498-vv4vf.
    resources = resources_from_dumps([cpu], at(1656279557), at(1656279557), "istio")
    assert resources is not None and resources.sidecar is not None
    assert resources.sidecar.count == 1
    assert resources.sidecar.cpu_mcores == pytest.approx(193.051, abs=1e-3)
    [app] = resources.workloads
    assert (app.name, app.count) == ("fortio", 1)
    assert app.cpu_mcores == pytest.approx(97.149, abs=1e-3)
    assert app.mem_mb is None


def test_a_run_window_averages_every_sample_inside_it() -> None:
    cpu = dump(CPU_ISTIO)
    start, end = at(1656279557), at(1656279557 + 900)
    resources = resources_from_dumps([cpu], start, end, "istio")
    assert resources is not None and resources.sidecar is not None
    raw = json.loads(CPU_ISTIO.read_bytes())
    proxy = next(s for s in raw if s["metric"]["container"] == "istio-proxy")
    inside = [float(v) for t, v in proxy["values"] if start.timestamp() <= t <= end.timestamp()]
    assert len(inside) == 301  # the whole dump: 15 minutes every 3 s
    assert resources.sidecar.cpu_mcores == pytest.approx(1000 * sum(inside) / len(inside), 1e-6)


def test_mesh_benchs_memory_dumps_are_refused_because_they_are_not_memory() -> None:
    # mem_*.json hold sum(rate(container_memory_working_set_bytes[2m])): bytes per second.
    with pytest.raises(ReaderError) as caught:
        dump(MEM_ISTIO)
    message = str(caught.value)
    assert "mem_istio_1000_2022-06-26T21:54:17Z.json" in message
    assert "container=fortio" in message
    assert "6,054 at 2022-06-26T21:43:47Z is not a memory level in bytes" in message
    every = sorted(MESH_BENCH.parent.glob("*/mem_*.json"))
    assert len(every) == 43  # every experiment of mesh-bench
    for path in every:
        with pytest.raises(ReaderError, match="not a memory level in bytes"):
            dump(path)


def test_a_memory_dump_in_bytes_is_read_in_mib() -> None:
    series = [
        {
            "metric": {"pod": "target-fortio-1", "container": "istio-proxy"},
            "values": [[100, str(40 * 2**20)], [103, str(44 * 2**20)]],
        }
    ]
    memory = read_prometheus(series, "working-set.json", "memory")
    resources = resources_from_dumps([memory], at(100), at(103), "istio")
    assert resources is not None and resources.sidecar is not None
    assert resources.sidecar.mem_mb == 42.0


def test_the_http_apis_answer_reads_like_promtools_output() -> None:
    raw = json.loads(CPU_ISTIO.read_bytes())
    api = {"status": "success", "data": {"resultType": "matrix", "result": raw}}
    assert read_prometheus(api, CPU_ISTIO.name).series == dump(CPU_ISTIO).series
    vector = {"status": "success", "data": {"resultType": "vector", "result": []}}
    with pytest.raises(ReaderError, match="a range query \\(matrix\\) is needed"):
        read_prometheus(vector, "x-cpu.json")


def test_the_metric_must_be_known_and_in_its_unit() -> None:
    raw = json.loads(CPU_ISTIO.read_bytes())
    with pytest.raises(ReaderError, match="say whether it holds CPU or memory"):
        read_prometheus(raw, "dump.json")
    millicores = [
        {**s, "values": [[t, str(float(v) * 1000 + 2000)] for t, v in s["values"]]} for s in raw
    ]
    with pytest.raises(ReaderError, match="is not cores"):
        read_prometheus(millicores, "cpu.json")


@pytest.mark.parametrize(
    ("mesh", "pod", "container", "namespace", "block"),
    [
        ("istio", "target-fortio-746f85d498-vv4vf", "istio-proxy", None, "sidecar"),
        ("istio", "target-fortio-746f85d498-vv4vf", "fortio", None, "workloads"),
        ("istio", "istiod-5c4d8b8c9-x2x7p", "discovery", "istio-system", "mesh_control_plane"),
        ("istio", "istio-ingressgateway-7d6d-abc", "istio-proxy", None, "ingress_gateway"),
        ("linkerd", "target-fortio-746f85d498-mqhvp", "linkerd-proxy", None, "sidecar"),
        (
            "linkerd",
            "linkerd-destination-6c7f-xyz",
            "linkerd-proxy",
            "linkerd",
            "mesh_control_plane",
        ),
        ("cilium", "cilium-rrqxm", "cilium-agent", None, "mesh_control_plane"),
        (
            "cilium",
            "cilium-operator-57fdd946d5-nw6f6",
            "cilium-operator",
            None,
            "mesh_control_plane",
        ),
        ("traefik_mesh", "traefik-mesh-proxy-vrsrx", "traefik-mesh-proxy", None, "sidecar"),
        ("nginx", "anything", "istio-proxy", None, "workloads"),
        ("istio", "target-fortio-746f85d498-vv4vf", "POD", None, "skip"),
    ],
)
def test_containers_are_told_apart_per_mesh(
    mesh: str, pod: str, container: str, namespace: str | None, block: str
) -> None:
    assert classify(pod, container, namespace, mesh) == block


def test_cilium_agents_are_the_control_plane_and_the_app_a_workload() -> None:
    cpu = dump(MESH_BENCH / "cpu_cilium_1000_2022-06-27T12:51:53Z.json")
    first = 1656333413  # 12:36:53Z, the dump's first sample
    resources = resources_from_dumps([cpu], at(first), at(first), "cilium")
    assert resources is not None and resources.mesh_control_plane is not None
    plane = resources.mesh_control_plane
    assert plane.count == 3  # cilium-rrqxm, cilium-operator-..., cilium-node-init-wbjrr
    # 0.010631163161592358 + 0.001184603934968065 + 0.00014758253630249913 cores
    assert plane.cpu_mcores == pytest.approx(11.963, abs=1e-3)
    assert resources.sidecar is None
    assert [w.name for w in resources.workloads] == ["fortio"]


def test_istios_benchmark_row_maps_onto_the_blocks() -> None:
    rows = read_istio_rows(ISTIO_ROWS.read_bytes(), ISTIO_ROWS.name)
    assert len(rows) == 35
    both = next(r for r in rows if r["Labels"] == "193ff770_qps_1000_c_16_1024_both")
    resources = resources_from_istio_row(both)
    sidecar = resources.sidecar
    assert sidecar is not None  # fortioserver_deployment_proxy 439 + fortio_deployment_proxy 316
    assert (sidecar.count, sidecar.cpu_mcores, sidecar.mem_mb) == (2, 755, 63)
    plane = resources.mesh_control_plane  # pilot_discovery 9 + pilot_proxy 6; 26 + 21 MiB
    assert plane is not None and (plane.cpu_mcores, plane.mem_mb) == (15, 47)
    telemetry = resources.mesh_telemetry  # telemetry_mixer 1081 + telemetry_proxy 36
    assert telemetry is not None and telemetry.cpu_mcores == 1117
    assert resources.ingress_gateway is not None and resources.ingress_gateway.cpu_mcores == 8
    [server] = resources.workloads  # captured 228 + uncaptured 0; 8 + 11 MiB
    assert (server.name, server.cpu_mcores, server.mem_mb) == ("fortioserver", 228, 19)


def run_at(start: str, seconds: float, **labels: str) -> PerformanceTestResult:
    return PerformanceTestResult(
        start_time=dt.datetime.fromisoformat(start), duration_s=seconds, labels=dict(labels)
    )


def test_files_go_to_the_run_they_cover_in_time() -> None:
    baseline = run_at("2022-06-26T15:32:27.217672+00:00", 900.03)
    mesh = run_at("2022-06-26T21:39:17.642179+00:00", 900.03)
    files = [
        load(CPU_ISTIO.read_bytes(), CPU_ISTIO.name),
        load((MESH_BENCH / "cpu_baseline_1000.json").read_bytes(), "cpu_baseline_1000.json"),
    ]
    lines = place([baseline, mesh], files, "istio")
    assert lines == [
        f"{CPU_ISTIO.name}: cpu of runs[1]",
        "cpu_baseline_1000.json: cpu of runs[0]",
    ]
    assert baseline.resources is not None and baseline.resources.sidecar is None
    assert mesh.resources is not None and mesh.resources.sidecar is not None


def test_a_file_that_covers_no_run_is_refused_with_both_times() -> None:
    early = run_at("2022-06-26T10:00:00+00:00", 60)
    with pytest.raises(ReaderError) as caught:
        place([early], [load(CPU_ISTIO.read_bytes(), CPU_ISTIO.name)], "istio")
    assert "covers 2022-06-26T21:39:17Z..2022-06-26T21:54:17Z, which overlaps no run" in str(
        caught.value
    )
    assert "runs[0] 2022-06-26T10:00:00Z..10:01:00Z" in str(caught.value)


def test_istio_rows_go_to_runs_by_start_time_or_by_labels() -> None:
    rows = load(ISTIO_ROWS.read_bytes(), ISTIO_ROWS.name)
    by_time = run_at("2019-07-10T17:49:32.5+00:00", 240)  # the c=16 "both" row starts 17:49:32
    by_label = run_at(
        "2030-01-01T00:00:00+00:00", 240, run_labels="193ff770_qps_1000_c_16_1024_base"
    )
    place([by_time, by_label], [rows], "istio")
    assert by_time.resources is not None and by_time.resources.sidecar is not None
    assert by_time.resources.sidecar.cpu_mcores == 755
    assert by_label.resources is not None and by_label.resources.workloads[0].cpu_mcores == 197
    with pytest.raises(ReaderError, match="no row starts when a run does"):
        place([run_at("2030-01-01T00:00:00+00:00", 1)], [rows], "istio")


def test_anything_else_is_not_a_resources_file() -> None:
    with pytest.raises(ReaderError, match="neither a Prometheus range query"):
        load(b'{"hello": 1}', "x.json")
