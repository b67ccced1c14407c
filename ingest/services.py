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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Model, Q
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
from ingest.signals import results_listing_changed, submissions_accepted, submissions_processed
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
                _copy(Submission, rows)
            return {row.pk for row in rows}
        except IntegrityError:
            pass
    Submission.objects.bulk_create(rows, ignore_conflicts=True)
    return set(Submission.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", flat=True))


def _copy(model: type[Model], objects: list[Any]) -> None:
    """``COPY`` these unsaved objects into their table (every concrete column, defaults and
    ``auto_now_add`` applied as ``save()`` would)."""
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    # psycopg's own cursor (Django's wrapper has no copy()), its errors turned into
    # Django's as the wrapper would (a unique violation becomes IntegrityError).
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor
        with raw.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row(
                    [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
                )


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


def submissions_claim(*, submission_ids: Sequence[Any]) -> list[Any]:
    """Take several submissions at once; returns the ids this caller now holds."""
    now = timezone.now()
    stale = now - dt.timedelta(seconds=settings.SUBMISSION_STALE_AFTER_S)
    with transaction.atomic():
        ids = list(
            Submission.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(submission_ids))
            .filter(
                Q(status=Submission.Status.RECEIVED)
                | Q(status=Submission.Status.PROCESSING, processing_started_at__lt=stale)
            )
            .values_list("pk", flat=True)
        )
        Submission.objects.filter(pk__in=ids).update(
            status=Submission.Status.PROCESSING,
            processing_started_at=now,
            attempts=F("attempts") + 1,
        )
    return ids


def submission_process(*, submission_id: Any) -> Submission | None:
    """Parse, validate, normalize and store the results of one submission.

    Safe to run twice: the claim lets one worker in, and results are replaced
    in the same transaction that records the verdict.
    """
    if not submission_claim(submission_id=submission_id):
        return None
    return _process_claimed([Submission.objects.get(pk=submission_id)])[0]


BACKLOG_BATCH = 50
"""Submissions one worker task takes at most when others are waiting (see below)."""


def submission_process_with_backlog(*, submission_id: Any) -> list[Submission]:
    """Process this submission, and with it the oldest others still waiting, as one batch.

    Under load the queue holds one message per upload; taking up to
    BACKLOG_BATCH waiting submissions per task turns per-submission overhead
    (claim, commits, scoring and entry writes, row refresh) into per-batch
    overhead. The others' own messages then find them done and return at once.
    Idle, it is the single submission alone, so latency does not change.
    """
    waiting = list(
        Submission.objects.filter(status=Submission.Status.RECEIVED)
        .exclude(pk=submission_id)
        .order_by("received_at")
        .values_list("pk", flat=True)[: BACKLOG_BATCH - 1]
    )
    return submissions_process(submission_ids=[submission_id, *waiting])


def submissions_process(*, submission_ids: Sequence[Any]) -> list[Submission]:
    """:func:`submission_process` for many submissions, with one write per table.

    The bulk endpoint's task and the demo seeder go through here: each body is
    still parsed and checked on its own and gets its own verdict, but the
    results of the whole batch are inserted together and committed once. When
    writing the batch fails, each submission is retried alone, so one bad
    apple costs only itself. Returns the submissions this call processed.
    """
    ids = submissions_claim(submission_ids=submission_ids)
    if not ids:
        return []
    return _process_claimed(list(Submission.objects.filter(pk__in=ids).order_by("received_at")))


def _process_claimed(submissions: list[Submission]) -> list[Submission]:
    profiles = Profile.objects.in_bulk()
    verdicts = [_checked(submission, profiles) for submission in submissions]
    try:
        with transaction.atomic():
            accepted = [v for v in verdicts if v.accepted]
            _store_results(accepted)
            _finish_all(verdicts)
            if accepted:
                submissions_accepted.send(
                    sender=Submission, submission_ids=[v.submission.pk for v in accepted]
                )
    except Exception:
        if len(submissions) > 1:
            logger.warning("writing a batch of %d failed; one by one", len(submissions))
            return [out for one in submissions for out in _process_claimed([one])]
        logger.exception("processing submission %s failed", submissions[0].pk)
        _finish(
            submissions[0],
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
    # After the commit, so the read side sees (and aggregates) committed results only.
    submissions_processed.send(sender=Submission, submission_ids=[s.pk for s in submissions])
    return submissions


@dataclass
class _Verdict:
    submission: Submission
    errors: list[Problem]
    warnings: list[Problem]
    bundle: Bundle | None
    profile: Profile | None

    @property
    def accepted(self) -> bool:
        return not self.errors and self.bundle is not None and self.profile is not None


def _checked(submission: Submission, profiles: dict[Any, Profile]) -> _Verdict:
    try:
        return _Verdict(submission, *_check(submission, profiles))
    except Exception:
        logger.exception("checking submission %s failed", submission.pk)
        problem = Problem(
            "",
            "internal-error",
            "processing failed unexpectedly; the submission is kept and will be "
            "reprocessed once the fault is fixed",
        )
        return _Verdict(submission, [problem], [], None, None)


def _check(
    submission: Submission, profiles: dict[Any, Profile]
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
    profile = profiles.get(bundle.profile) if bundle.profile else None
    if profile is None:
        known = ", ".join(sorted(profiles))
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


def _environments(verdicts: list[_Verdict]) -> list[tuple[Environment, Any]]:
    """The Environment row of each accepted bundle (created when new), with its values."""
    values = [normalize.environment_values(v.bundle.environment) for v in verdicts if v.bundle]
    fingerprints = {ev.fingerprint for ev in values}
    found = Environment.objects.in_bulk(list(fingerprints), field_name="fingerprint")
    missing = {ev.fingerprint: ev for ev in values if ev.fingerprint not in found}
    if missing:
        Environment.objects.bulk_create(
            [Environment(fingerprint=fp, **ev.fields) for fp, ev in missing.items()],
            ignore_conflicts=True,  # a concurrent worker may create the same one
        )
        found = Environment.objects.in_bulk(list(fingerprints), field_name="fingerprint")
    calibrated = {
        ev.fingerprint: ev
        for ev in values
        if ev.fingerprint not in missing and ev.fields["calibration_score"] is not None
    }
    for fingerprint, ev in calibrated.items():  # the latest calibration reported wins
        Environment.objects.filter(fingerprint=fingerprint).update(
            calibration_probe=ev.fields["calibration_probe"],
            calibration_score=ev.fields["calibration_score"],
        )
    return [(found[ev.fingerprint], ev) for ev in values]


def _mesh_configs(keys: set[tuple[tuple[str, Any], ...]]) -> dict[Any, MeshConfig]:
    """MeshConfig rows by their field values, created when new."""
    out: dict[Any, MeshConfig] = {}
    if keys:
        match = Q()
        for key in keys:
            match |= Q(**dict(key))
        for config in MeshConfig.objects.filter(match):
            out[_config_key(config)] = config
    for key in keys - set(out):
        config, _ = MeshConfig.objects.get_or_create(**dict(key))
        out[key] = config
    return out


_CONFIG_FIELDS = ("mesh_type", "version", "mtls", "telemetry", "policy", "proxy_concurrency")


def _config_key(config: MeshConfig) -> tuple[tuple[str, Any], ...]:
    return tuple((name, getattr(config, name)) for name in _CONFIG_FIELDS)


def _store_results(verdicts: list[_Verdict]) -> None:
    """Insert the results of these accepted submissions: baselines first, then mesh runs
    pointing at the baseline of their own submission."""
    if not verdicts:
        return
    Result.objects.filter(submission__in=[v.submission.pk for v in verdicts]).delete()
    environments = _environments(verdicts)
    config_of: dict[tuple[int, int], tuple[tuple[str, Any], ...]] = {}
    for i, verdict in enumerate(verdicts):
        assert verdict.bundle is not None
        for index, run in enumerate(verdict.bundle.runs):
            values = normalize.mesh_config_values(
                verdict.bundle.mesh_config, role=run.role or "mesh"
            )
            config_of[i, index] = tuple((name, values[name]) for name in _CONFIG_FIELDS)
    configs = _mesh_configs(set(config_of.values()))
    baselines: dict[int, Result] = {}
    mesh_rows: list[tuple[int, Result]] = []
    for i, verdict in enumerate(verdicts):
        bundle, environment = verdict.bundle, environments[i]
        assert bundle is not None and verdict.profile is not None
        env_row, env_values = environment
        for index, run in enumerate(bundle.runs):
            smp_doc = run.to_dict()
            smp_doc.pop("raw", None)
            row = Result(
                submission=verdict.submission,
                organization_id=verdict.submission.organization_id,
                run_index=index,
                role=run.role or Result.Role.MESH,
                profile=verdict.profile,
                environment=env_row,
                mesh_config=configs[config_of[i, index]],
                calibration_score=env_values.fields["calibration_score"],
                smp=smp_doc,
                **normalize.run_values(run),
                **normalize.resource_values(run, bundle.mesh_config, bundle.environment),
            )
            if run.role == "baseline":
                baselines.setdefault(i, row)
            else:
                mesh_rows.append((i, row))
    copying = connection.vendor == "postgresql"
    if copying:  # ids first, so mesh rows can point at their baseline within one COPY
        _assign_ids(Result, [*baselines.values(), *(row for _, row in mesh_rows)])
    else:
        Result.objects.bulk_create(list(baselines.values()))
    for i, row in mesh_rows:
        baseline = baselines.get(i)
        if baseline is None:
            row.ranked = False
            row.unranked_reason = (
                "no baseline run in the same submission: MeshMark compares a mesh run with "
                "a baseline made by the same invocation on the same environment"
            )
        else:
            row.baseline = baseline
    if copying:
        _copy(Result, [*baselines.values(), *(row for _, row in mesh_rows)])
    else:
        Result.objects.bulk_create([row for _, row in mesh_rows])


def _assign_ids(model: type[Model], objects: list[Any]) -> None:
    """Draw primary keys for these unsaved objects from their table's sequence, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, len(objects)],
        )
        for obj, (pk,) in zip(objects, cursor.fetchall(), strict=True):
            obj.pk = pk


def _finish_all(verdicts: list[_Verdict]) -> None:
    now = timezone.now()
    for verdict in verdicts:
        submission = verdict.submission
        submission.status = (
            Submission.Status.ACCEPTED if verdict.accepted else Submission.Status.REJECTED
        )
        submission.errors = [p.as_dict() for p in verdict.errors]
        submission.warnings = [p.as_dict() for p in verdict.warnings]
        submission.processed_at = now
    Submission.objects.bulk_update(
        [v.submission for v in verdicts], ["status", "errors", "warnings", "processed_at"]
    )


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
