"""Processing stored submissions: claim, parse, validate, normalize, store results.

Each submission gets its own checks and verdict; a batch of them is written
with one statement per table and committed once (:func:`submissions_process`).
The accepting transaction sends ``submissions_accepted`` (scores and
leaderboard entries are written in it), and ``submissions_processed`` follows
the commit. Keyword-only functions named ``<entity>_<action>``, called by the
Celery tasks, the demo seeder and :mod:`ingest.services` (reprocessing).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Model, Q
from django.utils import timezone

from ingest import intake, normalize
from ingest.models import Environment, MeshConfig, Profile, Result, Submission
from ingest.signals import submissions_accepted, submissions_processed
from smp import consistency, document
from smp.errors import Problem
from smp.model import Bundle

logger = logging.getLogger(__name__)


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
        submission_finish(
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
        copy_rows(Result, [*baselines.values(), *(row for _, row in mesh_rows)])
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


def submission_finish(
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


def copy_rows(model: type[Model], objects: list[Any]) -> None:
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
