"""Leaderboards as the index grows: 10k, 100k and 1M results, each next to /healthz.

For each size the demo corpus is grown to that many results through the demo
generator's bulk path (``seed_demo --bulk --jobs 2``: the real pipeline, two
processes), and the bench records:

* the seeding rate of that step (results/s);
* a full rebuild of every leaderboard row with bootstrap intervals, and of the
  entries plus rows;
* the incremental path: one new submission accepted, then the time its
  leaderboard row takes to include it (the after-commit refresh);
* wrk (16 connections) against /healthz (the baseline: one trivial query) and
  the leaderboard API with and without filters and the leaderboard page, on
  gunicorn with the production worker setting; the first (uncached) answer of
  each endpoint is timed separately;
* the largest RSS of any gunicorn worker during the wrk runs.

At the largest size it keeps EXPLAIN ANALYZE of the queries a leaderboard
request runs. Figures go to docs/benchmarks.md with a plot
(docs/benchmarks-scale.png).

Usage: .venv/bin/python -m bench.bench_scale [--sizes 10000,100000,1000000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import ADMIN_URL, ROOT, bench_env, gunicorn, manage, reset_database, wrk
from bench.report import DOC, machine_line, write_section

DATABASE = "meshmark_bench_scale"
CACHE_URL = "redis://127.0.0.1:6379/8"
PLOT = DOC.parent / "benchmarks-scale.png"
ENDPOINTS = (
    ("/healthz", "baseline: /healthz"),
    ("/api/v1/leaderboards/http-1k", "leaderboard API"),
    ("/api/v1/leaderboards/http-1k?mesh=istio&mtls=true", "leaderboard API, row filters"),
    ("/api/v1/leaderboards/http-1k?since=2000-01-01", "leaderboard API, date filter (entries)"),
    ("/leaderboards/http-1k", "leaderboard page"),
)

INCREMENTAL = """
import time, json
from django.db import connection
from ingest import leaderboards, processing, submissions
from ingest.models import LeaderboardRow
from ingest.reading import read_at_door
from meshmark.demo.generate import generate
from meshmark.demo.seed import organizations_ensure
orgs = organizations_ensure()
item = next(generate({size}, {seed}, part=({size} - 1, {size})))
org, token = orgs[item.organization]
sub = submissions.submission_build(organization=org, body=item.body,
    content_type="application/json", token=token,
    reading=read_at_door(body=item.body, content_type="application/json"))
sub.save()
t0 = time.perf_counter()
[sub] = processing.submissions_process(submission_ids=[sub.pk], refresh_rows=False)
t1 = time.perf_counter()
refreshed = leaderboards.rows_refresh_pending()
t2 = time.perf_counter()
mesh = sub.results.get(role="mesh")
row = LeaderboardRow.objects.get(profile_id=mesh.profile_id, mesh_config_id=mesh.mesh_config_id,
    environment_class=mesh.environment.environment_class, complete=True)
print(json.dumps({{"status": sub.status, "process_s": t1 - t0, "refresh_s": t2 - t1,
    "keys": refreshed, "row_results": row.results}}))
"""

EXPLAIN = """
import json
from django.db import connection
from django.test.utils import CaptureQueriesContext
from meshmark import selectors
out = []
for params in ({{}}, {{"since": "2000-01-01"}}):
    with CaptureQueriesContext(connection) as captured:
        selectors.leaderboard_state("http-1k", params)
        selectors.leaderboard("http-1k", params)
    for query in captured.captured_queries:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            plan = "\\n".join(row[0] for row in cursor.fetchall())
        out.append({{"params": params, "sql": query["sql"], "plan": plan}})
