"""A real Prometheus for the tests, over series the test writes.

The series are written as OpenMetrics text, turned into TSDB blocks by
``promtool tsdb create-blocks-from openmetrics`` and served by ``prometheus``
on a free loopback port with no scrape targets, so every answer comes from the
samples the test wrote, evaluated by the real PromQL engine. Both programs come
from Debian's ``prometheus`` package (scripts/ensure-system-packages.sh); a
missing one fails the tests that need it rather than skipping them.

Timestamps are written in seconds with millisecond precision (what the TSDB
keeps), so a test's own arithmetic sees exactly the times Prometheus sees.
Retention is set far beyond the data: blocks are deleted by their age relative
to the newest block, and the tests use fixed dates (2022, 2024).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import httpx
import pytest

Kind = Literal["counter", "gauge"]
READY_TIMEOUT_S = 30.0
PROMTOOL_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
HINT = "apt-get install prometheus (or: bash scripts/ensure-system-packages.sh)"


def binary(name: str) -> str:
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None
    )
    if found is None:
        pytest.fail(f"{name} is not installed: {HINT}")
    return found


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class OpenMetrics:
    """Series grouped by metric family, rendered as one OpenMetrics document."""

    def __init__(self) -> None:
        self._families: dict[str, tuple[Kind, list[str]]] = {}

    def add(
        self,
        metric: str,
        kind: Kind,
        labels: Mapping[str, str],
        samples: Iterable[tuple[float, float]],
    ) -> None:
        """One series: ``samples`` are (unix seconds, value), oldest first.

        A counter is named with its ``_total`` suffix, as PromQL sees it; the
        family line drops the suffix, as OpenMetrics wants.
        """
        family = metric.removesuffix("_total") if kind == "counter" else metric
        known, lines = self._families.setdefault(family, (kind, []))
        assert known == kind, f"{family} is already a {known}"
        rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
        last = float("-inf")
        for at, value in samples:
            assert at > last, f"{metric}{{{rendered}}}: samples out of order at {at}"
            last = at
            lines.append(f"{metric}{{{rendered}}} {value!r} {at:.3f}")

    def text(self) -> str:
        out: list[str] = []
        for family, (kind, lines) in self._families.items():
            out.append(f"# TYPE {family} {kind}")
            out.extend(lines)
        out.append("# EOF")
        return "\n".join(out) + "\n"


def create_blocks(text: str, directory: Path) -> None:
    """TSDB blocks in ``directory`` holding the samples of ``text`` (OpenMetrics)."""
    directory.mkdir(parents=True, exist_ok=True)
    source = directory.parent / f"{directory.name}.om.txt"
    source.write_text(text)
    done = subprocess.run(
        [binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", "--quiet",
         str(source), str(directory)],
        capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT_S, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"promtool failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def prometheus_server(storage: Path) -> Iterator[str]:
    """A Prometheus serving the blocks in ``storage``; yields its base URL.

    Loopback only, no scrape targets. Stopped (terminate, then kill after
    ``STOP_TIMEOUT_S``) and waited for on the way out, whatever happened.
    """
    config = storage.parent / f"{storage.name}.prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n")  # and no scrape_configs: no targets
    log_path = storage.parent / f"{storage.name}.prometheus.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={storage}",
                "--storage.tsdb.retention.time=100y",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"prometheus exited with {process.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"prometheus not ready after {READY_TIMEOUT_S:g} s")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def query(url: str, promql: str, at: float) -> list[dict[str, object]]:
    """The result list of an instant query (for tests that ask Prometheus directly)."""
    response = httpx.get(
        f"{url}/api/v1/query", params={"query": promql, "time": f"{at:.3f}"}, timeout=30.0
    )
    payload = response.json()
    assert payload["status"] == "success", payload
    result: list[dict[str, object]] = payload["data"]["result"]
    return result
