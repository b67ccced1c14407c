from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ingest import services
from ingest.models import ApiToken, Organization

from ..factories import make_bundle, make_run

__all__ = ["make_bundle", "make_run", "post_json"]


@pytest.fixture
def bundle_factory() -> Callable[..., dict[str, Any]]:
    return make_bundle


@pytest.fixture
def org(db: Any) -> Organization:
    return services.organization_create(slug="acme", name="Acme Platform Team")


@pytest.fixture
def other_org(db: Any) -> Organization:
    return services.organization_create(slug="globex", name="Globex")


@pytest.fixture
def token(org: Organization) -> tuple[ApiToken, str]:
    return services.token_issue(organization=org, name="ci")


@pytest.fixture
def api(token: tuple[ApiToken, str]) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token[1]}")


def post_json(client: Client, doc: Any, **extra: Any) -> Any:
    return client.post(
        "/api/v1/submissions", data=json.dumps(doc), content_type="application/json", **extra
    )
