"""The Meshery reader against meshery-results-fortio.json (three real Meshery results).

Expected figures were read by hand from the file: fortio seconds there,
milliseconds here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from smp.errors import ReaderError
from smp.model import LoadGenerator
from smp.readers import meshery

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "samples"
MESHERY = SAMPLES / "meshery" / "meshery-results-fortio.json"
UTC = dt.UTC


def records() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(MESHERY.read_bytes())
    return loaded


def write(tmp_path: Path, doc: Any) -> bytes:
    path = tmp_path / "meshery.json"
    path.write_text(json.dumps(doc))
    return path.read_bytes()


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def test_it_converts_each_meshery_result_with_its_fortio_figures() -> None:
    baseline, linkerd_a, linkerd_b = meshery.read(MESHERY.read_bytes())
    lat = baseline.latencies_ms
    assert (lat.min, lat.average, lat.max) == pytest.approx((334.9775, 386.6328985641, 509.868292))
    assert (lat.p50, lat.p90) == pytest.approx((383.33333333, 437.36842105))
    assert (lat.p99, lat.p999) == pytest.approx((502.17102424, 509.098565224))
    # Not listed by fortio: 95 % falls (95-71.79)/(96.15-71.79) into the [400, 450) ms bucket.
    assert lat.p95 == pytest.approx(
        400 + 50 * (95 - 71.7948717948718) / (96.15384615384616 - 71.7948717948718)
    )
    assert baseline.request_count == 78
    assert baseline.actual_qps == pytest.approx(2.5838099794764338)
    assert baseline.requested_qps is None  # RequestedQPS "max"
    assert baseline.duration_s == pytest.approx(30.187978458)
    assert baseline.status_codes == {"200": 78}
    assert baseline.error_count == 0
    assert baseline.connections == 1
    assert baseline.load_generator == LoadGenerator("fortio", "dev")

    assert linkerd_a.status_codes == {"-1": 300}  # every call failed to connect
    assert linkerd_a.error_count == 300
    assert (linkerd_a.requested_qps, linkerd_a.connections) == (10.0, 100)
    assert (linkerd_a.latencies_ms.p50, linkerd_a.latencies_ms.p99) == pytest.approx(
        (1.4285714, 5.0)
    )
    assert linkerd_b.latencies_ms.p90 == pytest.approx(14.8)


def test_labels_carry_the_meshery_id_name_and_mesh() -> None:
    baseline, linkerd_a, _ = meshery.read(MESHERY.read_bytes())
    assert baseline.labels["meshery_id"] == "f9ccd668-9d26-4f70-8a51-47de5af3c502"
    assert baseline.labels["name"] == "No mesh_1650983199033"
    assert baseline.labels["mesh"] == "none"  # "mesh": null
    assert baseline.labels["performance_profile"] == "30c9382b-636f-4117-8205-10bac2d77944"
    assert baseline.labels["url"] == "https://www.facebook.com"
    assert "test_id" not in baseline.labels  # null
    assert linkerd_a.labels["mesh"] == "linkerd"
    assert linkerd_a.labels["meshery_id"] == "7d026c32-f912-49f6-8560-89aefe4fc91b"


def test_start_time_comes_from_the_runner_because_test_start_time_is_local_time() -> None:
    baseline, linkerd_a, _ = meshery.read(MESHERY.read_bytes())
    # StartTime "2022-04-26T19:56:40.358118+05:30"; test_start_time repeats 19:56:40 with a Z.
    assert baseline.start_time == dt.datetime(2022, 4, 26, 14, 26, 40, 358118, tzinfo=UTC)
    assert baseline.end_time == baseline.start_time + dt.timedelta(seconds=30.187978458)
    assert linkerd_a.start_time == dt.datetime(2022, 5, 12, 18, 17, 5, 183424, tzinfo=UTC)


def test_it_falls_back_to_test_start_time_when_the_runner_has_none(tmp_path: Path) -> None:
    doc = records()
    del doc[0]["runner_results"][0]["StartTime"]
    first = meshery.read(write(tmp_path, doc))[0]
    assert first.start_time == dt.datetime(2022, 4, 26, 19, 56, 40, 358118, tzinfo=UTC)
    assert first.end_time is None


def test_it_reads_meshery_camel_case_keys(tmp_path: Path) -> None:
    doc = [{camel(k): v for k, v in record.items()} for record in records()]
    assert "runnerResults" in doc[0] and "mesheryId" in doc[0]
    assert meshery.read(write(tmp_path, doc)) == meshery.read(MESHERY.read_bytes())


def test_it_reads_mesh_name_as_the_mesh(tmp_path: Path) -> None:
    record = records()[1]
    record["meshName"] = record.pop("mesh")
    [result] = meshery.read(write(tmp_path, record))
    assert result.labels["mesh"] == "linkerd"


def test_it_reads_a_single_result_with_runner_results_as_an_object(tmp_path: Path) -> None:
    record = records()[2]
    record["runner_results"] = record["runner_results"][0]
    [result] = meshery.read(write(tmp_path, record))
    assert result.request_count == 300
    assert result.labels["name"] == "linkerd_1652362153916"


def test_it_reads_a_page_of_results_from_the_meshery_api(tmp_path: Path) -> None:
    page = {"page": 0, "page_size": 25, "total_count": 3, "results": records()}
    assert len(meshery.read(write(tmp_path, page))) == 3


def test_it_names_the_load_generator_meshery_ran(tmp_path: Path) -> None:
    nighthawk_fortio = SAMPLES / "nighthawk" / "output_formatter.medium.fortio-noquirks.gold"
    record = records()[0]
    record["runner_results"] = [
        {**json.loads(nighthawk_fortio.read_bytes()), "load-generator": "nighthawk"}
    ]
    [result] = meshery.read(write(tmp_path, [record]))
    assert result.load_generator == LoadGenerator("nighthawk", "0.0.0")
    assert result.status_codes == {"2xx": 56}  # nighthawk's 2xx counter
    record["runner_results"][0] = {**records()[0]["runner_results"][0], "load-generator": "wrk2"}
    [result] = meshery.read(write(tmp_path, [record]))
    assert result.load_generator == LoadGenerator("wrk2", None)  # Version is fortio's
    assert result.request_count == 78


def test_it_converts_native_nighthawk_output_under_runner_results(tmp_path: Path) -> None:
    record = records()[1]
    record["runner_results"] = json.loads(
        (SAMPLES / "nighthawk" / "large-sample.json").read_bytes()
    )
    [result] = meshery.read(write(tmp_path, [record]))
    assert result.load_generator == LoadGenerator("nighthawk", "0.3.0")
    assert result.request_count == 1368
    assert result.labels["mesh"] == "linkerd"


def test_it_refuses_runner_results_it_cannot_read_and_says_why(tmp_path: Path) -> None:
    record = records()[0]
    record["runner_results"] = [{"load-generator": "wrk2", "output": "Running 30s test @ ..."}]
    with pytest.raises(ReaderError) as caught:
        meshery.read(write(tmp_path, [record]))
    message = str(caught.value)
    assert message.startswith("meshery: [0].runner_results[0] (load-generator wrk2)")
    assert "no DurationHistogram" in message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d[0]["runner_results"][0]["DurationHistogram"].update(Count={"n": 1}),
            "meshery: [0].runner_results[0].DurationHistogram.Count must be a number, got object",
        ),
        (lambda d: d[1].update(mesh=7), "meshery: [1].mesh must be a string, got number"),
        (lambda d: d[2].update(runnerResults=[]), "[2].runnerResults duplicates another key"),
        (lambda d: d[0].update(runner_results=[]), "[0].runner_results is empty"),
        (lambda d: d[0].update(runner_results=None), "[0].runner_results is missing"),
        (lambda d: d[0].update(runner_results=[5]), "[0].runner_results[0] must be an object"),
        (
            lambda d: d[0]["runner_results"][0].update(StartTime="26/04/2022"),
            "[0].runner_results[0].StartTime must be an RFC 3339 timestamp",
        ),
    ],
)
def test_it_names_the_field_and_the_rule_of_wrong_types(
    tmp_path: Path, change: Any, message: str
) -> None:
    doc = records()
    change(doc)
    with pytest.raises(ReaderError, match=re.escape(message)):
        meshery.read(write(tmp_path, doc))


def test_it_refuses_truncated_json_and_nan() -> None:
    data = MESHERY.read_bytes()
    with pytest.raises(ReaderError, match="malformed JSON"):
        meshery.read(data[:4000])
    with pytest.raises(ReaderError, match="NaN"):
        meshery.read(data.replace(b'"ActualQPS": 2.5838099794764338', b'"ActualQPS": NaN'))


def test_it_refuses_json_without_meshery_results() -> None:
    with pytest.raises(ReaderError, match="no Meshery result here"):
        meshery.read(b'[{"name": "x"}]')


def test_sniff_claims_exactly_the_meshery_sample() -> None:
    files = sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.name != "SOURCES.md")
    claimed = {str(p.relative_to(SAMPLES)) for p in files if meshery.sniff(p.read_bytes())}
    assert claimed == {"meshery/meshery-results-fortio.json"}


@pytest.mark.parametrize(
    "data", [b"", b"\xff\xfe\x00", b"[", b"[]", b'{"results": []}', b"[" * 5000]
)
def test_sniff_never_raises(data: bytes) -> None:
    assert meshery.sniff(data) is False
