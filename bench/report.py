"""Writing benchmark figures into docs/benchmarks.md, one marked section per bench."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Every figure here is written by a script in `bench/` (`make bench` runs them all), each next\n"
    "to a baseline measured in the same run, so the ratio means something on any machine.\n"
    "None of them is a timed assertion in the test suite.\n"
)


def machine_line() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"Machine: {os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
        f"{dt.date.today().isoformat()}."
    )


def write_section(key: str, title: str, lines: list[str]) -> None:
    """Replace (or append) the section between ``<!-- bench:KEY:start/end -->`` markers."""
    start, end = f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"
    text = DOC.read_text() if DOC.exists() else HEADER
    block = "\n".join([start, f"## {title}", "", *lines, end])
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)
