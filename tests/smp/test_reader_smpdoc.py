from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from smp.consistency import check_result
from smp.errors import ReaderError
from smp.readers import smpdoc
from tests.conftest import sample_files
from tests.smp import examples

# The figures of the SMP project's own sample result (docs/assets/spec/readme/
# "service mesh performance result.yaml"): fortio seconds written under latencies_ms.
SMP_SAMPLE_YAML = b"""\
start_time: 2020-03-17T14:53:05.499893378Z
end_time: 2020-03-17T17:53:05.530905194Z
connections: 1
actual_qps: 0.9999971285438009
latencies_ms:
  min: 0.012007082
  average: 0.023581708206018594
  p50: 0.021899077590884428
  p90: 0.033029247910863514
  p99: 0.055
  max: 0.350472228
"""


def as_json(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_it_sniffs_a_result_and_a_bundle_in_json_and_yaml() -> None:
    assert smpdoc.sniff(as_json(examples.result()))
    assert smpdoc.sniff(as_json(examples.bundle()))
    assert smpdoc.sniff(yaml.safe_dump(examples.bundle()).encode())
    assert smpdoc.sniff(SMP_SAMPLE_YAML)


def test_it_does_not_sniff_documents_without_latencies() -> None:
    assert not smpdoc.sniff(b'{"runs": [{"p50": 1}]}')
    assert not smpdoc.sniff(b"latencies_ms is mentioned in this sentence")
    assert not smpdoc.sniff(b'{"latencies_ms": 3}')
    assert not smpdoc.sniff(b"\xff\xfe latencies_ms \x00")


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_it_claims_no_native_sample_and_never_raises_while_sniffing(path: Path) -> None:
    assert smpdoc.sniff(path.read_bytes()) is False


def test_it_reads_a_single_result() -> None:
    [result] = smpdoc.read(as_json(examples.result()))
    assert result.latencies_ms.p99 == 3.0
    assert result.load_generator is not None
    assert result.load_generator.name == "fortio"


def test_it_reads_a_bundles_runs_and_fills_in_their_profile() -> None:
    doc = examples.bundle()
    del doc["runs"][1]["profile_id"]
    runs = smpdoc.read(as_json(doc))
    assert [r.role for r in runs] == ["baseline", "mesh"]
    assert [r.profile_id for r in runs] == ["http-100", "http-100"]


def test_read_bundle_returns_the_whole_bundle() -> None:
    bundle = smpdoc.read_bundle(yaml.safe_dump(examples.bundle()).encode())
    assert bundle.mesh_config.mesh_type == "istio"
    assert bundle.environment.node[0].count == 3
    assert len(bundle.runs) == 2


def test_read_bundle_refuses_a_single_result() -> None:
    with pytest.raises(ReaderError, match="single result, not a bundle"):
        smpdoc.read_bundle(as_json(examples.result()))


def test_it_lists_every_schema_problem_in_one_error() -> None:
    doc = examples.bundle()
    doc["runs"][0]["latencies_ms"]["p99"] = -1
    doc["runs"][1]["role"] = "canary"
    with pytest.raises(ReaderError) as caught:
        smpdoc.read(as_json(doc))
    assert str(caught.value) == (
        "smp: runs[0].latencies_ms.p99: -1 is less than the minimum of 0 [minimum]; "
        "runs[1].role: 'canary' is not one of ['baseline', 'mesh'] [enum]"
    )


def test_it_reports_malformed_input_as_a_reader_error() -> None:
    with pytest.raises(ReaderError, match="smp: malformed YAML"):
        smpdoc.read(b"latencies_ms: [unclosed\n")
    with pytest.raises(ReaderError, match="aliases"):
        smpdoc.read(b"a: &x {p50: 1}\nlatencies_ms: *x\n")


def test_the_smp_projects_sample_reads_but_its_seconds_are_caught_by_consistency() -> None:
    [result] = smpdoc.read(SMP_SAMPLE_YAML)
    assert result.latencies_ms.p50 == pytest.approx(0.0219, abs=1e-4)
    problems = check_result(result)
    assert [(p.path, p.rule) for p in problems] == [("latencies_ms", "latency-looks-like-seconds")]
    assert "multiply by 1000?" in problems[0].message
