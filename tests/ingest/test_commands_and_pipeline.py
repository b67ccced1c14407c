from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from ingest import processing, submissions, tasks
from ingest.models import ApiToken, AuditEvent, Organization, Result, Submission

from .conftest import make_bundle, post_json

pytestmark = pytest.mark.django_db


def test_create_org_and_issue_token_print_a_usable_token(db: Any) -> None:
    out = io.StringIO()
    call_command("create_org", "initech", "--name", "Initech", stdout=out)
    assert "created organization initech" in out.getvalue()
    out = io.StringIO()
    call_command("issue_token", "initech", "--name", "ci", stdout=out, stderr=io.StringIO())
    secret = out.getvalue().strip().splitlines()[-1]
    assert secret.startswith("mm_")
    token = ApiToken.objects.get(organization__slug="initech")
    assert token.name == "ci"
    assert secret not in token.digest  # only the hash is stored
    response = post_json(Client(HTTP_AUTHORIZATION=f"Bearer {secret}"), make_bundle())
    assert response.status_code == 202
    assert AuditEvent.objects.filter(action="token-issued").count() == 1


def test_create_org_refuses_duplicates_and_bad_slugs(org: Organization) -> None:
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_org", "acme")
    with pytest.raises(CommandError, match="not a valid slug"):
        call_command("create_org", "Not A Slug")


def test_issue_token_names_an_unknown_organization(db: Any) -> None:
    with pytest.raises(CommandError, match="no organization 'nope'"):
        call_command("issue_token", "nope")


def _stored(org: Organization, doc: dict[str, Any], status: str = "received") -> Submission:
    body = json.dumps(doc).encode()
    return Submission.objects.create(
        organization=org,
        raw=body,
        content_type="application/json",
        size=len(body),
        sha256="x" * 64,
        content_digest=str(hash(body)),
        status=status,
    )


def test_processing_twice_does_not_duplicate_results(org: Organization) -> None:
    submission = _stored(org, make_bundle())
    processing.submission_process(submission_id=submission.pk)
    assert processing.submission_process(submission_id=submission.pk) is None  # already done
    submission.refresh_from_db()
    assert submission.status == "accepted"
    assert submission.attempts == 1
    assert Result.objects.count() == 2


def test_reprocess_reruns_the_pipeline_over_stored_bytes(org: Organization) -> None:
    good = _stored(org, make_bundle())
    processing.submission_process(submission_id=good.pk)
    first_ids = set(Result.objects.values_list("pk", flat=True))
    out = io.StringIO()
    call_command("reprocess", "--organization", "acme", stdout=out)
    assert "reprocessed 1 submissions; 1 accepted" in out.getvalue()
    good.refresh_from_db()
    assert good.status == "accepted" and good.attempts == 2
    assert Result.objects.count() == 2
    assert set(Result.objects.values_list("pk", flat=True)).isdisjoint(first_ids)


def test_reprocess_filters_by_status(org: Organization) -> None:
    rejected = _stored(org, make_bundle(profile="nope"))
    accepted = _stored(org, make_bundle(labels={"n": "2"}))
    for s in (rejected, accepted):
        processing.submission_process(submission_id=s.pk)
    out = io.StringIO()
    call_command("reprocess", "--status", "rejected", stdout=out)
    assert "reprocessed 1 submissions; 0 accepted" in out.getvalue()
    accepted.refresh_from_db()
    assert accepted.attempts == 1  # untouched


def test_the_sweep_requeues_stuck_submissions_and_they_finish(
    org: Organization, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    old = timezone.now() - dt.timedelta(hours=1)
    lost = _stored(org, make_bundle())
    Submission.objects.filter(pk=lost.pk).update(received_at=old)
    crashed = _stored(org, make_bundle(labels={"n": "2"}), status="processing")
    Submission.objects.filter(pk=crashed.pk).update(processing_started_at=old)
    fresh = _stored(org, make_bundle(labels={"n": "3"}))
    assert tasks.sweep_submissions() == 2  # eager mode: processed right away
    statuses = dict(Submission.objects.values_list("pk", "status"))
    assert statuses[lost.pk] == "accepted"
    assert statuses[crashed.pk] == "accepted"
    # Not stuck yet, so not re-queued (the 2 above); a worker task takes it along
    # with the backlog anyway.
    assert statuses[fresh.pk] == "accepted"


def test_a_submission_being_processed_is_not_claimed_twice(org: Organization) -> None:
    submission = _stored(org, make_bundle(), status="processing")
    Submission.objects.filter(pk=submission.pk).update(processing_started_at=timezone.now())
    assert processing.submissions_claim(submission_ids=[submission.pk]) == []


def test_an_unexpected_fault_rejects_with_a_reason_and_keeps_the_bytes(
    org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    submission = _stored(org, make_bundle())

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(processing, "_store_results", explode)
    processing.submission_process(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == "rejected"
    assert submission.errors[0]["rule"] == "internal-error"
    assert json.loads(bytes(submission.raw)) == make_bundle()
    assert Result.objects.count() == 0


def test_admin_can_unlist_a_result_with_a_reason_on_record(
    admin_client: Client, org: Organization
) -> None:
    submission = _stored(org, make_bundle())
    processing.submission_process(submission_id=submission.pk)
    result = Result.objects.get(role="mesh")
    url = "/admin/ingest/result/"
    ask = admin_client.post(url, {"action": "unlist", "_selected_action": [result.pk]})
    assert ask.status_code == 200
    assert b"reason" in ask.content
    done = admin_client.post(
        url,
        {"action": "unlist", "_selected_action": [result.pk], "apply": "1", "reason": "bad run"},
    )
    assert done.status_code == 302
    result.refresh_from_db()
    assert result.is_listed is False and result.unlisted_reason == "bad run"
    event = AuditEvent.objects.get(action="result-unlisted")
    assert event.reason == "bad run" and event.actor is not None


def test_a_worker_task_takes_the_waiting_backlog_in_one_batch(
    org: Organization, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    from ingest.tasks import process_submission

    ids = []
    for i in range(12):  # stored, never queued (the commit hooks do not run here)
        body = json.dumps(make_bundle(labels={"n": str(i)})).encode()
        submission, _ = submissions.submission_create(
            organization=org, body=body, content_type="application/json"
        )
        ids.append(submission.pk)
    bad = Submission.objects.get(pk=ids[3])
    Submission.objects.filter(pk=bad.pk).update(raw=b'{"runs": "no"}')

    # One task: its own submission plus the 11 waiting ones in 48 statements; one
    # batch per submission would take about 12 times as many.
    with django_assert_max_num_queries(60):
        process_submission(str(ids[-1]))

    statuses = dict(Submission.objects.values_list("pk", "status"))
    assert statuses.pop(ids[3]) == "rejected"
    assert set(statuses.values()) == {"accepted"}
    assert Result.objects.count() == 22
    assert not Submission.objects.filter(attempts__gt=1).exists()
    process_submission(str(ids[0]))  # its own message arrives later: nothing left to do
    assert not Submission.objects.filter(attempts__gt=1).exists()
