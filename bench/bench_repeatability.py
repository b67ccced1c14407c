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

``--repeat K`` makes every invocation ``smp-runner run --repeat K``: K interleaved
pairs (baseline, mesh, baseline, mesh, ...) in one bundle. The same invocations
then give both designs side by side: *one pair* is the first pair of each
invocation (what a run without ``--repeat`` measures: its baseline and mesh phase
are made the same way), *median of K pairs* is the median of the invocation's K
pair scores (what the index ranks for that bundle). Same machine, same minutes.

Writes the section ``repeatability`` of docs/benchmarks.md.

Usage: .venv/bin/python -m bench.bench_repeatability [--runs 5] [--repeat 3]
       [--duration 20s] [--warmup 5s]
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def one_run(
    flags: tuple[str, ...], duration: str, warmup: str, repeat: int, out: Path
) -> list[dict[str, Any]]:
    """One local invocation of http-1k with ``repeat`` pairs, scored: MeshMark and its
    classes, one entry per pair."""
    runner = [sys.executable, "-c", "from runner.cli import main; main()"]
    argv = [*runner, "run", "--profile", "http-1k", "--local", *flags, "--quiet"]
    argv += ["--duration", duration, "--warmup", warmup, "--skip-certify", "--out", str(out)]
    argv += ["--repeat", str(repeat)]
    subprocess.run(argv, check=True, capture_output=True, text=True)
    scored = subprocess.run(
        [*runner, "score", "--json", str(out)], check=True, capture_output=True, text=True
    )
    pairs = []
    for entry in json.loads(scored.stdout)["runs"]:
        meshmark = entry["meshmark"]
        pairs.append({"meshmark": meshmark["score"], **meshmark["classes"]})
    assert len(pairs) == repeat, pairs
    return pairs


def median_of_pairs(pairs: list[dict[str, Any]]) -> dict[str, float | None]:
    """What the index ranks for one bundle of interleaved pairs: the median of each figure."""
    out: dict[str, float | None] = {}
    for figure in ("meshmark", *CLASSES):
        values = [float(p[figure]) for p in pairs if p.get(figure) is not None]
        out[figure] = statistics.median(values) if values else None
    return out


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
    parser.add_argument("--repeat", type=int, default=3, help="interleaved pairs per invocation")
    parser.add_argument("--duration", default="20s", help="each phase, after its warm-up")
    parser.add_argument("--warmup", default="5s")
    parser.add_argument("--label", default="", help="what this run measures (the design in use)")
    parser.add_argument(
        "--settle", action="store_true", help="smp-runner run --settle: warm up until stable"
    )
    args = parser.parse_args()
    invocations: dict[str, list[list[dict[str, Any]]]] = {name: [] for name, _ in CONFIGURATIONS}
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-repeat-") as tmp:
        for i in range(args.runs):
            for name, flags in CONFIGURATIONS:  # alternating: drift hits both configurations
                out = Path(tmp) / f"run-{i}-{len(invocations[name])}.json"
                extra = ("--settle",) if args.settle else ()
                pairs = one_run((*flags, *extra), args.duration, args.warmup, args.repeat, out)
                invocations[name].append(pairs)
                print(name, i, json.dumps(pairs), flush=True)
    load_after = load_average()
    designs = {"one pair": lambda pairs: pairs[0]}
    if args.repeat > 1:
        designs[f"median of {args.repeat} interleaved pairs"] = median_of_pairs
    command = (
        f".venv/bin/python -m bench.bench_repeatability --runs {args.runs} "
        f"--repeat {args.repeat} --duration {args.duration} --warmup {args.warmup}"
        + (" --settle" if args.settle else "")
    )
    phase_s = 2 * (60 + 5) * args.repeat
    lines = [
        machine_line(),
        f"Command: `{command}`. http-1k through the local proxies, {args.runs} invocations of "
        f"each configuration, alternating, each `smp-runner run --repeat {args.repeat}`; each "
        f"phase {args.duration} after a {args.warmup} warm-up (the profile's own 60 s would "
        f"take {args.runs * 2 * phase_s / 60:.0f} minutes); certification skipped. *One pair*: "
        "the first pair of each invocation (a run without --repeat); *median of pairs*: the "
        "median of the invocation's pair scores, what the index ranks for the bundle. "
        f"1-minute load average {load_before:.2f} before, {load_after:.2f} after."
        + (f" {args.label}" if args.label else ""),
        "",
        "| configuration | design | figure | min | median | max | spread | 95% CI of the median |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    worst: dict[str, float] = {}
    for name, measured in invocations.items():
        for design, pick in designs.items():
            runs = [pick(pairs) for pairs in measured]
            for figure in ("meshmark", *CLASSES):
                values = [float(r[figure]) for r in runs if r.get(figure) is not None]
                if not values:
                    continue
                scale = 1.0 if figure == "meshmark" else 100.0  # classes as points of MeshMark
                s = spread([v * scale for v in values])
                if figure == "meshmark":
                    worst[design] = max(worst.get(design, 0.0), s["spread"])
                label = "MeshMark" if figure == "meshmark" else f"{figure} class (x100)"
                lines.append(
                    f"| {name} | {design} | {label} | {s['min']:.1f} | {s['median']:.1f} | "
                    f"{s['max']:.1f} | {s['spread']:.1f} | "
                    f"[{s['ci_low']:.1f}, {s['ci_high']:.1f}] |"
                )
    lines.append("")
    for design, points in worst.items():
        met = "met" if points <= GOAL_POINTS else "not met"
        lines.append(
            f"Goal, {design}: {args.runs} runs within {GOAL_POINTS:g} MeshMark points: "
            f"**{met}** (largest spread {points:.1f} points)."
        )
    # MeshMark is the mean of five classes: a class moving by x moves MeshMark by x / 5.
    last = list(designs.values())[-1]
    moving = max(
        CLASSES,
        key=lambda c: max(
            spread([float(last(p)[c]) for p in m if last(p).get(c) is not None] or [0.0])["spread"]
            for m in invocations.values()
        ),
    )
    lines.append(
        f"What moves the score most ({list(designs)[-1]}): the {moving} class "
        "(a class moving by x moves MeshMark by x / 5)."
    )
    write_section("repeatability", "Repeatability of a local MeshMark", lines)


if __name__ == "__main__":
    main()
