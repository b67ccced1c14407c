"""POST /api/v1/submissions/bulk: many bundles, each stored verbatim and answered on its own."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings

from ingest.models import LeaderboardRow, Organization, Result, Submission

pytestmark = pytest.mark.django_db

URL = "/api/v1/submissions/bulk"
Capture = Callable[..., Any]
Factory = Callable[..., dict[str, Any]]


def _bundles(factory: Factory, n: int) -> list[bytes]:
    return [
        json.dumps(factory(labels={"repeat": str(i)}), separators=(",", ":")).encode()
        for i in range(n)
    ]


def test_ndjson_bundles_are_each_stored_verbatim_queued_and_processed(
    api: Client,
    org: Organization,
    bundle_factory: Factory,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    lines = _bundles(bundle_factory, 3)
    body = b"\n".join([lines[0], lines[1], lines[0], lines[2]]) + b"\n"

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(URL, data=body, content_type="application/x-ndjson")

    assert response.status_code == 202, response.content
    payload = response.json()
    assert (payload["accepted"], payload["duplicates"], payload["refused"]) == (3, 1, 0)
    items = payload["items"]
    assert [i["status"] for i in items] == [202, 202, 200, 202]
    assert items[2]["id"] == items[0]["id"] and items[2]["duplicate"] is True
    for item, line in zip(
        [items[0], items[1], items[3]], [lines[0], lines[1], lines[2]], strict=True
    ):
        submission = Submission.objects.get(pk=item["id"])
        assert bytes(submission.raw) == line
        assert submission.organization == org
        assert submission.status == Submission.Status.ACCEPTED
        assert item["url"].endswith(f"/api/v1/submissions/{item['id']}")
    assert Submission.objects.count() == 3
    assert Result.objects.count() == 6
    row = LeaderboardRow.objects.get()
    assert row.results == 3


def test_a_json_array_keeps_each_elements_own_bytes(
    api: Client, bundle_factory: Factory, django_capture_on_commit_callbacks: Capture
) -> None:
    first = json.dumps(bundle_factory(labels={"n": "1"}), indent=2).encode()
    second = json.dumps(bundle_factory(labels={"n": "ü2"}), ensure_ascii=False).encode()
    body = b" [\n  " + first + b" ,\n\t" + second + b"\n] \n"

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(URL, data=body, content_type="application/json")

    assert response.status_code == 202, response.content
    ids = [item["id"] for item in response.json()["items"]]
    assert [bytes(Submission.objects.get(pk=i).raw) for i in ids] == [first, second]


def test_a_bad_item_is_refused_alone_and_kept(
    api: Client, bundle_factory: Factory, django_capture_on_commit_callbacks: Capture
) -> None:
    good = _bundles(bundle_factory, 1)[0]
    body = good + b'\n{"runs": [NaN]}\n'

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(URL, data=body, content_type="application/x-ndjson")

    assert response.status_code == 202
    good_item, bad_item = response.json()["items"]
    assert good_item["status"] == 202 and good_item["submission_status"] == "received"
    assert bad_item["status"] == 400 and bad_item["submission_status"] == "rejected"
    assert bad_item["errors"] and all(
        {"path", "rule", "message"} <= set(p) for p in bad_item["errors"]
    )
    refused = Submission.objects.get(pk=bad_item["id"])
    assert bytes(refused.raw) == b'{"runs": [NaN]}' and refused.status == "rejected"
    assert Submission.objects.get(pk=good_item["id"]).status == "accepted"


def test_an_item_already_uploaded_alone_is_its_duplicate(
    api: Client, bundle_factory: Factory, django_capture_on_commit_callbacks: Capture
) -> None:
    body = _bundles(bundle_factory, 1)[0]
    single = api.post("/api/v1/submissions", data=body, content_type="application/json").json()

    response = api.post(URL, data=body, content_type="application/x-ndjson")

    assert response.status_code == 200
    assert response.json()["items"][0] == {
        **response.json()["items"][0],
        "id": single["id"],
        "status": 200,
    }
    assert Submission.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status", "rule"),
    [
        (b"{}", "text/csv", 415, "unsupported-media-type"),
        (b'{"runs": []}', "application/json", 400, "type"),
        (b"[{}, {} {}]", "application/json", 400, "malformed-json"),
        (b"[]", "application/json", 400, "required"),
        (b"\n\n", "application/x-ndjson", 400, "required"),
        (b"{}\n" * 4, "application/x-ndjson", 400, "max-items"),
    ],
)
@override_settings(SUBMISSION_BULK_MAX_ITEMS=3)
def test_a_broken_envelope_is_refused_whole_naming_the_rule(
    api: Client, body: bytes, content_type: str, status: int, rule: str
) -> None:
    response = api.post(URL, data=body, content_type=content_type)

    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert rule in {p["rule"] for p in response.json()["errors"]}
    assert Submission.objects.count() == 0


@override_settings(SUBMISSION_BULK_MAX_BYTES=100)
def test_a_body_over_the_bulk_limit_gets_413(api: Client) -> None:
    response = api.post(URL, data=b"{}\n" * 60, content_type="application/x-ndjson")

    assert response.status_code == 413
    assert response.json()["errors"][0]["rule"] == "max-size"
    assert Submission.objects.count() == 0


def test_bulk_uploads_need_a_token(db: Any) -> None:
    response = Client().post(URL, data=b"{}\n", content_type="application/x-ndjson")

    assert response.status_code == 401
    assert Submission.objects.count() == 0


def test_an_insert_that_lost_a_race_keeps_the_winner_and_stores_the_rest(
    org: Organization, bundle_factory: Factory
) -> None:
    from ingest import submissions

    first, second = _bundles(bundle_factory, 2)
    winner, _ = submissions.submission_create(
        organization=org, body=first, content_type="application/json"
    )

    def row(body: bytes) -> Submission:
        digest = hashlib.sha256(body).hexdigest()
        return Submission(organization=org, raw=body, content_type="application/json",
                          size=len(body), sha256=digest, content_digest=digest)  # fmt: skip

    late, other = row(first), row(second)
    stored = submissions.submissions_insert([late, other])  # COPY fails on the conflict

    assert stored == {other.pk}
    assert set(Submission.objects.values_list("pk", flat=True)) == {winner.pk, other.pk}
    assert bytes(Submission.objects.get(pk=other.pk).raw) == second
    assert Submission.objects.get(pk=other.pk).received_at is not None
