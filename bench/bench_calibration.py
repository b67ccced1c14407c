"""How stable the calibration probe is from run to run, on this machine.

Runs the probe (meshmark-cpu/1) several times in fresh processes and reports
the spread; the baseline in the same run is the spread of a plain fixed loop
timed the same way, which shows how much of the spread is the machine itself.

Usage: .venv/bin/python -m bench.bench_calibration [--runs 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time

from bench.report import machine_line, write_section

PROBE = "from runner.calibrate import run_probe; print(run_probe().score)"
LOOP = (
    "import time\n"
    "def once():\n"
    "    start = time.thread_time()\n"
    "    sum(range(2_000_000))\n"
    "    return time.thread_time() - start\n"
    "print(2_000_000 / min(once() for _ in range(5)))"
)


def _spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values)


def _runs(code: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True)  # fmt: skip
        out.append(float(proc.stdout.strip().splitlines()[-1]))
        time.sleep(0.2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    probe = _runs(PROBE, args.runs)
    loop = _runs(LOOP, args.runs)
    lines = [
        f"- meshmark-cpu/1: median {statistics.median(probe):.0f} ops/s, "
        f"min {min(probe):.0f}, max {max(probe):.0f}, spread {100 * _spread(probe):.1f}%",
        f"- baseline, a fixed integer loop timed the same way: spread {100 * _spread(loop):.1f}%",
        f"- ratio of spreads (probe / baseline): {_spread(probe) / max(_spread(loop), 1e-9):.2f}",
        f"- 1-minute load average at the start: {load:.2f}",
    ]
    print("\n".join(lines))
    write_section(
        "calibration",
        "Calibration probe stability",
        [
            machine_line(),
            f"Command: `.venv/bin/python -m bench.bench_calibration --runs {args.runs}` "
            f"({dt.date.today()}); each run a fresh process.",
            "",
            *lines,
        ],
    )


if __name__ == "__main__":
    main()
