"""Members manage their organization's API tokens on the web, with the audit log recording it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from ingest.models import ApiToken, AuditEvent, Membership, Organization
from tests.factories import make_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(org: Organization) -> Client:
    user = User.objects.create_user("ada", password="pw-ada-1234")
    Membership.objects.create(organization=org, user=user)
    client = Client()
    client.force_login(user)
    return client


def issue(client: Client, name: str) -> tuple[Any, str]:
    posted = client.post("/organizations/acme/tokens", {"name": name})
    assert posted.status_code == 302  # post/redirect/get: a reload issues nothing
    response = client.get(posted["Location"])
    assert response.status_code == 200
    match = re.search(
        r'<code class="secret" id="new-token">([^<]+)</code>', response.content.decode()
    )
    assert match is not None
    return response, match.group(1)


def submit(secret: str) -> int:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = make_bundle(labels={"from": "token page"})
    return client.post(
        "/api/v1/submissions", json.dumps(body), content_type="application/json"
    ).status_code


def test_a_member_creates_a_token_that_is_shown_once_and_works(
    member: Client, org: Organization
) -> None:
    response, secret = issue(member, "ci pipeline")

    assert (
        response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    )
    token = ApiToken.objects.get(organization=org, name="ci pipeline")
    assert secret.startswith(f"mm_{token.prefix}_")
    assert secret not in token.digest and len(token.digest) == 64
    assert submit(secret) == 202
    event = AuditEvent.objects.get(action="token-issued")
    assert event.actor.username == "ada" and event.organization == org

    again = member.get("/organizations/acme/tokens").content.decode()
    assert secret not in again  # shown once
    assert f"mm_{token.prefix}_…" in again
    assert "ci pipeline" in again
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert "never" not in re.search(rf'data-token="{token.pk}".*?</tr>', again, re.S).group(0)  # type: ignore[union-attr]


def test_a_member_revokes_a_token_and_it_stops_working(member: Client, org: Organization) -> None:
    _, secret = issue(member, "old laptop")
    token = ApiToken.objects.get(name="old laptop")

    response = member.post(f"/organizations/acme/tokens/{token.pk}/revoke")

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert submit(secret) == 401
    event = AuditEvent.objects.get(action="token-revoked")
    assert event.actor.username == "ada" and "revoked on the web by ada" in event.reason
    page = member.get("/organizations/acme/tokens").content.decode()
    history = re.search(r'<ul class="plain" id="token-history">(.*?)</ul>', page, re.S)
    assert history is not None  # the audit log lists the issue and the revocation
    assert history.group(1).lower().count("token revoked") == 1
    assert history.group(1).lower().count("token issued") == 1


def test_a_token_needs_a_name_of_at_most_100_characters(member: Client) -> None:
    for name in ("   ", "x" * 101):
        response = member.post("/organizations/acme/tokens", {"name": name})
        assert response.status_code == 400
        assert "<code>name</code>" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_strangers_see_nothing_and_cannot_revoke(
    member: Client, org: Organization, other_org: Organization
) -> None:
    theirs = ApiToken.objects.create(organization=other_org, name="x", prefix="abcd1234",
                                     digest="0" * 64)  # fmt: skip

    assert member.get("/organizations/globex/tokens").status_code == 404
    assert member.post(f"/organizations/globex/tokens/{theirs.pk}/revoke").status_code == 404
    assert member.post(f"/organizations/acme/tokens/{theirs.pk}/revoke").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    anonymous = Client().get("/organizations/acme/tokens")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_the_organization_page_links_members_to_their_tokens(member: Client) -> None:
    assert 'id="tokens-link"' in member.get("/organizations/acme").content.decode()
    assert 'id="tokens-link"' not in Client().get("/organizations/acme").content.decode()
