"""How many submissions per second the API accepts (202), against a plain insert.

Runs gunicorn on a scratch PostgreSQL database with a Redis broker configured
(so tasks are queued for workers, not run inside the request), posts distinct
SMP bundles from a pool of client threads, and compares with the physical
floor measured in the same run: psycopg inserting the same submission rows,
one transaction per row, from one connection per client thread.

Usage: .venv/bin/python -m bench.bench_ingest_api [--requests 2000] [--clients 16]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import hashlib
import json
import time
import uuid
from typing import Any

import httpx
import numpy as np
import psycopg

from bench.common import bench_env, gunicorn, manage, reset_database
from bench.report import machine_line, write_section

BENCH_DB = "meshmark_bench_ingest"
BROKER = "redis://127.0.0.1:6379/14"


def _bundle(i: int) -> bytes:
    from tests.factories import make_bundle

    doc: dict[str, Any] = make_bundle(labels={"bench": str(i)})
    return json.dumps(doc).encode()


def _post_all(
    url: str, token: str, bodies: list[bytes], clients: int
) -> tuple[float, list[float], dict[int, int]]:
    chunks = [bodies[i::clients] for i in range(clients)]

    def run(chunk: list[bytes]) -> list[tuple[int, float]]:
        out = []
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            for body in chunk:
                start = time.perf_counter()
                r = client.post(url, content=body, headers={"Content-Type": "application/json"})
                out.append((r.status_code, time.perf_counter() - start))
        return out

    start = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as pool:
        results = [item for part in pool.map(run, chunks) for item in part]
    elapsed = time.perf_counter() - start
    codes: dict[int, int] = {}
    for code, _ in results:
        codes[code] = codes.get(code, 0) + 1
    return elapsed, [lat for _, lat in results], codes


def _plain_inserts(db_url: str, bodies: list[bytes], clients: int) -> float:
    with psycopg.connect(db_url) as conn:
        org_id = conn.execute("SELECT id FROM ingest_organization LIMIT 1").fetchone()[0]  # type: ignore[index]
    chunks = [bodies[i::clients] for i in range(clients)]

    def run(chunk: list[bytes]) -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            for body in chunk:
                digest = hashlib.sha256(body + b"plain").hexdigest()
                conn.execute(
                    "INSERT INTO ingest_submission (id, organization_id, source, raw, content_type,"
                    " size, sha256, content_digest, detected_format, status, errors, warnings,"
                    " attempts, received_at) VALUES (%s,%s,'api',%s,'application/json',%s,%s,%s,"
                    " 'smp','received','[]','[]',0, now())",
                    (uuid.uuid4(), org_id, body, len(body), digest, digest),
                )

    start = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, chunks))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    args = parser.parse_args()

    db_url = reset_database(BENCH_DB)
    env = bench_env(db_url, CELERY_BROKER_URL=BROKER)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "create_org", "bench")
    token = manage(env, "issue_token", "bench").strip().splitlines()[-1]
    bodies = [_bundle(i) for i in range(args.requests)]
    with gunicorn(env, workers=args.workers) as base:
        url = f"{base}/api/v1/submissions"
        _post_all(url, token, [_bundle(-i - 1) for i in range(50)], 4)  # warm-up
        elapsed, latencies, codes = _post_all(url, token, bodies, args.clients)
    plain = _plain_inserts(db_url, bodies, args.clients)
    api_rate = args.requests / elapsed
    plain_rate = args.requests / plain
    lat = np.array(latencies) * 1000
    lines = [
        f"- API: {api_rate:.0f} submissions/s accepted ({codes}), latency p50 "
        f"{np.percentile(lat, 50):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms",
        f"- baseline, plain psycopg INSERT of the same rows: {plain_rate:.0f} rows/s",
        f"- ratio API / plain insert: {api_rate / plain_rate:.2f}",
    ]
    print("\n".join(lines))
    write_section(
        "ingest-api",
        "Submissions accepted by the API",
        [
            machine_line(),
            f"Command: `.venv/bin/python -m bench.bench_ingest_api --requests {args.requests} "
            f"--clients {args.clients} --workers {args.workers}` ({dt.date.today()}); gunicorn "
            f"with {args.workers} sync workers, PostgreSQL, Redis broker configured (processing "
            "is queued, not measured here); the client threads run on the same 2 cores.",
            "",
            *lines,
        ],
    )


if __name__ == "__main__":
    main()
