"""The built-in load generator's highest steady rate, next to wrk's, against the same nginx.

Target: one nginx worker answering every request with a fixed 1 KiB body
(``return 200``), on 127.0.0.1. Both generators use the same number of
connections and one thread (the built-in generator is one Python process).

* **built-in** (open loop): rates are tried from ``--start`` upward, doubling
  until a rate is not held, then bisected to within 5%. A rate is *held* when
  the measured rate is within 1% of the requested one, with no errors and no
  request left unsent (``runner.loadgen``). Each trial lasts ``--seconds``
  after a 0.5 s warm-up.
* **wrk** (closed loop, ``wrk -t1 -cC -dDs``): as fast as nginx answers; its
  Requests/sec is its highest rate by construction.

The ratio built-in / wrk says how much of wrk's reach the Python generator
has on this machine; the absolute figures depend on the machine. Writes the
section ``loadgen`` of docs/benchmarks.md.

Usage: .venv/bin/python -m bench.bench_loadgen [--connections 64] [--seconds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.report import machine_line, write_section
from runner.loadgen import LoadSpec, run_load
from runner.processes import Cleanup, find_binary, free_port, start_process, wait_for_port

HOLD_TOLERANCE = 0.01
BISECT_UNTIL = 0.05
PAYLOAD_BYTES = 1024
BEFORE = (
    "Before (2026-12-04, the stream-based generator of commit 5b6faef, same command and "
    "machine): 1 process 24,000 req/s (0.18 of wrk), 2 processes 33,000 (0.25 of wrk), "
    "wrk 130,744; best built-in / wrk 0.25."
)
"""The figures before the protocol-based generator (issue 16, part 5), kept for comparison."""

NGINX_CONF = """daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/client_body;
  proxy_temp_path {dir}/proxy_temp;
  fastcgi_temp_path {dir}/fastcgi_temp;
  uwsgi_temp_path {dir}/uwsgi_temp;
  scgi_temp_path {dir}/scgi_temp;
  keepalive_requests 10000000;
  server {{
    listen 127.0.0.1:{port};
    location / {{ return 200 "{body}"; }}
  }}
}}
"""


def held(
    url: str, rate: float, connections: int, seconds: float, processes: int = 1
) -> tuple[bool, float]:
    spec = LoadSpec(url, rate, connections, duration_s=seconds, warmup_s=0.5)
    result = run_load(spec, processes=processes)
    ok = (
        abs(result.actual_qps - rate) / rate <= HOLD_TOLERANCE
        and result.error_count == 0
        and result.not_sent == 0
    )
    return ok, result.actual_qps


def highest_steady_rate(
    url: str, connections: int, seconds: float, start: float, processes: int = 1
) -> tuple[float, list[str]]:
    trials: list[str] = []
    good, bad = 0.0, None
    rate = start
    while bad is None:
        ok, measured = held(url, rate, connections, seconds, processes)
        trials.append(f"{rate:.0f}: {'held' if ok else 'not held'} ({measured:.0f})")
        print(trials[-1], file=sys.stderr)
        if ok:
            good, rate = rate, rate * 2
        else:
            bad = rate
    while bad - good > BISECT_UNTIL * bad:
        rate = (good + bad) / 2
        ok, measured = held(url, rate, connections, seconds, processes)
        trials.append(f"{rate:.0f}: {'held' if ok else 'not held'} ({measured:.0f})")
        print(trials[-1], file=sys.stderr)
        if ok:
            good = rate
        else:
            bad = rate
    return good, trials


def wrk_rate(url: str, connections: int, seconds: float) -> tuple[float, str]:
    wrk = find_binary("wrk")
    argv = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if not match:
        raise RuntimeError(f"cannot read wrk's output:\n{out.stdout}")
    return float(match.group(1)), shlex.join(["wrk", *argv[1:-1], "http://127.0.0.1:PORT/"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--start", type=float, default=2000.0)
    parser.add_argument(
        "--processes", default="1,2", help="generator processes sharing the schedule, each tried"
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]

    load = os.getloadavg()[0]
    with Cleanup() as cleanup, tempfile.TemporaryDirectory(prefix="bench-loadgen-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        config = workdir / "nginx.conf"
        config.write_text(NGINX_CONF.format(dir=workdir, port=port, body="x" * PAYLOAD_BYTES))
        nginx = start_process(
            "nginx",
            [find_binary("nginx"), "-p", str(workdir), "-c", str(config), "-e", "stderr"],
            workdir,
        )
        cleanup.add(nginx.stop)
        wait_for_port(nginx, port)
        url = f"http://127.0.0.1:{port}/"
        found = {
            n: highest_steady_rate(url, args.connections, args.seconds, args.start, n)
            for n in counts
        }
        wrk, wrk_command = wrk_rate(url, args.connections, args.seconds)

    builtin = max(rate for rate, _ in found.values())
    lines = [
        machine_line(),
        "",
        f"Target: one nginx worker returning a {PAYLOAD_BYTES} B body on 127.0.0.1; "
        f"{args.connections} connections, one generator thread each.",
        "",
        "| generator | load model | highest steady rate (req/s) |",
        "|---|---|---|",
        *(
            f"| smp-runner built-in, {n} process{'es' if n > 1 else ''} | open loop, held within "
            f"1%, CO-corrected | {rate:,.0f} ({rate / wrk:.2f} of wrk) |"
            for n, (rate, _) in found.items()
        ),
        f"| wrk 4 (`{wrk_command}`) | closed loop, as fast as answered | {wrk:,.0f} |",
        "",
        f"After: best built-in / wrk {builtin / wrk:.2f}. The highest rate the built-in generator "
        f"held within 1% was {builtin:,.0f} req/s (trials of {args.seconds:g} s after a 0.5 s "
        "warm-up, "
        "bisected to 5%; near the limit a trial can go either way); the profiles ask for at "
        f"most 5,000. Load average when the bench started: {load:.2f} (anything above 0 "
        "means other programs shared the two cores).",
        "",
        BEFORE,
        "",
        *(
            f"Trials with {n} process(es) (requested: verdict (measured)): " + "; ".join(t) + "."
            for n, (_, t) in found.items()
        ),
        "",
        f"Command: `.venv/bin/python -m bench.bench_loadgen --connections {args.connections} "
        f"--seconds {args.seconds:g} --processes {args.processes}`",
    ]
    write_section("loadgen", "Load generator: built-in vs wrk", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
