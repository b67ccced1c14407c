"""A database that cannot be reached answers 503 + Retry-After (problem+json), never 500.

Here the outage is simulated in-process (every query raises what psycopg raises
through Django when the server is gone); tests/e2e/test_fault_postgres.py stops
a real PostgreSQL under a real gunicorn.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.test import Client, RequestFactory, override_settings

from ingest.models import Submission
from meshmark.middleware import server_error
from tests.factories import make_bundle

pytestmark = pytest.mark.django_db


def _refuse(*args: Any) -> None:
    raise OperationalError(
        'connection to server at "127.0.0.1", port 5432 failed: Connection refused'
    )


@pytest.fixture
def database_down() -> Iterator[None]:
    with connection.execute_wrapper(_refuse):
        yield


def _assert_unavailable(response: Any, retry_after: str = "5") -> dict[str, Any]:
    assert response.status_code == 503
    assert response["Retry-After"] == retry_after
    assert response["Content-Type"] == "application/problem+json"
    assert response["Cache-Control"] == "no-store"
    assert "X-Request-ID" in response  # answered through the whole middleware stack
    body: dict[str, Any] = response.json()
    assert body["status"] == 503 and body["title"] == "Service unavailable"
    return body


@pytest.mark.parametrize(
    "path", ["/", "/leaderboards/http-1k", "/api/v1/profiles", "/api/v1/results"]
)
def test_pages_and_the_api_answer_503_with_retry_after_when_the_database_is_down(
    client: Client, database_down: None, path: str
) -> None:
    body = _assert_unavailable(client.get(path))
    assert body["detail"] == "the database is unavailable; retry later"


def test_an_upload_that_loses_the_database_at_its_insert_answers_503_and_leaves_no_row(
    api: Client,
) -> None:
    def refuse_the_insert(execute: Any, sql: str, *args: Any) -> Any:
        if sql.startswith('INSERT INTO "ingest_submission"'):
            _refuse()
        return execute(sql, *args)

    with connection.execute_wrapper(refuse_the_insert):
        response = api.post(
            "/api/v1/submissions", data=make_bundle(), content_type="application/json"
        )
    _assert_unavailable(response)
    assert Submission.objects.count() == 0


def test_healthz_answers_503_with_retry_after_naming_the_database(
    client: Client, database_down: None
) -> None:
    body = _assert_unavailable(client.get("/healthz"))
    assert body["checks"]["database"].startswith("error: OperationalError")
    assert body["detail"].startswith("database: error")


def test_retry_after_comes_from_the_setting(client: Client, database_down: None) -> None:
    with override_settings(DATABASE_UNAVAILABLE_RETRY_AFTER_S=2):
        _assert_unavailable(client.get("/api/v1/profiles"), retry_after="2")


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_the_500_handler_answers_503_for_a_database_error_raised_outside_a_view(
    error: type[Exception],
) -> None:
    request = RequestFactory().get("/upload")
    try:
        raise error("connection already closed")
    except error:
        response = server_error(request)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def test_the_500_handler_keeps_500_for_every_other_error() -> None:
    request = RequestFactory().get("/")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(request)
    assert response.status_code == 500


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_persistent_connection_the_server_dropped_is_replaced_not_failed() -> None:
    """A restart (here: the server ends our session) must not fail the next request: the
    pooled connection is checked before reuse and replaced (CONN_HEALTH_CHECKS)."""
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (before,) = cursor.fetchone()
    params = connection.get_connection_params()
    with psycopg.connect(**{**params, "autocommit": True}) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [before])
    close_old_connections()  # what Django does when the next request starts
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (after,) = cursor.fetchone()
    assert after != before
