"""``/healthz``: is this process able to do its job right now?

Checks the database with a trivial query and, when a broker is configured, that
a connection to it can be opened. Answers 200 when all checks pass and 503 with
the failing check named otherwise, so load balancers and Kubernetes probes can
act on it. The 503 is problem+json with ``Retry-After``, like every answer given
while the database is unreachable (``meshmark.middleware``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from meshmark.middleware import service_unavailable

BROKER_TIMEOUT_S = 2


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not healthy"
        return f"error: {type(exc).__name__}: {exc}".strip()
    return "ok"


def check_broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return "not configured (tasks run eagerly)"
    from meshmark.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
    except Exception as exc:  # kombu raises many transport-specific errors
        return f"error: {type(exc).__name__}: {exc}".strip()
    return "ok"


def healthz(request: HttpRequest) -> HttpResponseBase:
    checks: dict[str, Any] = {"database": check_database(), "broker": check_broker()}
    failing = {name: value for name, value in checks.items() if str(value).startswith("error")}
    if failing:
        # Like any other answer during an outage: problem+json with Retry-After.
        detail = "; ".join(f"{name}: {value}" for name, value in failing.items())
        return service_unavailable(detail, checks=checks)
    response = JsonResponse({"status": "ok", "checks": checks})
    response["Cache-Control"] = "no-store"
    return response
