"""The ingest bench from start to end: every phase, its baseline, the report."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

from bench.bench_ingest.accept import post_wrk
from bench.bench_ingest.bodies import big_bundle, make_pool
from bench.bench_ingest.bulk import bulk_post
from bench.bench_ingest.database import drain, plain_copy, plain_inserts, plain_results
from bench.bench_ingest.memory import memory_probe
from bench.bench_ingest.processes import RssSampler, celery_workers
from bench.bench_ingest.settings import (
    BENCH_DB,
    BROKER,
    ORG,
    POLL_S,
    TARGET_ACCEPT,
    TARGET_BIG_DELTA_MB,
    TARGET_BULK,
    TARGET_PROCESS,
    TARGET_RSS_MB,
    TARGET_VISIBLE_P99_S,
)
from bench.bench_ingest.visible import visible_latency
from bench.common import bench_env, gunicorn, manage, reset_database
from bench.report import machine_line, write_section


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="wrk time for phase 1")
    parser.add_argument("--sweep-seconds", type=int, default=5, help="wrk time per worker count")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (0: try 2-4)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--pool", type=int, default=600, help="distinct demo bundles to cycle")
    parser.add_argument("--latency-seconds", type=int, default=20)
    parser.add_argument("--plain-rows", type=int, default=1000, help="rows of the 1. baseline")
    parser.add_argument("--bulk-batches", type=int, default=20)
    parser.add_argument("--bulk-size", type=int, default=200)
    parser.add_argument("--drain-timeout", type=int, default=240)
    parser.add_argument(
        "--max-bytes", type=int, default=5 * 1024 * 1024, help="SUBMISSION_MAX_BYTES (default)"
    )
    parser.add_argument("--no-doc", action="store_true", help="print only; leave the doc alone")
    args = parser.parse_args()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]

    db_url = reset_database(BENCH_DB)
    env = bench_env(db_url, CELERY_BROKER_URL=BROKER)
    r = redis.Redis.from_url(BROKER)
    r.flushdb()
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "create_org", ORG)
    secret = manage(env, "issue_token", ORG).strip().splitlines()[-1]
    pool = make_pool(args.pool, seed=20241122)
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    pool_file = tmp / "pool.txt"
    pool.write(pool_file)
    sampler = RssSampler()
    sampler.start()

    # 1. Single submissions: which worker count, then the measured run.
    sweep: dict[int, dict[str, Any]] = {}
    if not args.workers:
        for workers in (2, 3, 4):
            with gunicorn(env, workers=workers) as base:
                url = f"{base}/api/v1/submissions"
                post_wrk(url, secret, pool_file, f"w{workers}-warm", 2, args.connections)
                sweep[workers] = post_wrk(
                    url, secret, pool_file, f"w{workers}", args.sweep_seconds, args.connections
                )
            print(f"  sweep {workers} workers: {sweep[workers]['accepted_rate']:.0f}/s", flush=True)
        with psycopg.connect(db_url) as conn:  # start phase 1 from an empty table and queue
            conn.execute("DELETE FROM ingest_submission")
        r.flushdb()
    workers = args.workers or max(sweep, key=lambda w: sweep[w]["accepted_rate"])

    with gunicorn(env, workers=workers) as base:
        url = f"{base}/api/v1/submissions"
        time.sleep(1)  # every worker booted
        idle_rss = max(sampler.current()["gunicorn"])
        plain = [pool.body(i, f"plain-{i}") for i in range(args.plain_rows)]
        insert_rates = [plain_inserts(db_url, plain)]  # right before and right after
        post_wrk(url, secret, pool_file, "warm", 2, args.connections)
        single = post_wrk(url, secret, pool_file, "main", args.seconds, args.connections)
        insert_rates.append(plain_inserts(db_url, plain))
        print(f"1. accepted {single['accepted_rate']:.0f}/s {single['statuses']}", flush=True)

        # 2. Processing by two workers, then 3. time to visible with them running.
        with celery_workers(env, r, tmp):
            processed = drain(db_url, args.drain_timeout)
            print(f"2. processed {processed.rate:.1f}/s ({processed})", flush=True)
            with psycopg.connect(db_url) as conn:
                ids = [  # phase 1's
                    row[0]
                    for row in conn.execute(
                        "SELECT id FROM ingest_submission WHERE status = 'accepted'"
                        " ORDER BY received_at LIMIT 1000"
                    )
                ]
            results_rates = [plain_results(db_url, ids, batch=1)]  # now and after 3.
            idle_vis, _ = visible_latency(url, secret, pool, db_url, "idle", rate=0, count=10)
            rate = max(processed.rate / 2, 1.0)
            loaded_vis, achieved = visible_latency(
                url, secret, pool, db_url, "lat", rate=rate,
                count=max(int(rate * args.latency_seconds), 20),
            )  # fmt: skip
            print(f"3. visible at {achieved:.1f}/s: {loaded_vis} (idle {idle_vis})", flush=True)
        results_rates.append(plain_results(db_url, ids, batch=1))

        # 4. Bulk: accepted (no worker consuming), then processed.
        batches = [
            [pool.body(b * args.bulk_size + k, f"bulk-{b}-{k}") for k in range(args.bulk_size)]
            for b in range(args.bulk_batches)
        ]
        batch_runs = [
            [pool.runs_of(b * args.bulk_size + k) for k in range(args.bulk_size)]
            for b in range(args.bulk_batches)
        ]
        runs_per_bundle = sum(map(sum, batch_runs)) / sum(map(len, batch_runs))
        copy_rates = [plain_copy(db_url, batches) * runs_per_bundle]  # before and after
        bulk = bulk_post(f"{url}/bulk", secret, batches, batch_runs)
        copy_rates.append(plain_copy(db_url, batches) * runs_per_bundle)
        print(f"4. bulk {bulk.results_rate:.0f} results/s {dict(bulk.statuses)}", flush=True)
        with celery_workers(env, r, tmp):
            bulk_processed = drain(db_url, args.drain_timeout)
            print(f"4. bulk processed {bulk_processed.results_rate:.0f} results/s", flush=True)
            bulk_ids = [uuid.UUID(i) for i in bulk.ids[:1000]]
            batched_rates = [plain_results(db_url, bulk_ids, batch=50)]  # now and at the end
            # 5. One bundle close to the size limit, through the API and a worker.
            big, big_runs, big_buckets = big_bundle(pool.docs[0], args.max_bytes, 10_000, "big")
            answer = httpx.post(
                url, content=big, timeout=120,
                headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
            )  # fmt: skip
            big_api = drain(db_url, args.drain_timeout)
        batched_rates.append(plain_results(db_url, bulk_ids, batch=50))
    sampler.stop.set()
    sampler.join()

    # 5. Memory of one big submission in a fresh process, against a normal one.
    small = memory_probe(env, pool.body(1, "probe-warm-1"), pool.body(2, "probe-small"), tmp)
    big_probe, _, _ = big_bundle(pool.docs[0], args.max_bytes, 10_000, "big-probe")
    large = memory_probe(env, pool.body(3, "probe-warm-2"), big_probe, tmp)
    r.flushdb()
    load_after = os.getloadavg()[0]
    elapsed = time.perf_counter() - started

    # Report ----------------------------------------------------------------------------------
    lines = _report(
        args=args,
        workers=workers,
        sweep=sweep,
        single=single,
        insert_rates=insert_rates,
        processed=processed,
        results_rates=results_rates,
        idle_vis=idle_vis,
        loaded_vis=loaded_vis,
        achieved=achieved,
        rate=rate,
        bulk=bulk,
        copy_rates=copy_rates,
        bulk_processed=bulk_processed,
        batched_rates=batched_rates,
        idle_rss=idle_rss,
        peaks=sampler.peak,
        big=(len(big), big_runs, big_buckets),
        big_answer=answer.status_code,
        big_api=big_api,
        small=small,
        large=large,
        load=(load_before, load_after),
        elapsed=elapsed,
    )
    print("\n".join(lines))
    if not args.no_doc:
        write_section("ingest", "Ingest: accepted, processed, visible, bulk, memory", lines)
    shutil.rmtree(tmp, ignore_errors=True)  # bodies, Lua scripts, Celery logs


def _report(**k: Any) -> list[str]:
    args = k["args"]
    single, insert_rates = k["single"], k["insert_rates"]
    insert_rate, copy_rate = statistics.fmean(insert_rates), statistics.fmean(k["copy_rates"])
    processed, results_rates = k["processed"], k["results_rates"]
    results_rate = statistics.fmean(results_rates)
    idle_vis, loaded_vis = k["idle_vis"], k["loaded_vis"]
    bulk = k["bulk"]
    bulk_rate = bulk.results_rate
    bulk_processed = k["bulk_processed"]
    per_bundle = bulk_processed.results / bulk_processed.bundles if bulk_processed.bundles else 2
    results_batched = statistics.fmean(k["batched_rates"]) * per_bundle
    small, large = k["small"], k["large"]
    small_delta = small["after_mb"] - small["before_mb"]
    large_delta = large["after_mb"] - large["before_mb"]
    peak_rss = k["peaks"]["gunicorn"]
    size, big_runs, big_buckets = k["big"]
    command = (
        f".venv/bin/python -m bench.bench_ingest --seconds {args.seconds} "
        f"--sweep-seconds {args.sweep_seconds} --workers {args.workers} "
        f"--connections {args.connections} --pool {args.pool} "
        f"--latency-seconds {args.latency_seconds} --bulk-batches {args.bulk_batches} "
        f"--bulk-size {args.bulk_size} --plain-rows {args.plain_rows}"
    )
    codes = ", ".join(f"{c}: {n}" for c, n in sorted(single["statuses"].items()))
    rows = [
        "| # | what | measured | baseline, same run | ratio | target | |",
        "|---|---|---:|---:|---:|---|---|",
        f"| 1 | single bundles answered 202 (gunicorn {k['workers']} sync workers) | "
        f"{single['accepted_rate']:.0f}/s | plain INSERT + commit per row: {insert_rate:.0f}/s "
        f"({insert_rates[0]:.0f} before, {insert_rates[1]:.0f} after) | "
        f"{single['accepted_rate'] / insert_rate:.3f} | ≥ {TARGET_ACCEPT:.0f}/s | "
        f"{_met(single['accepted_rate'] >= TARGET_ACCEPT)} |",
        f"| 2 | bundles processed by 2 Celery workers | {processed.rate:.1f}/s | json.loads + "
        f"INSERT of its result rows + commit per bundle: {results_rate:.0f}/s "
        f"({results_rates[0]:.0f}, {results_rates[1]:.0f}) | "
        f"{processed.rate / results_rate:.3f} | ≥ {TARGET_PROCESS:.0f}/s | "
        f"{_met(processed.complete and processed.rate >= TARGET_PROCESS)} |",
        f"| 3 | 202 to visible, p99 (p50), at {k['achieved']:.1f} bundles/s | "
        f"{loaded_vis['p99']:.2f} s ({loaded_vis['p50']:.2f} s) | one at a time, idle workers: "
        f"{idle_vis['p99']:.2f} s ({idle_vis['p50']:.2f} s) | "
        f"{loaded_vis['p99'] / idle_vis['p99']:.1f} | p99 < {TARGET_VISIBLE_P99_S:.0f} s | "
        f"{_met(loaded_vis['p99'] < TARGET_VISIBLE_P99_S and not loaded_vis.get('unseen'))} |",
        f"| 4 | bulk results answered 202 (NDJSON, {args.bulk_size} a call, 2 clients) | "
        f"{bulk_rate:.0f}/s | COPY FROM STDIN + commit per batch: {copy_rate:.0f}/s "
        f"({k['copy_rates'][0]:.0f} before, {k['copy_rates'][1]:.0f} after) | "
        f"{bulk_rate / copy_rate:.3f} | ≥ {TARGET_BULK:,.0f}/s | "
        f"{_met(bulk_rate >= TARGET_BULK)} |",
        f"| 4 | bulk results processed by 2 workers (50 a task) | "
        f"{bulk_processed.results_rate:.0f}/s | as in 2, 50 bundles per INSERT + commit: "
        f"{results_batched:.0f}/s ({k['batched_rates'][0] * per_bundle:.0f}, "
        f"{k['batched_rates'][1] * per_bundle:.0f}) | "
        f"{bulk_processed.results_rate / results_batched:.3f} | "
        f"(none) | |",
        f"| 5 | largest gunicorn worker RSS, whole bench | {peak_rss:.0f} MB | a worker just "
        f"started: {k['idle_rss']:.0f} MB | {peak_rss / k['idle_rss']:.2f} | < "
        f"{TARGET_RSS_MB:.0f} MB | {_met(peak_rss < TARGET_RSS_MB)} |",
        f"| 5 | peak RSS growth storing + processing a {size / 2**20:.2f} MiB bundle | "
        f"{large_delta:.0f} MB (peak {large['after_mb']:.0f} MB) | a {small['size'] / 1024:.0f} "
        f"KB demo bundle: {small_delta:.0f} MB (peak {small['after_mb']:.0f} MB) | "
        f"{large['after_mb'] / small['after_mb']:.2f} (peaks) | < {TARGET_BIG_DELTA_MB:.0f} MB | "
        f"{_met(large_delta < TARGET_BIG_DELTA_MB and large['status'] == 'accepted')} |",
    ]
    sweep = k["sweep"]
    sweep_line = (
        "gunicorn workers tried (accepted/s, p99): "
        + ", ".join(
            f"{w}: {s['accepted_rate']:.0f}/s, {s['p99_ms']:.0f} ms" for w, s in sweep.items()
        )
        + f" ({args.sweep_seconds} s each after a 2 s warm-up); the best, {k['workers']}, "
        "served the rest of the bench."
        if sweep
        else f"gunicorn workers: {k['workers']} (given)."
    )
    return [
        machine_line(),
        f"Command: `{command}` ({dt.date.today()}; {k['elapsed']:.0f} s). Scratch PostgreSQL "
        "database, Redis db 9 as the broker, everything (wrk, clients, gunicorn, workers, "
        "PostgreSQL) on the same cores; 1-minute load average "
        f"{k['load'][0]:.2f} before and {k['load'][1]:.2f} after (other work shared the "
        "machine: read the ratios, not the absolute figures).",
        "",
        *rows,
        "",
        f"1. wrk, {args.connections} connections, {args.seconds} s after a 2 s warm-up, a Lua "
        f"script posting distinct bodies ({args.pool} demo bundles of ~14 KB, 2 runs each, with a "
        f"unique label spliced in); statuses {codes}; latency p50 {single['p50_ms']:.0f} ms, "
        f"p99 {single['p99_ms']:.0f} ms. Throttles off (bench_env); no worker consumed, tasks "
        f"were only queued. Baseline: psycopg inserting {args.plain_rows} such rows, one "
        "connection, into a scratch copy of ingest_submission (same columns, bytes, indexes), "
        "right before and right after wrk; the mean is the baseline. Each commit waits for its "
        "WAL flush, and the API's workers commit in parallel where the baseline commits from "
        "one connection. " + sweep_line,
        f"2. {processed.bundles} submissions ({processed.results} results; accepted "
        f"{processed.accepted}, rejected {processed.rejected}) in {processed.seconds:.1f} s, "
        "from the first claim until none waits and no leaderboard refresh is pending; "
        "`ingest.process_submission`, one message while none waits (ingest.queueing), "
        "each task a batch of up to 50, workers `celery -A meshmark worker "
        "--concurrency 1 --pool prefork -Q celery` x 2. Baseline (results/s of the table "
        "divided by the runs per bundle): the rows the workers wrote for up to 1,000 of these "
        "bundles, measured twice (right after, and after 3.; the mean is the baseline), one "
        "connection into a scratch copy of ingest_result."
        + ("" if processed.complete else " **Timed out before the end.**"),
        f"3. Asked {k['rate']:.1f} bundles/s (half of 2) for {args.latency_seconds} s, got "
        f"{k['achieved']:.1f}/s; {loaded_vis['n']} bundles, max {loaded_vis['max']:.2f} s, "
        f"{loaded_vis.get('unseen', 0)} never visible within 120 s. Visible: accepted, and every "
        "pending leaderboard refresh mark that existed when it was first seen accepted is gone "
        f"(polled every {POLL_S * 1000:.0f} ms; clock starts when the client has the 202). "
        f"Baseline: {idle_vis['n']} bundles sent one at a time, each once the previous was "
        "visible.",
        f"4. {args.bulk_batches} calls of {args.bulk_size} bundles: {len(bulk.ids)} bundles "
        f"({bulk.results} results) answered 202 in {bulk.seconds:.1f} s (items "
        f"{dict(bulk.statuses)}); "
        f"then {bulk_processed.bundles} bundles ({bulk_processed.results} results) processed in "
        f"{bulk_processed.seconds:.1f} s ({bulk_processed.rate:.1f} bundles/s; single tasks: "
        f"{processed.rate:.1f}/s). Baselines: one connection, COPY of each batch's submission "
        "rows into a scratch copy of ingest_submission + commit, right before and right after "
        "the API run; for processing, as in 2. with one INSERT + commit per 50 bundles, "
        "measured right after the processing and at the end.",
        f"5. RSS sampled every 0.25 s from /proc (VmRSS) for each gunicorn worker; Celery "
        f"processes peaked at {k['peaks']['celery']:.0f} MB. The big bundle: {size:,} bytes, "
        f"{big_runs} runs, {big_buckets:,} histogram buckets in all; through the API it was "
        f"answered {k['big_answer']} and processed in {k['big_api'].seconds:.1f} s "
        f"(accepted {k['big_api'].accepted}). In a fresh process (django.setup(), one small "
        "bundle first so imports and caches are loaded; eager, no broker), "
        "`submission_create` + `submission_process`: RSS "
        f"{large['before_mb']:.0f} MB before, peak {large['after_mb']:.0f} MB, in "
        f"{large['seconds']:.1f} s, status {large['status']} ({large['results']} results); the "
        f"14 KB bundle {small['before_mb']:.0f} MB, peak {small['after_mb']:.0f} MB, in "
        f"{small['seconds'] * 1000:.0f} ms. The peak is VmHWM from /proc/self/status, reset "
        "(clear_refs) right before: getrusage's ru_maxrss is no use in a child process, which "
        "inherits its parent's peak across fork and exec.",
    ]
