"""CSV exports of leaderboards and result lists."""

from __future__ import annotations

import csv
import io
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


def _csv_response(
    filename: str, header: Iterable[str], rows: Iterable[Iterable[Any]]
) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def leaderboard_csv(board: Leaderboard) -> HttpResponse:
    rows = [
        [getattr(row, column) for column in LEADERBOARD_COLUMNS]
        for row in [*board.rows, *board.partial_rows]
    ]
    group = (board.environment_class or "none").replace("/", "_").replace(" ", "")
    return _csv_response(f"meshmark-{board.profile.pk}-{group}.csv", LEADERBOARD_COLUMNS, rows)


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
