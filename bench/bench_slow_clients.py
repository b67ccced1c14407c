"""/healthz latency while slow clients hold connections, behind the deployment's proxy.

The production layout on loopback: gunicorn (3 sync workers, DEBUG off) behind Debian's
nginx running deploy/k8s/nginx.conf.template. /healthz is requested one at a time for
``--seconds`` with no slow client (the baseline, same run), then while ``--slow``
clients each send a request head one header line a second and never finish it.

Usage: .venv/bin/python -m bench.bench_slow_clients [--slow 50] [--seconds 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from bench.common import bench_env, buffering_proxy, gunicorn, slow_clients
from bench.report import machine_line, write_section


def latencies(base: str, seconds: float) -> list[float]:
    out = []
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            client.get(f"{base}/healthz").raise_for_status()
            out.append(time.perf_counter() - start)
            time.sleep(0.02)
    return out


def summary(values: list[float]) -> str:
    ms = np.array(values) * 1000
    return (
        f"p50 {np.percentile(ms, 50):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms, "
        f"max {ms.max():.1f} ms (n = {len(ms)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    database = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    env = bench_env(database, LOG_LEVEL="ERROR")
    with (
        gunicorn(env, workers=3) as server,
        tempfile.TemporaryDirectory() as tmp,
        buffering_proxy(server.removeprefix("http://"), Path(tmp)) as proxy,
    ):
        quiet = latencies(proxy, args.seconds)
        stop = threading.Event()
        holder = threading.Thread(
            target=slow_clients, args=(proxy, args.slow, args.seconds + 5, stop)
        )
        holder.start()
        time.sleep(2)
        try:
            loaded = latencies(proxy, args.seconds)
        finally:
            stop.set()
            holder.join()
    p99 = float(np.percentile(np.array(loaded) * 1000, 99))
    write_section(
        "slow-clients",
        "Slow clients behind the proxy",
        [
            machine_line(),
            f"Command: `.venv/bin/python -m bench.bench_slow_clients --slow {args.slow} "
            f"--seconds {args.seconds:g}` ({dt.date.today()}). gunicorn, 3 sync workers, "
            "behind Debian's nginx with deploy/k8s/nginx.conf.template, on loopback; "
            "/healthz requested one at a time (every 20 ms).",
            "",
            "| /healthz through the proxy | latency |",
            "|---|---|",
            f"| no slow client (baseline, same run) | {summary(quiet)} |",
            f"| {args.slow} slow clients, each sending a header line a second | "
            f"{summary(loaded)} |",
            "",
            f"Target: p99 under 100 ms with {args.slow} slow clients: "
            f"**{'met' if p99 < 100 else 'not met'}** ({p99:.1f} ms). Without the proxy, "
            "5 slow clients stop gunicorn's 3 sync workers from answering at all "
            "(tests/e2e/test_slow_clients.py).",
        ],
    )


if __name__ == "__main__":
    main()
