"""The scratch database: ids, same-run baselines (INSERT, COPY, result rows), draining."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg

from bench.bench_ingest.settings import ORG, POLL_S, SUBMISSION_COLUMNS


def _ids(db_url: str) -> tuple[int, int]:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT o.id, t.id FROM ingest_organization o JOIN ingest_apitoken t"
            " ON t.organization_id = o.id WHERE o.slug = %s",
            (ORG,),
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def _submission_row(org_id: int, token_id: int, body: bytes) -> tuple[Any, ...]:
    digest = hashlib.sha256(body).hexdigest()
    return (
        uuid.uuid4(), org_id, token_id, "api", body, "application/json", len(body), digest,
        digest, "smp", "received", "[]", "[]", 0, dt.datetime.now(dt.UTC), "smp",
    )  # fmt: skip


def _scratch_copy(conn: psycopg.Connection[Any], table: str, of: str) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} (LIKE {of} INCLUDING ALL)")
    conn.commit()


def plain_inserts(db_url: str, bodies: list[bytes]) -> float:
    """Rows/s: one INSERT + commit per submission row, one connection, into a scratch copy
    of ingest_submission (same columns, indexes and unique constraints)."""
    org_id, token_id = _ids(db_url)
    with psycopg.connect(db_url) as conn:
        _scratch_copy(conn, "bench_submission_copy", "ingest_submission")
        start = time.perf_counter()
        for body in bodies:
            conn.execute(
                f"INSERT INTO bench_submission_copy ({SUBMISSION_COLUMNS})"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                _submission_row(org_id, token_id, body),
            )
            conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE bench_submission_copy")
    return len(bodies) / elapsed


def plain_copy(db_url: str, batches: list[list[bytes]]) -> float:
    """Bundles/s: one COPY FROM STDIN + commit per batch into a scratch copy of the table."""
    org_id, token_id = _ids(db_url)
    with psycopg.connect(db_url) as conn:
        _scratch_copy(conn, "bench_submission_copy", "ingest_submission")
        start = time.perf_counter()
        for batch in batches:
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY bench_submission_copy ({SUBMISSION_COLUMNS}) FROM STDIN") as out,
            ):
                for body in batch:
                    out.write_row(_submission_row(org_id, token_id, body))
            conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE bench_submission_copy")
    return sum(len(b) for b in batches) / elapsed


def plain_results(db_url: str, submission_ids: list[Any], batch: int) -> float:
    """Bundles/s: per ``batch`` submissions, json.loads of each body and one INSERT of their
    result rows (exactly the rows the workers wrote, every column) + commit; one connection."""
    with psycopg.connect(db_url) as conn:
        bodies: dict[Any, bytes] = dict(
            conn.execute(
                "SELECT id, raw FROM ingest_submission WHERE id = ANY(%s)", (submission_ids,)
            ).fetchall()
        )
        rows: dict[Any, list[str]] = {}
        for sid, row in conn.execute(
            "SELECT submission_id, row_to_json(r)::text FROM ingest_result r"
            " WHERE submission_id = ANY(%s)",
            (submission_ids,),
        ):
            rows.setdefault(sid, []).append(row)
        _scratch_copy(conn, "bench_result_copy", "ingest_result")
        ids = [sid for sid in submission_ids if sid in rows]
        start = time.perf_counter()
        for i in range(0, len(ids), batch):
            chunk = ids[i : i + batch]
            for sid in chunk:
                json.loads(bytes(bodies[sid]))
            records = "[" + ",".join(r for sid in chunk for r in rows[sid]) + "]"
            conn.execute(
                "INSERT INTO bench_result_copy"
                " SELECT * FROM json_populate_recordset(NULL::bench_result_copy, %s::json)",
                (records,),
            )
            conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE bench_result_copy")
    return len(ids) / elapsed


@dataclass
class Drain:
    bundles: int
    results: int
    seconds: float
    accepted: int
    rejected: int
    complete: bool

    @property
    def rate(self) -> float:
        return self.bundles / self.seconds if self.seconds else 0.0

    @property
    def results_rate(self) -> float:
        return self.results / self.seconds if self.seconds else 0.0


DRAIN_POLL = """
SELECT count(*) FILTER (WHERE status = 'received'),
       count(*) FILTER (WHERE status IN ('received', 'processing')),
       count(*) FILTER (WHERE status = 'accepted'),
       count(*) FILTER (WHERE status = 'rejected'),
       (SELECT count(*) FROM meshmark_pendingrefresh),
       (SELECT count(*) FROM ingest_result)
FROM ingest_submission
"""


def drain(db_url: str, timeout_s: float) -> Drain:
    """Wait for the workers to process every waiting submission; timed from the first claim
    (a submission leaving ``received``) to no submission waiting and no pending refresh."""
    with psycopg.connect(db_url, autocommit=True) as conn:

        def poll() -> tuple[int, int, int, int, int, int]:
            row = conn.execute(DRAIN_POLL).fetchone()
            assert row is not None
            return row

        _, waiting0, accepted0, rejected0, _, results0 = poll()
        start = None
        deadline = time.monotonic() + timeout_s
        while True:
            now = time.perf_counter()
            received, waiting, accepted, rejected, pending, results = poll()
            if start is None and received < waiting0:
                start = now
            if start is not None and waiting == 0 and pending == 0:
                return Drain(
                    waiting0, results - results0, now - start,
                    accepted - accepted0, rejected - rejected0, True,
                )  # fmt: skip
            if time.monotonic() > deadline:
                done = waiting0 - waiting
                return Drain(
                    done, results - results0, now - (start or now),
                    accepted - accepted0, rejected - rejected0, False,
                )  # fmt: skip
            time.sleep(POLL_S)