print(json.dumps(out))
"""


def django_run(env: dict[str, str], code: str) -> Any:
    """Run ``code`` in a fresh Django process; its last stdout line is JSON."""
    prelude = "import django, os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', "
    prelude += "'meshmark.settings')\ndjango.setup()\n"
    proc = subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


class RssSampler(threading.Thread):
    """The largest VmRSS (MB) of the processes serving ``port``, sampled every 0.25 s."""

    def __init__(self, port: str) -> None:
        super().__init__(daemon=True)
        self.needle = f"127.0.0.1:{port}".encode()
        self.peak_mb = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.25):
            for proc in Path("/proc").iterdir():
                if not proc.name.isdigit():
                    continue
                try:
                    if self.needle not in (proc / "cmdline").read_bytes():
                        continue
                    status = (proc / "status").read_text()
                except OSError:
                    continue
                match = re.search(r"VmRSS:\s+(\d+) kB", status)
                if match:
                    self.peak_mb = max(self.peak_mb, int(match.group(1)) / 1024)


def flush_cache() -> None:
    subprocess.run(["redis-cli", "-n", "8", "flushdb"], check=True, capture_output=True)


def first_answer_ms(url: str) -> float:
    start = time.perf_counter()
    httpx.get(url, timeout=60).raise_for_status()
    return (time.perf_counter() - start) * 1000


def measure(
    env: dict[str, str], size: int, seed: int, seconds: int, workers: int
) -> dict[str, Any]:
    submissions = size // 2
    started = time.perf_counter()
    out = manage(env, "seed_demo", "--bulk", "--jobs", "2", "--size", str(submissions),
                 "--seed", str(seed), "-v", "0")  # fmt: skip
    seed_s = time.perf_counter() - started
    created = int(re.search(r"(\d+) new", out).group(1))  # type: ignore[union-attr]
    figures: dict[str, Any] = {
        "results": size,
        "seed_results": 2 * created,
        "seed_s": seed_s,
        "seed_rate": 2 * created / seed_s,
    }
    for label, args in (("rebuild_rows_s", ["--rows-only"]), ("rebuild_all_s", [])):
        text = manage(env, "rebuild_leaderboards", *args).strip()
        figures["rebuild_text_" + label] = text
        figures[label] = float(re.search(r"in ([\d.]+) s", text).group(1))  # type: ignore[union-attr]
    figures["incremental"] = django_run(env, INCREMENTAL.format(size=submissions + 1, seed=seed))
    flush_cache()
    with gunicorn(env, workers=workers) as base:
        sampler = RssSampler(base.rsplit(":", 1)[1])
        sampler.start()
        # A new server starts with an empty cache: the first answer is the uncached cost.
        figures["first_ms"] = {path: first_answer_ms(base + path) for path, _ in ENDPOINTS}
        figures["wrk"] = {}
        for path, _ in ENDPOINTS:
            wrk(base + path, seconds=2)  # warm-up
            figures["wrk"][path] = wrk(base + path, seconds=seconds)
        sampler.stop.set()
        sampler.join()
        figures["worker_rss_mb"] = sampler.peak_mb
    return figures


def plot(points: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [p["results"] for p in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"][: len(ENDPOINTS)]
    for (path, label), color in zip(ENDPOINTS, colors, strict=True):
        for key, style in (("p50_ms", "-o"), ("p99_ms", "--o")):
            values = [p["wrk"][path][key] for p in points]
            left.plot(sizes, values, style, color=color, label=label if key == "p50_ms" else None)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("results in the index")
    left.set_ylabel("latency at 16 connections, ms (solid p50, dashed p99)")
    left.legend(fontsize=7)
    left.set_title("Leaderboard latency vs /healthz")
    right.plot(sizes, [p["seed_rate"] for p in points], "-o", label="ingest (seeding step)")
    right.set_xscale("log")
    right.set_xlabel("results in the index")
    right.set_ylabel("results/s")
    right.set_ylim(bottom=0)
    right.set_title("Ingest rate while growing")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def report(
    points: list[dict[str, Any]], plans: list[dict[str, Any]], command: str, note: str = ""
) -> None:
    lines = [
        machine_line(),
        *([note] if note else []),
        f"Command: `{command}` ({dt.date.today()}). Each size grows the same corpus (demo "
        "seed) through `seed_demo --bulk --jobs 2`, the real pipeline; gunicorn with the "
        "production setting, wrk with 16 connections on the same 2 cores.",
        "",
        f"![Leaderboard latency and ingest rate by corpus size]({PLOT.name})",
        "",
        "| results | seeding step, results/s | rows rebuild (bootstrap) s | entries + rows "
        "rebuild s | new result to its row s | worker RSS max MB |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        inc = p["incremental"]
        lines.append(
            f"| {p['results']:,} | {p['seed_rate']:.0f} | {p['rebuild_rows_s']:.1f} | "
            f"{p['rebuild_all_s']:.1f} | {inc['refresh_s']:.3f} (processing {inc['process_s']:.3f})"
            f" | {p['worker_rss_mb']:.0f} |"
        )
    lines += [
        "",
        "| results | endpoint | req/s | p50 ms | p99 ms | p50 / p99 vs /healthz | first, "
        "uncached ms |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        base = p["wrk"]["/healthz"]
        for path, label in ENDPOINTS:
            r = p["wrk"][path]
            lines.append(
                f"| {p['results']:,} | {label} | {r['rps']:.0f} | {r['p50_ms']:.2f} | "
                f"{r['p99_ms']:.2f} | {r['p50_ms'] / base['p50_ms']:.2f}x / "
                f"{r['p99_ms'] / base['p99_ms']:.2f}x | {p['first_ms'][path]:.0f} |"
            )
    lines += ["", "Query plans of one leaderboard request at the largest size:", ""]
    for plan in plans:
        lines += [
            f"`{plan['sql'][:300]}`" + ("…" if len(plan["sql"]) > 300 else ""),
            "",
            "```",
            plan["plan"],
            "```",
            "",
        ]
    write_section("scale", "Leaderboards and ingest as the index grows", lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="results, ascending")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="grow the existing bench database")
    parser.add_argument("--database", default=DATABASE, help="scratch database name")
    parser.add_argument("--note", default="", help="a line about this run for the report")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: redraw the plot and rewrite the report from the last run's points",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="add these sizes to the points of the last run (var/bench-scale.json) for the "
        "report and plot, replacing points of the same size",
    )
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.report_only:
        points = json.loads((ROOT / "var" / "bench-scale.json").read_text())
        plans_file = ROOT / "var" / "bench-scale-plans.json"
        plot(points)
        command = f".venv/bin/python -m bench.bench_scale --sizes {args.sizes}"
        report(points, json.loads(plans_file.read_text()), command, args.note)
        return
    url = (
        reset_database(DATABASE) if not args.keep else ADMIN_URL.rsplit("/", 1)[0] + f"/{DATABASE}"
    )
    # As in production: the cache (leaderboards, throttle counts) in Redis, shared by workers.
    env = bench_env(url, CACHE_URL=CACHE_URL)
    flush_cache()
    manage(env, "migrate", "--noinput", "-v", "0")
    saved = ROOT / "var" / "bench-scale.json"
    earlier = json.loads(saved.read_text()) if args.merge and saved.exists() else []
    points = [p for p in earlier if p["results"] not in sizes]
    for size in sizes:
        figures = measure(env, size, args.seed, args.seconds, args.workers)
        points = sorted([*points, figures], key=lambda p: int(p["results"]))
        print(json.dumps(figures, indent=1, default=str), flush=True)
        saved.parent.mkdir(exist_ok=True)
        saved.write_text(json.dumps(points, default=str))
    plans_file = ROOT / "var" / "bench-scale-plans.json"
    if not args.merge or max(sizes) >= max(int(p["results"]) for p in points):
        plans_file.write_text(json.dumps(django_run(env, EXPLAIN.format())))
    plans = json.loads(plans_file.read_text()) if plans_file.exists() else []
    plot(points)
    command = f".venv/bin/python -m bench.bench_scale --sizes {args.sizes} --seconds {args.seconds}"
    report(points, plans, command, args.note)


if __name__ == "__main__":
    main()
