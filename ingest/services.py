"""Writes: organizations, tokens, submissions (processing is in :mod:`ingest.processing`).

Keyword-only functions named ``<entity>_<action>``; views, tasks and commands
call these and hold no logic of their own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from ingest import intake
from ingest.models import ApiToken, AuditEvent, Organization, Result, Submission
from ingest.processing import copy_rows, submission_finish, submission_process
from ingest.signals import results_listing_changed

logger = logging.getLogger(__name__)

Actor = User | AnonymousUser | None
"""Who acts: a signed-in user, or nobody (the command line, an anonymous request)."""

TOKEN_PREFIX = "mm_"  # noqa: S105 - the public prefix of every token
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
"""``last_used_at`` is written at most this often per token, not on every request."""


# Organizations and tokens -------------------------------------------------------------


def organization_create(*, slug: str, name: str | None = None) -> Organization:
    return Organization.objects.create(slug=slug, name=name or slug)


def token_issue(
    *,
    organization: Organization,
    name: str = "default",
    created_by: Actor = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the secret, which is never stored or shown again."""
    for _ in range(5):
        prefix = secrets.token_hex(4)
        secret = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(30)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    organization=organization,
                    name=name,
                    prefix=prefix,
                    digest=_digest(secret),
                    created_by=_user(created_by),
                )
        except IntegrityError:  # prefix collision: 1 in 4 billion, try again
            continue
        AuditEvent.objects.create(
            action=AuditEvent.Action.TOKEN_ISSUED,
            actor=_user(created_by),
            organization=organization,
            target=str(token),
        )
        return token, secret
    raise RuntimeError("could not find a free token prefix")


def token_revoke(*, token: ApiToken, actor: Actor = None, reason: str = "") -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    AuditEvent.objects.create(
        action=AuditEvent.Action.TOKEN_REVOKED,
        actor=_user(actor),
        organization=token.organization,
        target=str(token),
        reason=reason,
    )


