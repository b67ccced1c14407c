"""istio-csv reader: the istio/tools benchmark CSV, microseconds, resources, bad cells."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from smp.errors import ReaderError
from smp.readers import istio_csv

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "samples"
BENCHMARK = SAMPLES / "istio-tools" / "benchmark.csv"

FULL_HEADER = (
    "StartTime,ActualDuration,Labels,NumThreads,RequestedQPS,ActualQPS,RunType,"
    "min,p50,p75,p90,p99,p999,max,errorPercent,Payload,"
    "cpu_mili_avg_istio_proxy_fortioclient,cpu_mili_avg_istio_proxy_fortioserver,"
    "cpu_mili_max_istio_proxy_fortioserver,mem_Mi_avg_istio_proxy_fortioclient,"
    "cpu_mili_avg_pilot_discovery,mem_MB_avg_pilot_discovery,"
    "cpu_mili_avg_fortioserver_deployment_captured,mem_Mi_avg_fortioserver_deployment_captured,"
    "cpu_mili_avg_telemetry_mixer,cpu_mili_avg_something_else"
)
FULL_ROW = (
    "2021-01-02T03:04:05Z,60,abc_qps_max_c_4_1024_v2-nullvm_serveronly,4,99999999,1234.6,HTTP,"
    "150,800,900,1000,2500,4000,9000,0.5,1024,"
    "100,200,300,50,40,120,30,20,10,7"
)


def claimed_by(sniff: Callable[[bytes], bool]) -> set[str]:
    return {
        path.relative_to(SAMPLES).as_posix()
        for path in sorted(SAMPLES.rglob("*"))
        if path.is_file() and sniff(path.read_bytes())
    }


def write(tmp_path: Path, *lines: str) -> bytes:
    path = tmp_path / "benchmark.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path.read_bytes()


# --- the real sample ----------------------------------------------------------------------


def test_it_reads_one_result_per_benchmark_row() -> None:
    results = istio_csv.read(BENCHMARK.read_bytes())
    assert len(results) == 82
    assert all(r.load_generator is not None for r in results)
    assert {r.load_generator.name for r in results if r.load_generator} == {"fortio"}


def test_it_converts_istio_microseconds_to_milliseconds() -> None:
    first = istio_csv.read(BENCHMARK.read_bytes())[0]
    # "...,8,1000,2241,2839,3363,..." -> NumThreads, ActualQPS, p50, p90, p99
    assert first.latencies_ms.p50 == pytest.approx(2.241)
    assert first.latencies_ms.p90 == pytest.approx(2.839)
    assert first.latencies_ms.p99 == pytest.approx(3.363)
    assert first.latencies_ms.p999 is None  # not a column of this CSV
    assert first.actual_qps == pytest.approx(1000)
    assert first.connections == 8
    assert first.duration_s == pytest.approx(240)
    assert first.requested_qps is None  # no RequestedQPS column
    assert first.start_time == dt.datetime(2020, 8, 12, 8, 44, 44, 445810, tzinfo=dt.UTC)


def test_every_row_matches_an_independent_read_of_the_csv() -> None:
    with BENCHMARK.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    results = istio_csv.read(BENCHMARK.read_bytes())
    for row, result in zip(rows, results, strict=True):
        assert result.latencies_ms.p50 == pytest.approx(int(row["p50"]) / 1000)
        assert result.latencies_ms.p99 == pytest.approx(int(row["p99"]) / 1000)
        assert result.actual_qps == pytest.approx(float(row["ActualQPS"]))
        assert result.connections == int(row["NumThreads"])
        assert result.labels["fortio.labels"] == row["Labels"]


def test_it_sums_the_client_and_server_sidecars() -> None:
    resources = istio_csv.read(BENCHMARK.read_bytes())[0].resources
    assert resources is not None and resources.sidecar is not None
    assert resources.sidecar.count == 2
    assert resources.sidecar.cpu_mcores == pytest.approx(277.0500325408092 + 236.00727172688872)
    assert resources.sidecar.mem_mb == pytest.approx(70.309375 + 103.787890625)


def test_it_keeps_the_ingress_gateway_proxy_apart_from_the_sidecars() -> None:
    resources = istio_csv.read(BENCHMARK.read_bytes())[0].resources
    assert resources is not None and resources.ingress_gateway is not None
    assert resources.ingress_gateway.count == 1
    assert resources.ingress_gateway.cpu_mcores == pytest.approx(13.252064182799195)
    assert resources.ingress_gateway.mem_mb == pytest.approx(91.109375)
    assert resources.mesh_control_plane is None  # no pilot/istiod column in this CSV


def test_it_sets_the_role_from_the_runner_sidecar_mode() -> None:
    results = istio_csv.read(BENCHMARK.read_bytes())
    baseline = results[1]  # ff93ac4f_qps_10_c_16_1024_none_mtls_baseline
    assert baseline.role == "baseline"
    assert baseline.labels["istio.sidecar_mode"] == "baseline"
    assert baseline.latencies_ms.p50 == pytest.approx(0.517)
    assert results[0].role == "mesh"
    assert sum(r.role == "baseline" for r in results) == 24
    assert sum(r.role == "mesh" for r in results) == 58


# --- other columns the runner can write ----------------------------------------------------


def test_it_maps_every_known_column(tmp_path: Path) -> None:
    (result,) = istio_csv.read(write(tmp_path, FULL_HEADER, FULL_ROW))
    latencies = result.latencies_ms
    assert (latencies.min, latencies.p50, latencies.p90) == (0.15, 0.8, 1.0)
    assert (latencies.p99, latencies.p999, latencies.max) == (2.5, 4.0, 9.0)
    assert latencies.p95 is None
    assert result.requested_qps is None  # 99999999 is the runner's "max"
    assert result.labels["istio.requested_qps"] == "max"
    assert result.actual_qps == pytest.approx(1234.6)
    assert result.protocol == "http"
    assert result.role == "mesh"
    assert result.labels["istio.error_percent"] == "0.5"
    assert result.labels["istio.payload"] == "1024"
    assert result.labels["istio.cpu_mili_avg_something_else"] == "7"


def test_it_maps_control_plane_telemetry_and_workload_columns(tmp_path: Path) -> None:
    (result,) = istio_csv.read(write(tmp_path, FULL_HEADER, FULL_ROW))
    resources = result.resources
    assert resources is not None
    assert resources.sidecar is not None
    assert (resources.sidecar.count, resources.sidecar.cpu_mcores) == (2, 300.0)  # avg only
    assert resources.sidecar.mem_mb == 50.0
    assert resources.mesh_control_plane is not None
    assert resources.mesh_control_plane.cpu_mcores == 40.0
    assert resources.mesh_control_plane.mem_mb == 120.0  # mem_MB is MiB too
    assert resources.mesh_telemetry is not None and resources.mesh_telemetry.cpu_mcores == 10.0
    (workload,) = resources.workloads
    assert (workload.name, workload.cpu_mcores, workload.mem_mb) == (
        "fortioserver/captured",
        30,
        20,
    )


def test_it_reads_a_numeric_requested_qps(tmp_path: Path) -> None:
    row = FULL_ROW.replace(",99999999,", ",1000,")
    (result,) = istio_csv.read(write(tmp_path, FULL_HEADER, row))
    assert result.requested_qps == 1000
    assert "istio.requested_qps" not in result.labels


def test_it_reads_the_runner_dash_as_absent(tmp_path: Path) -> None:
    row = FULL_ROW.replace(",150,800,", ",-,800,")
    (result,) = istio_csv.read(write(tmp_path, FULL_HEADER, row))
    assert result.latencies_ms.min is None
    assert result.latencies_ms.p50 == 0.8


def test_it_skips_blank_lines(tmp_path: Path) -> None:
    results = istio_csv.read(write(tmp_path, FULL_HEADER, "", FULL_ROW, ",,,", FULL_ROW))
    assert len(results) == 2


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (",1000,2500,", ",,2500,", r"line 2, column 'p90': the cell is empty"),
        (",1234.6,", ",fast,", r"line 2, column 'ActualQPS': 'fast' is not a number"),
        (",1234.6,", ",-,", r"line 2, column 'ActualQPS': '-' is not a number"),
        (",4,99999999,", ",4.5,99999999,", r"line 2, column 'NumThreads': must be whole"),
        ("2021-01-02T03:04:05Z", "yesterday", r"line 2, column 'StartTime': 'yesterday'"),
        (",100,200,300,", ",-100,200,300,", r"column 'cpu_mili_avg_istio_proxy_fortioclient'"),
        (",150,", ",inf,", r"column 'min': 'inf' must be a finite number"),
        (",9000,0.5,", ",9000,0.5,extra,", r"line 2: 27 cells, header has 26"),
    ],
)
def test_it_names_the_row_and_column_of_a_bad_cell(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in FULL_ROW
    with pytest.raises(ReaderError, match=message):
        istio_csv.read(write(tmp_path, FULL_HEADER, FULL_ROW.replace(old, new, 1)))


def test_it_counts_lines_from_the_header_in_errors() -> None:
    lines = BENCHMARK.read_text().splitlines()
    lines[5] = lines[5].replace(",240,", ",,", 1)
    with pytest.raises(ReaderError, match=r"istio-csv: line 6, column 'ActualDuration'"):
        istio_csv.read("\n".join(lines).encode())


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("StartTime,Labels,p50", r"header lacks column\(s\) ActualQPS, NumThreads"),
        ("Labels,ActualQPS,NumThreads", r"header has no latency column"),
        ("Labels,ActualQPS,NumThreads,p50,p50", r"names a column twice"),
    ],
)
def test_it_explains_a_bad_header(tmp_path: Path, header: str, message: str) -> None:
    with pytest.raises(ReaderError, match=message):
        istio_csv.read(write(tmp_path, header, "x,1,2,3"))


@pytest.mark.parametrize("data", [b"", b"\xff\xfe", b"Labels,ActualQPS,NumThreads,p50\n"])
def test_junk_raises_reader_errors_only(data: bytes) -> None:
    with pytest.raises(ReaderError):
        istio_csv.read(data)


def test_a_truncated_last_row_is_an_error() -> None:
    data = BENCHMARK.read_bytes()
    with pytest.raises(ReaderError, match=r"line 83: \d+ cells, header has 14"):
        istio_csv.read(data[: data.rindex(b",")])


# --- sniffing -----------------------------------------------------------------------------


def test_istio_csv_sniff_claims_exactly_the_benchmark_csv() -> None:
    assert claimed_by(istio_csv.sniff) == {"istio-tools/benchmark.csv"}


@pytest.mark.parametrize("data", [b"", b"\xff\xfe", b"Labels", b"\x00" * 10])
def test_istio_csv_sniff_never_raises(data: bytes) -> None:
    assert istio_csv.sniff(data) is False
