"""Writes: organizations, tokens, submissions and their processing.

Keyword-only functions named ``<entity>_<action>``; views, tasks and commands
call these and hold no logic of their own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from ingest import intake, normalize
from ingest.models import (
    ApiToken,
    AuditEvent,
    Environment,
    MeshConfig,
    Organization,
    Profile,
    Result,
    Submission,
)
from ingest.signals import results_listing_changed, submission_accepted
from smp import consistency, document
from smp.errors import Problem
from smp.model import Bundle

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
                _finish(submission, Submission.Status.REJECTED, errors=refusal.problems)
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


def submission_claim(*, submission_id: Any) -> bool:
    """Take a submission for processing; False if another worker has it or it is done.

    A conditional UPDATE makes the claim atomic across workers. A submission
    stuck in ``processing`` longer than SUBMISSION_STALE_AFTER (its worker
    died) may be claimed again.
    """
    now = timezone.now()
    stale = now - dt.timedelta(seconds=settings.SUBMISSION_STALE_AFTER_S)
    claimed = (
        Submission.objects.filter(pk=submission_id)
        .filter(
            Q(status=Submission.Status.RECEIVED)
            | Q(status=Submission.Status.PROCESSING, processing_started_at__lt=stale)
        )
        .update(
            status=Submission.Status.PROCESSING,
            processing_started_at=now,
            attempts=F("attempts") + 1,
        )
    )
    return claimed == 1


def submission_process(*, submission_id: Any) -> Submission | None:
    """Parse, validate, normalize and store the results of one submission.

    Safe to run twice: the claim lets one worker in, and results are replaced
    in the same transaction that records the verdict.
    """
    if not submission_claim(submission_id=submission_id):
        return None
    submission = Submission.objects.get(pk=submission_id)
    try:
        problems, warnings, bundle, profile = _check(submission)
        if problems or bundle is None or profile is None:
            _finish(submission, Submission.Status.REJECTED, errors=problems, warnings=warnings)
        else:
            with transaction.atomic():
                _store_results(submission, bundle, profile)
                _finish(submission, Submission.Status.ACCEPTED, warnings=warnings)
                submission_accepted.send(sender=Submission, submission=submission)
    except Exception:
        logger.exception("processing submission %s failed", submission_id)
        _finish(
            submission,
            Submission.Status.REJECTED,
            errors=[
                Problem(
                    "",
                    "internal-error",
                    "processing failed unexpectedly; the submission is kept and will be "
                    "reprocessed once the fault is fixed",
                )
            ],
        )
    return submission


def _check(
    submission: Submission,
) -> tuple[list[Problem], list[Problem], Bundle | None, Profile | None]:
    try:
        doc = intake.bundle_document(
            bytes(submission.raw), submission.content_type, settings.SUBMISSION_MAX_BYTES
        )
    except intake.IntakeError as exc:
        return exc.problems, [], None, None
    problems = document.validate_schema(doc, "bundle")
    if problems:
        return problems, [], None, None
    bundle = document.bundle_from_dict(doc)
    for run in bundle.runs:
        if run.role is None:
            run.role = "mesh"
    found = consistency.check_bundle(bundle)
    errors = [p for p in found if p.rule not in consistency.WARNING_RULES]
    warnings = [p for p in found if p.rule in consistency.WARNING_RULES]
    profile = Profile.objects.filter(pk=bundle.profile).first() if bundle.profile else None
    if profile is None:
        known = ", ".join(Profile.objects.values_list("id", flat=True))
        errors.append(
            Problem(
                "profile",
                "known-profile",
                f"unknown profile {bundle.profile!r}; the standard profiles are: {known}"
                if bundle.profile
                else f"the bundle names no profile; the standard profiles are: {known}",
            )
        )
    return errors, warnings, bundle, profile


def _store_results(submission: Submission, bundle: Bundle, profile: Profile) -> None:
    env_values = normalize.environment_values(bundle.environment)
    environment, created = Environment.objects.get_or_create(
        fingerprint=env_values.fingerprint, defaults=env_values.fields
    )
    if not created and env_values.fields["calibration_score"] is not None:
        Environment.objects.filter(pk=environment.pk).update(
            calibration_probe=env_values.fields["calibration_probe"],
            calibration_score=env_values.fields["calibration_score"],
        )
    submission.results.all().delete()
    baseline_row: Result | None = None
    mesh_rows: list[Result] = []
    for index, run in enumerate(bundle.runs):
        mesh_config, _ = MeshConfig.objects.get_or_create(
            **normalize.mesh_config_values(bundle.mesh_config, role=run.role or "mesh")
        )
        smp_doc = run.to_dict()
        smp_doc.pop("raw", None)
        row = Result(
            submission=submission,
            organization_id=submission.organization_id,
            run_index=index,
            role=run.role or Result.Role.MESH,
            profile=profile,
            environment=environment,
            mesh_config=mesh_config,
            calibration_score=env_values.fields["calibration_score"],
            smp=smp_doc,
            **normalize.run_values(run),
            **normalize.resource_values(run, bundle.mesh_config, bundle.environment),
        )
        row.save()
        if run.role == "baseline":
            baseline_row = row
        else:
            mesh_rows.append(row)
    for row in mesh_rows:
        if baseline_row is None:
            row.ranked = False
            row.unranked_reason = (
                "no baseline run in the same submission: MeshMark compares a mesh run with "
                "a baseline made by the same invocation on the same environment"
            )
        else:
            row.baseline = baseline_row
        row.save(update_fields=["ranked", "unranked_reason", "baseline"])


def _finish(
    submission: Submission,
    status: str,
    *,
    errors: Iterable[Problem] = (),
    warnings: Iterable[Problem] = (),
) -> None:
    submission.status = status
    submission.errors = [p.as_dict() for p in errors]
    submission.warnings = [p.as_dict() for p in warnings]
    submission.processed_at = timezone.now()
    submission.save(update_fields=["status", "errors", "warnings", "processed_at"])


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
