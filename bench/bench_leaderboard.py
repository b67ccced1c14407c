"""Leaderboard API latency on a seeded corpus, next to /healthz on the same server.

Seeds the demo corpus (through the real pipeline) into a scratch PostgreSQL
database, serves it with gunicorn and loads each endpoint with wrk (16
connections). /healthz, a single trivial query, is the baseline in the same run.

Usage: .venv/bin/python -m bench.bench_leaderboard [--size 300] [--seconds 10]
"""

from __future__ import annotations

import argparse
import datetime as dt

from bench.common import bench_env, gunicorn, manage, reset_database, wrk
from bench.report import machine_line, write_section

ENDPOINTS = (
    ("/healthz", "baseline: /healthz"),
    ("/api/v1/leaderboards/http-1k", "leaderboard API"),
    ("/api/v1/leaderboards/http-1k?mtls=true&min_version=1.20", "leaderboard API, row filters"),
    ("/api/v1/leaderboards/http-1k?since=2000-01-01", "leaderboard API, date filter (entries)"),
    ("/leaderboards/http-1k", "leaderboard page"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=300, help="demo submissions to seed")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    env = bench_env(reset_database("meshmark_bench_leaderboard"))
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "seed_demo", "--size", str(args.size))
    results = {}
    with gunicorn(env, workers=args.workers) as base:
        for path, _ in ENDPOINTS:
            wrk(base + path, seconds=2)  # warm-up
            results[path] = wrk(base + path, seconds=args.seconds)
    healthz = results["/healthz"]
    lines = [
        f"| {label} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
        f"{r['p99_ms'] / healthz['p99_ms']:.1f}x |"
        for (path, label), r in ((e, results[e[0]]) for e in ENDPOINTS)
    ]
    table = [
        "| endpoint | req/s | p50 ms | p99 ms | p99 vs /healthz |",
        "|---|---:|---:|---:|---:|",
        *lines,
    ]
    print("\n".join(table))
    write_section(
        "leaderboard-demo",
        f"Leaderboard latency on the demo corpus ({args.size} submissions)",
        [
            machine_line(),
            f"Command: `.venv/bin/python -m bench.bench_leaderboard --size {args.size} "
            f"--seconds {args.seconds} --workers {args.workers}` ({dt.date.today()}); "
            f"gunicorn with {args.workers} sync workers on PostgreSQL, wrk with 16 connections "
            "on the same 2 cores.",
            "",
            *table,
        ],
    )


if __name__ == "__main__":
    main()
