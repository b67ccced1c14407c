from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client, override_settings


@pytest.mark.django_db
def test_healthz_says_ok_when_the_database_answers(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert connection.vendor == "postgresql"


@pytest.mark.django_db
def test_healthz_reports_eager_mode_when_no_broker_is_configured(client: Client) -> None:
    with override_settings(CELERY_BROKER_URL=""):
        body = client.get("/healthz").json()
    assert body["checks"]["broker"].startswith("not configured")


@pytest.mark.django_db
def test_healthz_checks_a_configured_redis_broker(client: Client) -> None:
    from meshmark.celery import app

    url = "redis://127.0.0.1:6379/15"
    previous = app.conf.broker_url
    app.conf.broker_url = url
    try:
        with override_settings(CELERY_BROKER_URL=url):
            body = client.get("/healthz").json()
    finally:
        app.conf.broker_url = previous
    assert body["checks"]["broker"] == "ok"


@pytest.mark.django_db
def test_healthz_answers_503_naming_an_unreachable_broker(client: Client) -> None:
    from meshmark.celery import app

    url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    previous = app.conf.broker_url
    app.conf.broker_url = url
    try:
        with override_settings(CELERY_BROKER_URL=url):
            response = client.get("/healthz")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")
