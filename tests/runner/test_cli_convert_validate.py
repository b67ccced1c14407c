"""The command-line contract of `smp-runner convert` and `validate`, over every shared sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from runner.cli import cli

from ..conftest import SAMPLES, sample_files

# The sample files that are not a load generator's result, or not one we can use;
# each must be refused with a clear one-line reason (exit 2). Everything else converts.
REFUSED = {
    "k6/script.js",  # a k6 script, not its output
    "nighthawk/output_formatter.medium.proto.gold",  # not strict JSON
}


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _convert(*args: str) -> Any:
    return CliRunner().invoke(cli, ["convert", *args])


@pytest.mark.parametrize("path", sample_files(), ids=_id)
def test_every_sample_converts_or_is_refused_in_one_clear_line(path: Path) -> None:
    result = _convert(str(path))
    if _id(path) in REFUSED or result.exit_code == 2:
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"{path}: "), lines[0]
        assert _id(path) not in _MUST_CONVERT, f"{_id(path)} should convert: {lines[0]}"
        return
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    docs = payload if isinstance(payload, list) else [payload]
    assert docs
    for doc in docs:
        latencies = doc["latencies_ms"]
        # Every source has a central figure and a tail figure; which ones varies
        # (wrk without --latency has average and max, Istio's CSV p50 and p99).
        assert {"p50", "average"} & set(latencies), latencies
        assert {"p99", "max"} & set(latencies), latencies
        assert all(isinstance(v, float | int) and v >= 0 for v in latencies.values())
        assert doc["load_generator"]["name"]
        assert "actual_qps" in doc
        assert "start_time" in doc or "duration_s" in doc


# Formats the issue promises to read: these must never be refused.
_MUST_CONVERT = {
    "fortio/fortio_1.57.3_http_iter8.json",
    "fortio/fortio_0.8.1_http_golden.json",
    "fortio/fortio_0.9.0_grpc_ping_readme.json",
    "fortio/nighthawk_samples_fortio_large.json",
    "fortio/nighthawk_transform_fortio_early.json",
    "nighthawk/big_sample.json",
    "nighthawk/full_sample.json",
    "nighthawk/large-sample.json",
    "meshery/meshery-results-fortio.json",
    "wrk/wrk_basic.txt",
    "wrk/wrk_latency.txt",
    "wrk2/wrk2_latency.txt",
    "hey/hey_summary.txt",
    "hey/hey_output.csv",
    "hey/hey_duration_rate.txt",
    "k6/summary_export.json",
    "k6/handle_summary_data.json",
}


def test_convert_reports_milliseconds_for_fortio_seconds() -> None:
    result = _convert(str(SAMPLES / "fortio" / "fortio_0.8.1_http_golden.json"))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["request_count"] == 12000
    # fortio writes seconds; every latency here is well above a microsecond in ms
    assert doc["latencies_ms"]["p50"] > 0.05
    assert doc["load_generator"]["name"] == "fortio"


def test_convert_honours_an_explicit_format() -> None:
    wrk = SAMPLES / "wrk" / "wrk_latency.txt"
    assert _convert(str(wrk), "--format", "wrk").exit_code == 0
    wrong = _convert(str(wrk), "--format", "fortio")
    assert wrong.exit_code == 2
    assert "fortio" in wrong.stderr


def test_convert_names_an_unknown_format_and_lists_the_known_ones(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    target.write_text("{}")
    result = _convert(str(target), "--format", "nope")
    assert result.exit_code == 2
    assert "unknown format 'nope'" in result.stderr and "fortio" in result.stderr


def test_convert_refuses_garbage_in_one_line(tmp_path: Path) -> None:
    target = tmp_path / "garbage.bin"
    target.write_bytes(b"\x00\x01 not a result")
    result = _convert(str(target))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"{target}: ")
    assert "\n" not in result.stderr.strip()


def test_convert_reads_standard_input() -> None:
    data = (SAMPLES / "wrk" / "wrk_basic.txt").read_bytes()
    result = CliRunner().invoke(cli, ["convert", "-"], input=data)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["load_generator"]["name"] == "wrk"


def test_validate_accepts_a_converted_result(tmp_path: Path) -> None:
    converted = _convert(str(SAMPLES / "fortio" / "fortio_1.57.3_http_iter8.json"))
    target = tmp_path / "result.json"
    target.write_text(converted.stdout)
    result = CliRunner().invoke(cli, ["validate", str(target)])
    assert result.exit_code == 0, result.output
    assert "valid smp result" in result.stdout


def test_validate_lists_every_problem_by_path(tmp_path: Path) -> None:
    doc = {
        "latencies_ms": {"min": 2.0, "p50": 1.0, "p90": 0.5, "p99": 3.0, "max": 4.0},
        "actual_qps": -5,
    }
    target = tmp_path / "bad.json"
    target.write_text(json.dumps(doc))
    result = CliRunner().invoke(cli, ["validate", str(target)])
    assert result.exit_code == 1, result.output
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith("actual_qps: ") for line in lines), lines
    assert len(lines) >= 1


def test_validate_checks_percentile_order_in_a_bundle(tmp_path: Path) -> None:
    from tests.ingest.conftest import make_bundle

    doc = make_bundle()
    doc["runs"][1]["latencies_ms"]["p90"] = 9.0
    target = tmp_path / "bundle.json"
    target.write_text(json.dumps(doc))
    result = CliRunner().invoke(cli, ["validate", str(target)])
    assert result.exit_code == 1
    assert "runs[1].latencies_ms" in result.stdout
    assert "[percentiles-ordered]" in result.stdout


def test_validate_passes_a_good_bundle(tmp_path: Path) -> None:
    from tests.ingest.conftest import make_bundle

    target = tmp_path / "bundle.yaml"
    import yaml

    target.write_text(yaml.safe_dump(make_bundle()))
    result = CliRunner().invoke(cli, ["validate", str(target)])
    assert result.exit_code == 0, result.output
    assert "valid smp bundle (2 runs)" in result.stdout


def test_formats_lists_every_reader() -> None:
    result = CliRunner().invoke(cli, ["formats"])
    assert result.exit_code == 0
    names = {line.split()[0] for line in result.stdout.splitlines()}
    for name in ("fortio", "nighthawk", "wrk", "wrk2", "hey", "oha", "k6", "meshery", "smp"):
        assert name in names


def test_help_is_instant_and_does_not_import_django_or_kubernetes() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from runner.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('django' in sys.modules, 'kubernetes' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "False False"
