"""CSV exports of leaderboards and result lists.

Every text cell that a spreadsheet would read as a formula (it begins with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written with a
leading apostrophe, so a mesh version or a load generator's name submitted as
``=HYPERLINK(...)`` stays text; numbers are written as numbers. File names are
built from safe tokens only.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse

from meshmark.selectors import VALUE_FIELDS, Leaderboard

LEADERBOARD_COLUMNS = (
    "rank",
    "tied",
    "complete",
    "mesh_type",
    "mesh_version",
    "mtls",
    "telemetry",
    *VALUE_FIELDS,
    "mesh_config_id",
)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def cell(value: Any) -> Any:
    """A value as a CSV cell: empty for None, numbers as they are, text defused."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_token(text: str) -> str:
    """``text`` reduced to letters, digits, ``.``, ``_`` and ``-`` (others become ``_``),
    for file names in headers."""
    return _UNSAFE.sub("_", text).strip("._") or "none"


def attachment(filename: str) -> str:
    """A Content-Disposition value naming ``filename``, which is made of safe tokens."""
    return f'attachment; filename="{safe_token(filename)}"'


def _csv_response(
    filename: str, header: Iterable[str], rows: Iterable[Iterable[Any]]
) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([cell(h) for h in header])
    for row in rows:
        writer.writerow([cell(v) for v in row])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = attachment(filename)
    return response


def leaderboard_csv(board: Leaderboard) -> HttpResponse:
    rows = [
        [getattr(row, column) for column in LEADERBOARD_COLUMNS]
        for row in [*board.rows, *board.partial_rows]
    ]
    group = safe_token(board.environment_class or "none")
    return _csv_response(
        f"meshmark-{safe_token(board.profile.pk)}-{group}.csv", LEADERBOARD_COLUMNS, rows
    )


def results_csv(results: Iterable[dict[str, Any]]) -> HttpResponse:
    """Flatten serialized results (as the JSON API gives them) into one row each."""
    header = (
        "id", "submission", "organization", "role", "profile", "mesh_type", "mesh_version",
        "mtls", "environment_class", "load_generator", "p50_ms", "p90_ms", "p99_ms", "p999_ms",
        "actual_qps", "requested_qps", "request_count", "error_count", "meshmark",
        "meshmark_version", "created_at",
    )  # fmt: skip
    rows = []
    for r in results:
        score = r.get("meshmark") or {}
        lat = r["latencies_ms"]
        rows.append(
            [
                r["id"],
                r["submission"],
                r["organization"],
                r["role"],
                r["profile"],
                r["mesh"]["type"],
                r["mesh"]["version"],
                r["mesh"]["mtls"],
                r["environment"]["class"],
                r["load_generator"],
                lat["p50"],
                lat["p90"],
                lat["p99"],
                lat["p999"],
                r["actual_qps"],
                r["requested_qps"],
                r["request_count"],
                r["error_count"],
                score.get("score"),
                score.get("version"),
                r["created_at"],
            ]
        )
    return _csv_response("meshmark-results.csv", header, rows)
