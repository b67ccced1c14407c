"""Taking submissions in: store the bytes verbatim, judge them at the door, queue them.

Every body becomes a Submission row before anything else can go wrong; the
door runs the cheap half of the submission reader (:mod:`ingest.reading`) so a body
that is plainly not a submission is refused at once (and kept, rejected).
What follows is :mod:`ingest.processing`, queued once the row has committed.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from ingest import processing, tasks
from ingest.bulkcopy import copy_rows, insert_unless
from ingest.models import ApiToken, Organization, Submission
from ingest.reading import read_at_door, read_conformance_at_door
from ingest.tokens import Actor, actor_user
from smp.errors import Problem
from smp.submission import Reading

BULK_QUEUE_CHUNK = 50
"""Submissions per processing task queued by a bulk upload."""


@dataclass
class Refusal:
    """Why the door refuses a body, and the HTTP status that says so."""

    status: int
    problems: list[Problem]


def door_refusal(*, reading: Reading, original: Submission | None = None) -> Refusal | None:
    """The door's verdict: the reading's problems (415 for what the index does not take,
    else 400), or 409 when these bytes are already accepted under another organization
    (``original``): one run counts once, whoever sends it again (docs/api.md)."""
    if not reading.ok:
        return Refusal(415 if reading.unsupported else 400, reading.errors)
    if original is not None:
        message = (
            f"these bytes are already published by another organization as submission "
            f"{original.pk}; an organization submits the runs it made"
        )
        return Refusal(409, [Problem("", "published-elsewhere", message)])
    return None


def submission_build(
    *,
    organization: Organization,
    body: bytes,
    content_type: str,
    reading: Reading,
    refusal: Refusal | None = None,
    token: ApiToken | None = None,
    user: Actor = None,
    idempotency_key: str | None = None,
    source: str = Submission.Source.API,
) -> Submission:
    """The unsaved row for a body read at the door: received, or already rejected
    with the door's ``refusal`` (by default, the reading's own problems)."""
    refusal = refusal if refusal is not None else door_refusal(reading=reading)
    submission = Submission(
        organization=organization,
        token=token,
        submitted_by=actor_user(user),
        source=source,
        raw=body,
        content_type=content_type[:255],
        size=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        content_digest=reading.digest,
        idempotency_key=idempotency_key or None,
        detected_format=reading.format if reading.ok else "",
    )
    if refusal is not None:
        submission.status = Submission.Status.REJECTED
        submission.errors = [p.as_dict() for p in refusal.problems]
        submission.processed_at = timezone.now()
    return submission


class SubmissionRefused(Exception):
    """The body was stored but refused at the door; ``status`` is the HTTP answer."""

    def __init__(self, submission: Submission, *, status: int) -> None:
        super().__init__(str(submission.errors))
        self.submission = submission
        self.status = status


def submission_create(
    *,
    organization: Organization,
    body: bytes,
    content_type: str,
    token: ApiToken | None = None,
    user: Actor = None,
    idempotency_key: str | None = None,
    source: str = Submission.Source.API,
    kind: str = Submission.Kind.SMP,
) -> tuple[Submission, bool]:
    """Store a submission verbatim, then queue it. Returns (submission, created).

    The same content (or the same idempotency key) from the same organization
    returns the first submission instead of a copy. Bodies that are plainly not
    a submission are stored, marked rejected at once, and SubmissionRefused is
    raised so the caller can answer 400/415 straight away. ``kind`` says which
    reader judges the body at the door and in processing (SMP results, or a
    Gateway API conformance report: :mod:`ingest.conformance`).
    """
    if kind == Submission.Kind.CONFORMANCE:
        reading = read_conformance_at_door(body=body, content_type=content_type)
    else:
        reading = read_at_door(body=body, content_type=content_type)

    def build(refusal: Refusal | None = None) -> Submission:
        submission = submission_build(
            organization=organization,
            body=body,
            content_type=content_type,
            reading=reading,
            refusal=refusal,
            token=token,
            user=user,
            idempotency_key=idempotency_key,
            source=source,
        )
        submission.kind = kind
        return submission

    if reading.ok and connection.vendor == "postgresql":
        # The usual case, a new body, in one statement: stored unless another organization
        # already published these bytes or this one sent them (or this key) before; those
        # cases take the path below, which says which it is.
        submission = build()
        if insert_unless(
            submission,
            condition=_PUBLISHED_ELSEWHERE,
            params=[reading.digest, Submission.Status.ACCEPTED, organization.pk],
        ):
            transaction.on_commit(functools.partial(tasks.enqueue, submission.pk))
            return submission, True
    existing, elsewhere = _same_content(organization, reading.digest, idempotency_key)
    if existing is not None:
        return existing, False
    refusal = door_refusal(reading=reading, original=elsewhere)
    submission = build(refusal)
    try:
        with transaction.atomic():
            submission.save(force_insert=True)
            if refusal is None:
                # Processing starts once the row is committed, so the worker finds it.
                transaction.on_commit(functools.partial(tasks.enqueue, submission.pk))
    except IntegrityError:
        # Lost a race with an identical upload: the first one wins.
        existing, _ = _same_content(organization, reading.digest, idempotency_key)
        if existing is None:
            raise
        return existing, False
    if refusal is not None:
        raise SubmissionRefused(submission, status=refusal.status)
    return submission, True


_PUBLISHED_ELSEWHERE = (
    "EXISTS (SELECT 1 FROM ingest_submission WHERE content_digest = %s AND status = %s"
    " AND organization_id <> %s)"
)
"""What :func:`_same_content` calls ``other``: the bytes accepted under another organization."""


@dataclass
class BulkOutcome:
    """What happened to one document of a bulk upload."""

    index: int
    submission: Submission
    created: bool
    refusal: Refusal | None = None


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
    readings = [read_at_door(body=body, content_type="application/json") for body in items]
    known: dict[str, Submission] = {}
    elsewhere: dict[str, Submission] = {}
    for sub in Submission.objects.filter(content_digest__in=[r.digest for r in readings]).order_by(
        "received_at"
    ):
        if sub.organization_id == organization.pk:
            known.setdefault(sub.content_digest, sub)
        elif sub.status == Submission.Status.ACCEPTED:
            elsewhere.setdefault(sub.content_digest, sub)
    outcomes: list[BulkOutcome] = []
    fresh: dict[str, Submission] = {}
    for index, (body, reading) in enumerate(zip(items, readings, strict=True)):
        existing = known.get(reading.digest) or fresh.get(reading.digest)
        if existing is not None:
            outcomes.append(BulkOutcome(index, existing, created=False))
            continue
        refusal = door_refusal(reading=reading, original=elsewhere.get(reading.digest))
        submission = submission_build(
            organization=organization,
            body=body,
            content_type="application/json",
            reading=reading,
            refusal=refusal,
            token=token,
            user=user,
        )
        fresh[reading.digest] = submission
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
            transaction.on_commit(functools.partial(tasks.enqueue_batch, chunk))
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


def _same_content(
    organization: Organization, digest: str, idempotency_key: str | None
) -> tuple[Submission | None, Submission | None]:
    """In one query: this organization's earlier submission of the same content (or
    idempotency key), and the first accepted one of another organization."""
    match = Q(content_digest=digest)
    if idempotency_key:
        match |= Q(organization=organization, idempotency_key=idempotency_key)
    own: Submission | None = None
    other: Submission | None = None
    # Not the stored bytes: a match's body can be megabytes, and only its row is answered.
    for sub in Submission.objects.filter(match).defer("raw").order_by("received_at")[:50]:
        if sub.organization_id == organization.pk:
            own = own or sub
        elif sub.status == Submission.Status.ACCEPTED and sub.content_digest == digest:
            other = other or sub
    return own, other


def submission_reprocess(*, submissions: Iterable[Submission]) -> int:
    """Run the pipeline again over stored bytes (after a reader or rule changed)."""
    count = 0
    for submission in submissions:
        Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.RECEIVED)
        processing.submission_process(submission_id=submission.pk)
        count += 1
    return count
