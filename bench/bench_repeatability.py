"""How much the MeshMark of one local configuration moves from run to run on one machine.

The same configuration is run ``--runs`` times through ``smp-runner run --local``
(http-1k through nginx, and through haproxy with mTLS, alternating so that a
drift of the machine hits both), each phase ``--duration`` long after
``--warmup``, certification skipped (it would add the same probes to every run).
Each bundle is scored with the index's own engine (``smp-runner score --json``).
For MeshMark and each class: min, median, max, the spread (max - min) and the
95 % bootstrap interval of the median (``scoring.stats.bootstrap_ci``, as the
leaderboards compute it), with the 1-minute load average before and after.
The goal (issue 16): 5 runs within 2 MeshMark points on a quiet 2-core machine.
Writes the section ``repeatability`` of docs/benchmarks.md.

Usage: .venv/bin/python -m bench.bench_repeatability [--runs 5] [--duration 20s] [--warmup 5s]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.report import machine_line, write_section
from scoring.stats import bootstrap_ci

CONFIGURATIONS = (
    ("nginx", ("--proxy", "nginx")),
    ("haproxy, mTLS", ("--proxy", "haproxy", "--mtls")),
)
CLASSES = ("latency", "throughput", "errors", "cpu", "memory")
GOAL_POINTS = 2.0


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def one_run(flags: tuple[str, ...], duration: str, warmup: str, out: Path) -> dict[str, Any]:
    """One local run of http-1k, scored: MeshMark and its classes."""
    runner = [sys.executable, "-c", "from runner.cli import main; main()"]
    argv = [*runner, "run", "--profile", "http-1k", "--local", *flags, "--quiet"]
    argv += ["--duration", duration, "--warmup", warmup, "--skip-certify", "--out", str(out)]
    subprocess.run(argv, check=True, capture_output=True, text=True)
    scored = subprocess.run(
        [*runner, "score", "--json", str(out)], check=True, capture_output=True, text=True
    )
    (entry,) = json.loads(scored.stdout)["runs"]
    meshmark = entry["meshmark"]
    return {"meshmark": meshmark["score"], **meshmark["classes"]}


def spread(values: list[float]) -> dict[str, float]:
    median, low, high = bootstrap_ci(values)
    return {
        "min": min(values),
        "median": median,
        "max": max(values),
        "spread": max(values) - min(values),
        "ci_low": low,
        "ci_high": high,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", default="20s", help="each phase, after its warm-up")
    parser.add_argument("--warmup", default="5s")
    parser.add_argument("--label", default="", help="what this run measures (the design in use)")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in CONFIGURATIONS}
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-repeat-") as tmp:
        for i in range(args.runs):
            for name, flags in CONFIGURATIONS:  # alternating: drift hits both configurations
                out = Path(tmp) / f"run-{i}-{len(runs[name])}.json"
                runs[name].append(one_run(flags, args.duration, args.warmup, out))
                print(name, i, json.dumps(runs[name][-1]), flush=True)
    load_after = load_average()
    command = (
        f".venv/bin/python -m bench.bench_repeatability --runs {args.runs} "
        f"--duration {args.duration} --warmup {args.warmup}"
    )
    lines = [
        machine_line(),
        f"Command: `{command}`. http-1k through the local proxies, {args.runs} runs of each "
        "configuration, alternating; each phase "
        f"{args.duration} after a {args.warmup} warm-up (the profile's own 60 s would take "
        f"{args.runs * 2 * 2.3:.0f} minutes); certification skipped. 1-minute load average "
        f"{load_before:.2f} before, {load_after:.2f} after."
        + (f" {args.label}" if args.label else ""),
        "",
        "| configuration | figure | min | median | max | spread | 95% CI of the median |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for name, measured in runs.items():
        for figure in ("meshmark", *CLASSES):
            values = [float(r[figure]) for r in measured if r.get(figure) is not None]
            if not values:
                continue
            scale = 1.0 if figure == "meshmark" else 100.0  # classes as points of MeshMark
            s = spread([v * scale for v in values])
            label = "MeshMark" if figure == "meshmark" else f"{figure} class (x100)"
            lines.append(
                f"| {name} | {label} | {s['min']:.1f} | {s['median']:.1f} | {s['max']:.1f} | "
                f"{s['spread']:.1f} | [{s['ci_low']:.1f}, {s['ci_high']:.1f}] |"
            )
    worst = max(spread([float(r["meshmark"]) for r in m])["spread"] for m in runs.values())
    met = "met" if worst <= GOAL_POINTS else "not met"
    # MeshMark is the mean of five classes: a class moving by x moves MeshMark by x / 5.
    moving = max(
        CLASSES,
        key=lambda c: max(
            spread([float(r[c]) for r in m if r.get(c) is not None] or [0.0])["spread"]
            for m in runs.values()
        ),
    )
    lines += ["", f"Goal: 5 runs within {GOAL_POINTS:g} MeshMark points: **{met}** "
              f"(largest spread {worst:.1f} points). What moves the score most: the {moving} "
              "class (a class moving by x moves MeshMark by x / 5)."]  # fmt: skip
    write_section("repeatability", "Repeatability of a local MeshMark", lines)


if __name__ == "__main__":
    main()