def token_authenticate(*, secret: str) -> ApiToken | None:
    """The token ``secret`` belongs to, revoked or not; None when it matches none.

    The digest comparison is constant-time, so timing says nothing about how
    much of a guess was right.
    """
    parts = secret.split("_")
    if len(parts) < 3 or not secret.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.select_related("organization").filter(prefix=parts[1]).first()
    if token is None or not hmac.compare_digest(token.digest, _digest(secret)):
        return None
    now = timezone.now()
    if token.revoked_at is None and (
        token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def _user(actor: Actor) -> User | None:
    return actor if isinstance(actor, User) else None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# Submissions -------------------------------------------------------------------------


class SubmissionRefused(Exception):
    """The body was stored but refused at the door (malformed or unsupported)."""

    def __init__(self, submission: Submission, *, unsupported: bool) -> None:
        super().__init__(str(submission.errors))
        self.submission = submission
        self.unsupported = unsupported


def submission_create(
    *,
    organization: Organization,
    body: bytes,
    content_type: str,
    token: ApiToken | None = None,
    user: Actor = None,
    idempotency_key: str | None = None,
    source: str = Submission.Source.API,
) -> tuple[Submission, bool]:
    """Store a submission verbatim, then queue it. Returns (submission, created).

    The same content (or the same idempotency key) from the same organization
    returns the first submission instead of a copy. Bodies that are plainly not
    a submission are stored, marked rejected at once, and SubmissionRefused is
    raised so the caller can answer 400/415 straight away.
    """
    max_bytes = settings.SUBMISSION_MAX_BYTES
    digest = intake.content_digest(body, content_type, max_bytes)
    existing = _find_duplicate(organization, digest, idempotency_key)
    if existing is not None:
        return existing, False

    try:
        detected = intake.precheck(body, content_type, max_bytes)
        refusal: intake.IntakeError | None = None
    except intake.IntakeError as exc:
        detected, refusal = "", exc

    try:
        with transaction.atomic():
            submission = Submission.objects.create(
                organization=organization,
                token=token,
                submitted_by=_user(user),
                source=source,
                raw=body,
                content_type=content_type[:255],
                size=len(body),
                sha256=hashlib.sha256(body).hexdigest(),
                content_digest=digest,
                idempotency_key=idempotency_key or None,
                detected_format=detected,
            )
            if refusal is not None:
                submission_finish(submission, Submission.Status.REJECTED, errors=refusal.problems)
            else:
                transaction.on_commit(lambda: _enqueue(submission.pk))
    except IntegrityError:
        # Lost a race with an identical upload: the first one wins.
        existing = _find_duplicate(organization, digest, idempotency_key)
        if existing is None:
            raise
        return existing, False
    if refusal is not None:
        raise SubmissionRefused(submission, unsupported=refusal.unsupported)
    return submission, True


@dataclass
class BulkOutcome:
    """What happened to one document of a bulk upload."""

    index: int
    submission: Submission
    created: bool
    refusal: intake.IntakeError | None = None


BULK_QUEUE_CHUNK = 50
"""Submissions per processing task queued by a bulk upload."""


def submissions_create_bulk(
    *,
    organization: Organization,
    items: Sequence[bytes],
    token: ApiToken | None = None,
    user: Actor = None,
) -> list[BulkOutcome]:
    """Store many JSON documents as submissions at once, each verbatim, and queue them.

    Each item is judged like a single upload: a duplicate of an earlier
    submission of the organization returns that one; a body plainly not a
    submission is stored, rejected at once and reported with its problems.
    One insert for all of them, one commit, and processing queued in chunks.
    """
    max_bytes = settings.SUBMISSION_MAX_BYTES
    digests = [hashlib.sha256(body).hexdigest() for body in items]
    known = {
        digest: sub
        for sub in Submission.objects.filter(organization=organization, content_digest__in=digests)
        for digest in [sub.content_digest]
    }
    outcomes: list[BulkOutcome] = []
    fresh: dict[str, Submission] = {}
    for index, (body, digest) in enumerate(zip(items, digests, strict=True)):
        existing = known.get(digest) or fresh.get(digest)
        if existing is not None:
            outcomes.append(BulkOutcome(index, existing, created=False))
            continue
        try:
            detected, refusal = intake.precheck(body, "application/json", max_bytes), None
        except intake.IntakeError as exc:
            detected, refusal = "", exc
        submission = Submission(
            organization=organization,
            token=token,
            submitted_by=_user(user),
            source=Submission.Source.API,
            raw=body,
            content_type="application/json",
            size=len(body),
            sha256=digest,
            content_digest=digest,
            detected_format=detected,
        )
        if refusal is not None:
            submission.status = Submission.Status.REJECTED
            submission.errors = [p.as_dict() for p in refusal.problems]
            submission.processed_at = timezone.now()
        fresh[digest] = submission
        outcomes.append(BulkOutcome(index, submission, created=True, refusal=refusal))
    with transaction.atomic():
        stored = submissions_insert(list(fresh.values()))
        queued = [
            s.pk
            for s in fresh.values()
            if s.pk in stored and s.status == Submission.Status.RECEIVED
        ]
        for start in range(0, len(queued), BULK_QUEUE_CHUNK):
            chunk = queued[start : start + BULK_QUEUE_CHUNK]
            transaction.on_commit(lambda chunk=chunk: _enqueue_batch(chunk))  # type: ignore[misc]
    lost = {s.pk: s.content_digest for s in fresh.values() if s.pk not in stored}
    if lost:
        winners = {
            sub.content_digest: sub
            for sub in Submission.objects.filter(
                organization=organization, content_digest__in=set(lost.values())
            )
        }
        for outcome in outcomes:
            if outcome.submission.pk in lost:
                outcome.submission = winners[lost[outcome.submission.pk]]
                outcome.created, outcome.refusal = False, None
    return outcomes


def submissions_insert(rows: list[Submission]) -> set[Any]:
    """Insert new submissions; returns the pks stored. A row whose organization and
    content are already stored (a concurrent upload won) is skipped, not an error.

    PostgreSQL takes them with COPY, which skips the per-row statement work and
    Python-side quoting of the bodies; a conflict makes COPY fail as a whole,
    and the batch is then inserted with ON CONFLICT DO NOTHING instead.
    """
    if not rows:
        return set()
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic():
                copy_rows(Submission, rows)
            return {row.pk for row in rows}
        except IntegrityError:
            pass
    Submission.objects.bulk_create(rows, ignore_conflicts=True)
    return set(Submission.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", flat=True))


def _enqueue_batch(submission_ids: list[Any]) -> None:
    """Queue a batch; like :func:`_enqueue`, a broker outage leaves it to the sweep."""
    from ingest.tasks import process_submissions

    try:
        process_submissions.delay([str(pk) for pk in submission_ids])
    except Exception:
        if process_submissions.app.conf.task_always_eager:
            raise
        logger.warning("could not queue %d submissions; the sweep will retry", len(submission_ids))


def _find_duplicate(
    organization: Organization, digest: str, idempotency_key: str | None
) -> Submission | None:
    match = Q(content_digest=digest)
    if idempotency_key:
        match |= Q(idempotency_key=idempotency_key)
    return (
        Submission.objects.filter(match, organization=organization).order_by("received_at").first()
    )


def _enqueue(submission_id: Any) -> None:
    """Queue processing. A broker outage must not fail the upload: the submission
    is already stored, and the periodic sweep queues it once the broker is back."""
    from ingest.tasks import process_submission

    try:
        process_submission.delay(str(submission_id))
    except Exception:  # kombu/redis raise many kinds of connection errors
        if process_submission.app.conf.task_always_eager:
            raise
        logger.warning("could not queue submission %s; the sweep will retry", submission_id)


def submission_sweep(*, older_than_s: int | None = None) -> int:
    """Re-queue submissions stuck in ``received`` or ``processing``; returns how many.

    ``received`` ones may have lost their queue message (broker down at commit
    time); ``processing`` ones lost their worker. Both are claimed again safely.
    """
    age = older_than_s if older_than_s is not None else settings.SUBMISSION_STALE_AFTER_S
    cutoff = timezone.now() - dt.timedelta(seconds=age)
    stuck = Submission.objects.filter(
        Q(status=Submission.Status.RECEIVED, received_at__lt=cutoff)
        | Q(status=Submission.Status.PROCESSING, processing_started_at__lt=cutoff)
    ).values_list("pk", flat=True)
    count = 0
    for pk in stuck.iterator():
        _enqueue(pk)
        count += 1
    return count


def submission_reprocess(*, submissions: Iterable[Submission]) -> int:
    """Run the pipeline again over stored bytes (after a reader or rule changed)."""
    count = 0
    for submission in submissions:
        Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.RECEIVED)
        submission_process(submission_id=submission.pk)
        count += 1
    return count


# Moderation --------------------------------------------------------------------------


def result_set_listed(*, result: Result, listed: bool, reason: str, actor: Actor) -> None:
    """Unlist (or relist) a result: it leaves public lists and aggregates, nothing is deleted."""
    if not listed and not reason.strip():
        raise ValueError("unlisting a result needs a reason")
    Result.objects.filter(pk=result.pk).update(
        is_listed=listed, unlisted_reason="" if listed else reason
    )
    results_listing_changed.send(sender=Result, result_ids=[result.pk])
    AuditEvent.objects.create(
        action=AuditEvent.Action.RESULT_RELISTED if listed else AuditEvent.Action.RESULT_UNLISTED,
        actor=_user(actor),
        organization_id=result.organization_id,
        target=f"result {result.pk}",
        reason=reason,
    )


def organization_set_listed(
    *, organization: Organization, listed: bool, reason: str, actor: Actor
) -> None:
    """Unlist (or relist) an organization and with it all of its results."""
    if not listed and not reason.strip():
        raise ValueError("unlisting an organization needs a reason")
    Organization.objects.filter(pk=organization.pk).update(
        is_listed=listed, unlisted_reason="" if listed else reason
    )
    results_listing_changed.send(
        sender=Organization,
        result_ids=list(organization.submissions.values_list("results__pk", flat=True)),
    )
    AuditEvent.objects.create(
        action=(
            AuditEvent.Action.ORGANIZATION_RELISTED
            if listed
            else AuditEvent.Action.ORGANIZATION_UNLISTED
        ),
        actor=_user(actor),
        organization=organization,
        target=f"organization {organization.slug}",
        reason=reason,
    )
