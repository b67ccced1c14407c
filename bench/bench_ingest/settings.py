"""Where the ingest bench runs and the targets it checks."""

from __future__ import annotations

import os

BENCH_DB = os.environ.get("BENCH_INGEST_DB", "meshmark_bench_ingest")
BROKER = "redis://127.0.0.1:6379/9"
ORG = "bench"
MARK = "@@BENCH@@"
POLL_S = 0.05
SUBMISSION_COLUMNS = (
    "id, organization_id, token_id, source, raw, content_type, size, sha256, content_digest,"
    " detected_format, status, errors, warnings, attempts, received_at, kind"
)

# Targets of the issue.
TARGET_ACCEPT = 200.0  # bundles/s answered 202
TARGET_PROCESS = 100.0  # bundles/s fully processed by two workers
TARGET_VISIBLE_P99_S = 2.0
TARGET_BULK = 2000.0  # results/s accepted
TARGET_RSS_MB = 300.0  # any gunicorn worker
TARGET_BIG_DELTA_MB = 150.0  # peak RSS growth processing a 5 MB submission
