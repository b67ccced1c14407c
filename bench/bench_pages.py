"""The decision pages as the index grows: mesh pages, cost, results, tokens, next to /healthz.

The corpus is bench_scale's: the demo corpus grown to each size through
``seed_demo --bulk --jobs 2`` (the real pipeline), with the Gateway API
conformance reports of ../shared/real-data imported when they are there (so
leaderboard rows and mesh pages carry capabilities). For each size, on gunicorn
with the production worker setting and Redis as the cache, it records the first
(uncached) answer of each page on a fresh server, then wrk with 16 connections:
``/healthz`` (the baseline, one trivial query) and every page, one after the
other in the same run. The token page is read by a signed-in member (a session
cookie). The target is a p99 under 100 ms. Figures go to docs/benchmarks.md
("bench:pages"); bench_scale's leaderboard section is left as it is.

Usage: .venv/bin/python -m bench.bench_pages [--sizes 10000,100000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import time
from typing import Any

import httpx
import psycopg

from bench.bench_scale import RssSampler, django_run
from bench.common import ADMIN_URL, ROOT, bench_env, gunicorn, manage, reset_database, wrk
from bench.report import machine_line, write_section

DATABASE = "meshmark_bench_pages"
CACHE_DB = "7"
CACHE_URL = f"redis://127.0.0.1:6379/{CACHE_DB}"
TARGET_P99_MS = 100.0
ROUNDS = 3
"""Interleaved wrk rounds per page and size; the report shows the best and the median."""
REPORTS = ROOT.parent / "shared" / "real-data" / "gateway-api" / "conformance" / "reports"
ENDPOINTS = (
    ("/healthz", "baseline: /healthz", False),
    ("/meshes/istio", "mesh page (istio)", False),
    ("/api/v1/meshes/istio/trend?profile=http-1k", "trend API", False),
    ("/meshes/istio/regressions.atom", "regression feed", False),
    ("/api/v1/meshes/istio/conformance", "conformance API", False),
    ("/cost", "cost page (example fleet)", False),
    ("/api/v1/cost?rps=20000&pods=400&clusters=2", "cost API", False),
    ("/results", "results page", False),
    ("/results?mesh=istio&ranked=true", "results page, filtered", False),
    ("/organizations/{org}/tokens", "token page (signed in: per user, never cached)", True),
    ("/results/{result}", "result page (existing page; its standing is new)", False),
    ("/leaderboards/http-1k", "leaderboard page (existing; capabilities are new)", False),
)

SETUP = """
import json
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from ingest.models import Membership, Organization, Result
from meshmark.demo import fleet
org = Organization.objects.get(slug=fleet.ORGANIZATIONS[0].slug)
user, _ = User.objects.get_or_create(username="bench-member")
Membership.objects.get_or_create(organization=org, user=user)
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
mesh_runs = Result.objects.filter(role="mesh", ranked=True, mesh_config__mesh_type="istio")
result = mesh_runs.order_by("-id").first()
print(json.dumps({"org": org.slug, "session": session.session_key, "result": result.pk}))
"""


def import_reports(env: dict[str, str]) -> int:
    """The real conformance reports, when ../shared holds them; returns how many were accepted."""
    files = sorted(str(p) for p in REPORTS.rglob("*.yaml")) if REPORTS.is_dir() else []
    if not files:
        return 0
    slug = django_run(
        env, "from meshmark.demo import fleet\nimport json\n"
        "print(json.dumps(fleet.ORGANIZATIONS[0].slug))",
    )  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "manage.py", "import_conformance", *files, "--organization", slug],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return proc.stdout.count(": accepted ")


def flush_cache() -> None:
    subprocess.run(["redis-cli", "-n", CACHE_DB, "flushdb"], check=True, capture_output=True)


def measure(
    env: dict[str, str], size: int, seed: int, seconds: int, workers: int
) -> dict[str, Any]:
    started = time.perf_counter()
    out = manage(env, "seed_demo", "--bulk", "--jobs", "2", "--size", str(size // 2),
                 "--seed", str(seed), "-v", "0")  # fmt: skip
    created = int(re.search(r"(\d+) new", out).group(1))  # type: ignore[union-attr]
    figures: dict[str, Any] = {
        "results": size,
        # None when the corpus was already this size (--keep): nothing was seeded.
        "seed_rate": 2 * created / (time.perf_counter() - started) if created else None,
        "reports": import_reports(env),
    }
    # Planner statistics for the grown tables, as autovacuum would gather them in service.
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("ANALYZE")
    context = django_run(env, SETUP)
    cookie = {"Cookie": f"sessionid={context['session']}"}
    flush_cache()
    with gunicorn(env, workers=workers) as base:
        sampler = RssSampler(base.rsplit(":", 1)[1])
        sampler.start()
        figures["first_ms"], figures["wrk"] = {}, {}
        for path, _, signed_in in ENDPOINTS:
            url = base + path.format(**context)
            start = time.perf_counter()
            response = httpx.get(url, headers=cookie if signed_in else None, timeout=60)
            response.raise_for_status()
            figures["first_ms"][path] = (time.perf_counter() - start) * 1000
        for path, _, signed_in in ENDPOINTS:  # warm-up: every cache filled once
            wrk(base + path.format(**context), seconds=2, headers=cookie if signed_in else None)
        # Interleaved rounds: a burst of other work on the shared cores lands on one round of
        # every page, not on all rounds of one page; the best round is the one least disturbed.
        rounds: dict[str, list[dict[str, float]]] = {path: [] for path, _, _ in ENDPOINTS}
        for _ in range(ROUNDS):
            for path, _, signed_in in ENDPOINTS:
                url = base + path.format(**context)
                headers = cookie if signed_in else None
                rounds[path].append(wrk(url, seconds=seconds, headers=headers))
        for path, measured in rounds.items():
            best = min(measured, key=lambda r: r["p99_ms"])
            median = sorted(r["p99_ms"] for r in measured)[len(measured) // 2]
            figures["wrk"][path] = {**best, "median_round_p99_ms": median}
        sampler.stop.set()
        sampler.join()
        figures["worker_rss_mb"] = sampler.peak_mb
    return figures


def report(points: list[dict[str, Any]], command: str, note: str) -> None:
    lines = [
        machine_line(),
        *([note] if note else []),
        f"Command: `{command}` ({dt.date.today()}). The corpus of bench_scale (the demo corpus "
        "grown through `seed_demo --bulk --jobs 2`, the real pipeline), with the upstream "
        "Gateway API conformance reports imported; gunicorn with the production setting "
        "(3 workers, Redis cache), wrk with 16 connections, all on the same 2 cores: every page "
        f"once for 2 s to warm the caches, then {ROUNDS} interleaved rounds of each page and "
        "/healthz; req/s, p50 and p99 are the round with the lowest p99 (as the gunicorn "
        "bench takes the best of its interleaved rounds), the median round's p99 beside it. "
        "First, uncached: each page's first "
        "answer on a fresh server with an empty cache. `ANALYZE` after each seeding step. "
        "Target: p99 under "
        f"{TARGET_P99_MS:.0f} ms.",
        "",
        "| results | page | req/s | p50 ms | p99 ms, best round | p99 vs /healthz | p99 ms, "
        "median round | first, uncached ms | best p99 < 100 ms |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in points:
        base = p["wrk"]["/healthz"]
        for path, label, _ in ENDPOINTS:
            r = p["wrk"][path]
            met = "baseline" if path == "/healthz" else (
                "**met**" if r["p99_ms"] < TARGET_P99_MS else "**not met**"
            )  # fmt: skip
            errors = f" ({r['errors']:.0f} errors)" if r["errors"] else ""
            lines.append(
                f"| {p['results']:,} | {label}{errors} | {r['rps']:.0f} | {r['p50_ms']:.2f} | "
                f"{r['p99_ms']:.2f} | {r['p99_ms'] / base['p99_ms']:.2f}x | "
                f"{r['median_round_p99_ms']:.2f} | {p['first_ms'][path]:.0f} | {met} |"
            )
    lines += ["", "| results | seeding step, results/s | conformance reports accepted | "
              "largest gunicorn worker RSS, MB |", "|---:|---:|---:|---:|"]  # fmt: skip
    for p in points:
        lines.append(
            f"| {p['results']:,} | "
            + (f"{p['seed_rate']:.0f}" if p["seed_rate"] else "— (kept from an earlier run)")
            + f" | {p['reports']} | "
            f"{p['worker_rss_mb']:.0f} |"
        )
    write_section("pages", "Decision pages as the index grows", lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="results, ascending")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="grow the existing bench database")
    parser.add_argument("--note", default="", help="a line about this run for the report")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="report these sizes with the points of the last run (var/bench-pages.json), "
        "replacing points of the same size",
    )
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    url = (
        reset_database(DATABASE) if not args.keep else ADMIN_URL.rsplit("/", 1)[0] + f"/{DATABASE}"
    )
    env = bench_env(url, CACHE_URL=CACHE_URL)
    manage(env, "migrate", "--noinput", "-v", "0")
    saved = ROOT / "var" / "bench-pages.json"
    earlier = json.loads(saved.read_text()) if args.merge and saved.exists() else []
    points = [p for p in earlier if p["results"] not in sizes]
    for size in sizes:
        points.append(measure(env, size, args.seed, args.seconds, args.workers))
        points.sort(key=lambda p: int(p["results"]))
        print(json.dumps(points[-1], indent=1, default=str), flush=True)
        saved.parent.mkdir(exist_ok=True)
        saved.write_text(json.dumps(points, default=str))
    command = f".venv/bin/python -m bench.bench_pages --sizes {args.sizes} --seconds {args.seconds}"
    report(points, command, args.note)


if __name__ == "__main__":
    main()
