"""External load generators for the local mode: wrk, wrk2, hey and fortio, when installed.

Each is run as a child process (stopped with everything else on Ctrl-C) and
its output is read by the ``smp`` reader of the same name, then carried
verbatim in the run's ``raw`` field. How each is invoked:

=======  ==============================================================  =============
tool     command                                                         load model
=======  ==============================================================  =============
wrk      ``wrk -t T -c C -d Ds --latency URL``                           closed loop
wrk2     ``wrk2 -t T -c C -d Ds -R RATE --latency URL``                  open loop, CO corrected
hey      ``hey -z Ds -c C -q RATE/C URL``                                rate-limited workers
fortio   ``fortio load -json FILE -qps RATE -c C -t Ds URL``             rate-limited, CO corrected
=======  ==============================================================  =============

wrk has no rate option: it sends as fast as the system answers, so its run
has no ``requested_qps`` and its latencies suffer coordinated omission (the
reader says so). ``T`` is ``min(C, CPU count)``.
"""

from __future__ import annotations

import math
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import click

from runner.processes import Cleanup, find_binary, start_process
from smp.errors import ReaderError
from smp.model import PerformanceTestResult, RawOutput
from smp.readers import get_reader

TOOLS: tuple[str, ...] = ("wrk", "wrk2", "hey", "fortio")
PACKAGES = {"wrk": "wrk", "hey": "hey"}
"""Debian packages of the tools that have one (wrk2 and fortio must be installed by hand)."""
HINTS = {
    "wrk2": "wrk2 is not packaged by Debian: build it from github.com/giltene/wrk2",
    "fortio": "fortio is not packaged by Debian: see github.com/fortio/fortio/releases",
}
EXTRA_WAIT_S = 30.0
"""How long past its duration a tool may take before it is stopped."""
RAW_MAX_CHARS = 5_000_000


@dataclass(frozen=True)
class ToolRun:
    result: PerformanceTestResult
    started: float
    """time.monotonic() when the tool was started."""
    finished: float


def check_tool(tool: str) -> str:
    """The tool's path, or a ClickException saying how to install it."""
    if tool in HINTS:
        try:
            return find_binary(tool)
        except click.ClickException:
            raise click.ClickException(f"{tool} is not installed; {HINTS[tool]}") from None
    return find_binary(tool, PACKAGES.get(tool))


def tool_argv(
    tool: str, binary: str, url: str, rate: float, connections: int, seconds: int, out: Path
) -> list[str]:
    threads = str(max(1, min(connections, os.cpu_count() or 1)))
    if tool == "wrk":
        return [
            binary,
            "-t",
            threads,
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            url,
        ]
    if tool == "wrk2":
        return [
            binary, "-t", threads, "-c", str(connections), "-d", f"{seconds}s",
            "-R", f"{rate:g}", "--latency", url,
        ]  # fmt: skip
    if tool == "hey":
        per_worker = rate / connections
        return [binary, "-z", f"{seconds}s", "-c", str(connections), "-q", f"{per_worker:g}", url]
    if tool == "fortio":
        return [
            binary, "load", "-json", str(out), "-qps", f"{rate:g}", "-c", str(connections),
            "-t", f"{seconds}s", url,
        ]  # fmt: skip
    raise ValueError(f"unknown load generator {tool!r}")


def run_tool(
    tool: str,
    *,
    url: str,
    rate: float,
    connections: int,
    duration_s: float,
    workdir: Path,
    cleanup: Cleanup,
    name: str,
) -> ToolRun:
    """Run ``tool`` against ``url`` and read its output into an SMP result."""
    binary = check_tool(tool)
    seconds = max(1, math.ceil(duration_s))
    out = workdir / f"{name}.json"
    argv = tool_argv(tool, binary, url, rate, connections, seconds, out)
    started = time.monotonic()
    process = start_process(name, argv, workdir, stderr_separately=True)
    cleanup.add(process.stop)
    try:
        process.popen.wait(seconds + EXTRA_WAIT_S)
    except subprocess.TimeoutExpired:
        process.stop()
        raise click.ClickException(
            f"{tool} did not finish within {seconds + EXTRA_WAIT_S:g} s"
        ) from None
    finished = time.monotonic()
    if process.popen.returncode != 0:
        raise click.ClickException(
            f"{tool} exited with status {process.popen.returncode}:\n{process.log_tail()}"
        )
    output = out if tool == "fortio" else process.log_path
    text = output.read_text(errors="replace")
    try:
        results = get_reader(tool).read(text.encode())
    except ReaderError as exc:
        raise click.ClickException(f"cannot read {tool}'s output: {exc}") from None
    result = results[0]
    if tool != "wrk":
        result.requested_qps = rate
    result.connections = connections
    if len(text) <= RAW_MAX_CHARS:
        result.raw = RawOutput(format=tool, content=text)
    return ToolRun(result, started, finished)
