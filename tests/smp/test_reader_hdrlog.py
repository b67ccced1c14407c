from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogWriter

from smp.consistency import check_result
from smp.errors import ReaderError
from smp.histogram import total_count
from smp.readers import hdrlog
from tests.conftest import SAMPLES

LOGS = SAMPLES / "hdrhistogram"
JHICCUP = LOGS / "jHiccup-2.0.7S.logV2.hlog"
TAGGED = LOGS / "tagged-Log.logV2.hlog"


def interval_lines(path: Path, tag: str | None = None) -> list[list[str]]:
    """The interval lines' fields, as written in the log (tag stripped)."""
    out = []
    for line in path.read_text().splitlines():
        if not line or line.startswith(("#", '"')):
            continue
        line_tag = None
        if line.startswith("Tag="):
            line_tag, _, line = line[4:].partition(",")
        if line_tag == tag:
            out.append(line.split(","))
    return out


def merged_with_hdrh(path: Path, tag: str | None = None) -> HdrHistogram:
    """Independent figures: decode every interval with hdrh and add them up."""
    histograms = [HdrHistogram.decode(fields[3]) for fields in interval_lines(path, tag)]
    first = histograms[0]
    total = HdrHistogram(
        first.lowest_trackable_value, first.highest_trackable_value, first.significant_figures
    )
    for histogram in histograms:
        total.add(histogram)
    return total


@pytest.mark.parametrize("path", sorted(LOGS.glob("*.hlog")), ids=lambda p: p.name)
def test_it_sniffs_every_sample_log(path: Path) -> None:
    assert hdrlog.sniff(path.read_bytes())


def test_it_does_not_sniff_other_formats() -> None:
    assert not hdrlog.sniff((SAMPLES / "fortio" / "fortio_0.8.1_http_golden.json").read_bytes())
    assert not hdrlog.sniff(b'{"latencies_ms": {"p50": 1}}')
    assert not hdrlog.sniff(b"\x00\xff")


def test_it_merges_every_jhiccup_interval_into_one_result() -> None:
    [result] = hdrlog.read(JHICCUP.read_bytes())
    expected = merged_with_hdrh(JHICCUP)
    # 48761 is also the total the HdrHistogram_py test suite asserts for this log.
    assert result.request_count == expected.get_total_count() == 48761
    for field, q in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
        # jHiccup records nanoseconds: the log's max column is the histogram max / 1e6.
        assert getattr(result.latencies_ms, field) == expected.get_value_at_percentile(q) / 1e6
    assert result.latencies_ms.max == expected.get_max_value() / 1e6
    largest_max_column = max(float(fields[2]) for fields in interval_lines(JHICCUP))
    assert largest_max_column == 1803.551
    assert result.latencies_ms.max == pytest.approx(largest_max_column, abs=0.001)


def test_it_takes_duration_and_times_from_the_intervals() -> None:
    [result] = hdrlog.read(JHICCUP.read_bytes())
    lines = interval_lines(JHICCUP)
    first_start = float(lines[0][0])  # 0.127 s after the log's StartTime 1441812279.474
    last_end = float(lines[-1][0]) + float(lines[-1][1])  # 61.131 + 1.000
    assert result.duration_s == pytest.approx(last_end - first_start)
    assert result.duration_s == pytest.approx(62.004)
    assert result.actual_qps == pytest.approx(48761 / 62.004)
    assert result.start_time == dt.datetime(2015, 9, 9, 15, 24, 39, 601000, tzinfo=dt.UTC)
    assert result.end_time == dt.datetime(2015, 9, 9, 15, 25, 41, 605000, tzinfo=dt.UTC)


def test_it_keeps_a_histogram_of_at_most_200_buckets_holding_every_value() -> None:
    [result] = hdrlog.read(JHICCUP.read_bytes())
    assert 0 < len(result.histogram) <= hdrlog.MAX_BUCKETS
    assert total_count(result.histogram) == 48761
    assert result.load_generator is not None
    assert result.load_generator.name == "hdrhistogram-log"
    assert result.labels["hdr_value_unit"] == "ns"


def test_the_jhiccup_result_is_consistent() -> None:
    [result] = hdrlog.read(JHICCUP.read_bytes())
    assert check_result(result) == []


def test_a_tagged_log_gives_one_result_per_tag_untagged_first() -> None:
    untagged, tagged = hdrlog.read(TAGGED.read_bytes())
    assert "hdr_tag" not in untagged.labels
    assert tagged.labels["hdr_tag"] == "A"
    # The sample duplicates every untagged interval with Tag=A; the HdrHistogram_py
    # suite asserts 32290 values in total.
    assert untagged.request_count == tagged.request_count == 32290 // 2
    assert untagged.latencies_ms == tagged.latencies_ms
    expected = merged_with_hdrh(TAGGED, "A")
    assert tagged.latencies_ms.p99 == expected.get_value_at_percentile(99) / 1e6


def test_it_refuses_the_v1_encoded_log_naming_the_line() -> None:
    with pytest.raises(
        ReaderError, match=r"hdrlog: line 4: the HDR histogram's encoding is V1 compressed"
    ):
        hdrlog.read((LOGS / "raphael.hlog").read_bytes())


def test_it_names_the_line_of_a_malformed_interval() -> None:
    data = JHICCUP.read_bytes() + b"62.131,1.000,not-a-number,HISTFAAAAEV4\n"
    with pytest.raises(ReaderError, match="line 67: interval max 'not-a-number' is not a number"):
        hdrlog.read(data)
    truncated = JHICCUP.read_bytes() + b"62.131,1.000,1.0,HISTFAAAAEV4\n"
    with pytest.raises(ReaderError, match=r"line 67: the V2 .* is corrupt or truncated"):
        hdrlog.read(truncated)


def test_it_refuses_a_log_without_intervals() -> None:
    with pytest.raises(ReaderError, match="no interval histograms"):
        hdrlog.read(b"#[Histogram log format version 1.2]\n")


def written_log(values_us: list[int], header: str = "", ratio: float = 1000.0) -> bytes:
    """A log written by hdrh's own writer: microsecond values, max column in ms."""
    buffer = io.StringIO()
    buffer.write(header)
    writer = HistogramLogWriter(buffer)
    writer.output_log_format_version()
    writer.output_legend()
    histogram = HdrHistogram(1, 60_000_000, 3)
    for value in values_us:
        histogram.record_value(value)
    writer.output_interval_histogram(histogram, 10.0, 15.0, max_value_unit_ratio=ratio)
    return buffer.getvalue().encode()


def test_it_infers_microseconds_from_the_max_column() -> None:
    [result] = hdrlog.read(written_log([1500, 2500, 40_000]))
    assert result.labels["hdr_value_unit"] == "us"
    assert result.latencies_ms.min == 1.5
    assert result.latencies_ms.max == pytest.approx(40.0, rel=1e-3)
    assert result.duration_s == 5.0
    assert result.start_time is None  # relative timestamps and no StartTime header


def test_a_max_value_divisor_header_sets_the_unit() -> None:
    data = written_log([1500, 2500, 40_000], header="#[MaxValueDivisor: 1000.000]\n", ratio=1.0)
    [result] = hdrlog.read(data)
    assert result.labels["hdr_value_unit"] == "us"
    assert result.latencies_ms.min == 1.5


def test_it_refuses_a_timestamp_out_of_range() -> None:
    line = interval_lines(JHICCUP)[0]
    data = f"#[BaseTime: 1e15 (seconds since epoch)]\n{','.join(line)}\n".encode()
    with pytest.raises(ReaderError, match="out of range"):
        hdrlog.read(data)
