"""Ingest end to end: accepting, processing, time to visible, bulk, memory.

Each figure stands next to a baseline measured in the same run, on the same
scratch PostgreSQL database (``meshmark_bench_ingest``) and Redis db 9:

1. Single submissions accepted by ``POST /api/v1/submissions`` (202/s): gunicorn
   (sync workers; 2, 3 and 4 tried, the best kept), wrk with a Lua script that
   posts distinct demo bundles (~14 KB, 2 runs each) and counts the statuses;
   no Celery worker consumes, tasks are only queued. Baseline: psycopg
   inserting the same submission rows, one INSERT + commit per row.
2. Those submissions processed by two Celery workers (prefork, concurrency 1
   each): from the first claim until every one is accepted or rejected and no
   leaderboard refresh is pending. Baseline: what the database alone needs to
   store that output, per bundle ``json.loads`` of its body plus one INSERT of
   its result rows (the very rows the workers wrote) + commit.
3. Time from the 202 to visible in the leaderboard, at half the rate measured
   in 2, against the same path one bundle at a time on the idle workers.
4. Bulk uploads (NDJSON, 200 bundles a call, 2 client threads) in results/s,
   against psycopg COPY of the same rows; then their processing by the workers
   (``process_submissions``, 50 a task) against the batched baseline of 2.
5. The largest RSS of any gunicorn worker through the whole bench (against one
   just started), and the peak RSS growth of a fresh process storing and
   processing a bundle close to SUBMISSION_MAX_BYTES (against a 14 KB one).

Usage: .venv/bin/python -m bench.bench_ingest [--seconds 10] [--workers N]
"""
