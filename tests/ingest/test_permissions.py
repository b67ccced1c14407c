"""Who may do what: every endpoint and page for anonymous, members of A and B, a revoked
token and staff. Nobody sees or changes another organization's submissions, and
private fields never appear in public responses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from ingest import tokens
from ingest.models import Membership, Organization, Result, Submission
from tests.factories import make_bundle

pytestmark = pytest.mark.django_db

ACTORS = ("anonymous", "token_a", "token_b", "revoked_a", "member_a", "member_b", "staff")


@pytest.fixture
def world(
    org: Organization, other_org: Organization, django_capture_on_commit_callbacks: Any
) -> dict[str, Any]:
    _, secret_a = tokens.token_issue(organization=org)
    _, secret_b = tokens.token_issue(organization=other_org)
    revoked, secret_revoked = tokens.token_issue(organization=org, name="old")
    tokens.token_revoke(token=revoked)
    clients: dict[str, Client] = {
        "anonymous": Client(),
        "token_a": Client(HTTP_AUTHORIZATION=f"Bearer {secret_a}"),
        "token_b": Client(HTTP_AUTHORIZATION=f"Bearer {secret_b}"),
        "revoked_a": Client(HTTP_AUTHORIZATION=f"Bearer {secret_revoked}"),
    }
    for name, organization in (("member_a", org), ("member_b", other_org)):
        user = User.objects.create_user(name, password="a-long-password-1")
        Membership.objects.create(organization=organization, user=user)
        clients[name] = Client()
        clients[name].force_login(user)
    staff = User.objects.create_user("staff", password="a-long-password-1", is_staff=True,
                                     is_superuser=True)  # fmt: skip
    clients["staff"] = Client()
    clients["staff"].force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        accepted = (
            clients["token_a"]
            .post(
                "/api/v1/submissions",
                data=json.dumps(make_bundle()),
                content_type="application/json",
            )
            .json()["id"]
        )
        rejected = (
            clients["token_a"]
            .post(
                "/api/v1/submissions",
                data=json.dumps(make_bundle(profile="nope")),
                content_type="application/json",
            )
            .json()["id"]
        )
    return {
        "clients": clients,
        "accepted": accepted,
        "rejected": rejected,
        "secrets": [secret_a, secret_b, secret_revoked],
    }


def _matrix(world: dict[str, Any], request: Callable[[Client], Any]) -> dict[str, int]:
    return {name: request(world["clients"][name]).status_code for name in ACTORS}


def test_only_an_active_token_may_submit(world: dict[str, Any]) -> None:
    def post(client: Client) -> Any:
        body = json.dumps(make_bundle(labels={"who": str(id(client))}))
        return client.post("/api/v1/submissions", data=body, content_type="application/json")

    assert _matrix(world, post) == {
        "anonymous": 401,
        "token_a": 202,
        "token_b": 202,
        "revoked_a": 401,
        "member_a": 401,  # the API takes tokens, not browser sessions
        "member_b": 401,
        "staff": 401,
    }


def test_a_submission_is_visible_only_to_its_organization_and_staff(world: dict[str, Any]) -> None:
    url = f"/api/v1/submissions/{world['accepted']}"
    assert _matrix(world, lambda c: c.get(url)) == {
        "anonymous": 404,
        "token_a": 200,
        "token_b": 404,
        "revoked_a": 401,
        "member_a": 200,
        "member_b": 404,
        "staff": 200,
    }


def test_the_submission_page_follows_the_same_rule(world: dict[str, Any]) -> None:
    url = f"/submissions/{world['accepted']}"
    assert _matrix(world, lambda c: c.get(url)) == {
        "anonymous": 302,  # to the sign-in page
        "token_a": 302,  # pages use sessions; a token is not a sign-in
        "token_b": 302,
        "revoked_a": 302,
        "member_a": 200,
        "member_b": 404,
        "staff": 200,
    }


def test_public_reads_are_public_for_everyone(world: dict[str, Any]) -> None:
    result = Result.objects.filter(submission_id=world["accepted"], role="mesh").get()
    for url in (
        "/api/v1/results",
        f"/api/v1/results/{result.pk}",
        "/api/v1/profiles",
        "/api/v1/meshes",
        "/api/v1/environments",
        "/api/v1/leaderboards/http-1k",
        f"/results/{result.pk}",
        "/leaderboards/http-1k",
        f"/submissions/{world['accepted']}/raw",
    ):
        codes = {name: world["clients"][name].get(url).status_code for name in ACTORS}
        # A revoked token on a public read is simply ignored, not an error.
        assert set(codes.values()) == {200}, (url, codes)


def test_raw_bytes_of_a_rejected_submission_are_not_public(world: dict[str, Any]) -> None:
    url = f"/submissions/{world['rejected']}/raw"
    assert set(_matrix(world, lambda c: c.get(url)).values()) == {404}


def test_upload_and_admin_pages_need_the_right_sign_in(world: dict[str, Any]) -> None:
    upload = _matrix(world, lambda c: c.get("/upload"))
    assert upload["anonymous"] == 302 and upload["member_a"] == 200 and upload["staff"] == 200
    admin = _matrix(world, lambda c: c.get("/admin/ingest/submission/"))
    assert admin["staff"] == 200
    assert {admin[n] for n in ACTORS if n != "staff"} == {302}


def test_no_other_organization_can_hide_or_replace_a_submission(world: dict[str, Any]) -> None:
    # B sending A's exact bytes is a replay: refused (409, naming A's); A's is untouched.
    original = Submission.objects.get(pk=world["accepted"])
    response = world["clients"]["token_b"].post(
        "/api/v1/submissions", data=bytes(original.raw), content_type="application/json"
    )
    assert response.status_code == 409
    assert response.json()["submission"]["id"] != world["accepted"]
    original.refresh_from_db()
    assert original.status == "accepted" and original.organization.slug == "acme"
    # There is no endpoint that edits or deletes submissions.
    url = f"/api/v1/submissions/{world['accepted']}"
    for method in ("put", "patch", "delete"):
        assert getattr(world["clients"]["token_b"], method)(url).status_code in (404, 405)
        assert getattr(world["clients"]["token_a"], method)(url).status_code == 405
    assert Submission.objects.filter(pk=world["accepted"]).exists()


def test_private_fields_never_appear_in_public_responses(world: dict[str, Any]) -> None:
    result = Result.objects.filter(submission_id=world["accepted"], role="mesh").get()
    token = original_token = Submission.objects.get(pk=world["accepted"]).token
    assert original_token is not None
    anonymous = world["clients"]["anonymous"]
    bodies = [
        anonymous.get(url).content.decode()
        for url in (
            "/api/v1/results?limit=100",
            f"/api/v1/results/{result.pk}",
            f"/api/v1/results/{result.pk}?format=smp-json",
            "/api/v1/results?format=csv",
            f"/results/{result.pk}",
        )
    ]
    for text in bodies:
        for secret in world["secrets"]:
            assert secret not in text
        assert token.digest not in text
        assert token.prefix not in text
        assert "REMOTE_ADDR" not in text and "127.0.0.1" not in text
