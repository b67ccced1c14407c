"""Processing stored submissions, top to bottom: claim, read and check, store the
results, score them, update the leaderboards, record each verdict, commit; then
refresh the leaderboard rows those results touched.

Each submission gets its own checks and verdict; a batch of them is written
with one statement per table and committed once (:func:`submissions_process`).
Scores and leaderboard entries are written in the accepting transaction, so a
scoring fault rejects the submission (``internal-error``) instead of leaving a
result without its score. Keyword-only functions named ``<entity>_<action>``,
called by the Celery tasks (:mod:`ingest.tasks`), the demo seeder and
reprocessing (:mod:`ingest.submissions`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from ingest import conformance, leaderboards, normalize, scores
from ingest.bulkcopy import assign_ids, copy_rows, update_rows
from ingest.models import Environment, MeshConfig, Profile, Result, Submission
from ingest.reading import read_fully
from scoring.admission import Admission, admit
from smp.custom_profiles import CustomProfile, is_custom, profile_of_bundle
from smp.errors import Problem
from smp.model import Bundle

logger = logging.getLogger(__name__)


def submissions_claim(*, submission_ids: Sequence[Any]) -> list[Any]:
    """Take submissions for processing; returns the ids this caller now holds.

    A submission is taken when it is ``received``, or stuck in ``processing``
    longer than SUBMISSION_STALE_AFTER_S (its worker died). Rows another worker
    has locked are skipped (SKIP LOCKED), so two workers split a backlog.
    """
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
    if not submissions_claim(submission_ids=[submission_id]):
        return None
    return _process_claimed([Submission.objects.get(pk=submission_id)])[0]


BACKLOG_BATCH = 50
"""Submissions one worker task takes at most when others are waiting (see below)."""


def submission_process_with_backlog(
    *, submission_id: Any, more_waiting: Callable[[Any], None] | None = None
) -> list[Submission]:
    """Process this submission, and with it the oldest others still waiting, as one batch.

    Under load uploads wait faster than they are processed; taking up to
    BACKLOG_BATCH waiting submissions per task turns per-submission overhead
    (claim, commits, scoring and entry writes, row refresh) into per-batch
    overhead. Idle, it is the single submission alone, so latency does not change.
    When a full batch leaves others waiting, ``more_waiting`` is called with one of
    them once this batch is claimed (the task queues the next task there, so another
    worker takes the next batch while this one is processed: see ingest.queueing).
    """
    waiting = list(
        Submission.objects.filter(status=Submission.Status.RECEIVED)
        .exclude(pk=submission_id)
        .order_by("received_at")
        .values_list("pk", flat=True)[: BACKLOG_BATCH - 1]
    )
    ids = submissions_claim(submission_ids=[submission_id, *waiting])
    if more_waiting is not None and len(waiting) == BACKLOG_BATCH - 1:
        left = (
            Submission.objects.filter(status=Submission.Status.RECEIVED)
            .order_by("received_at")
            .values_list("pk", flat=True)
            .first()
        )
        if left is not None:
            more_waiting(left)
    if not ids:
        return []
    claimed = list(Submission.objects.filter(pk__in=ids).order_by("received_at"))
    return _process_claimed(claimed)


def submissions_process(
    *, submission_ids: Sequence[Any], refresh_rows: bool = True
) -> list[Submission]:
    """:func:`submission_process` for many submissions, with one write per table.

    The bulk endpoint's task and the demo seeder go through here: each body is
    still parsed and checked on its own and gets its own verdict, but the
    results of the whole batch are inserted together and committed once. When
    writing the batch fails, each submission is retried alone, so one bad
    apple costs only itself. Returns the submissions this call processed.

    ``refresh_rows=False`` leaves the leaderboard rows marked for a later
    refresh (the demo seeder refreshes once at the end of a big corpus).
    """
    ids = submissions_claim(submission_ids=submission_ids)
    if not ids:
        return []
    claimed = list(Submission.objects.filter(pk__in=ids).order_by("received_at"))
    return _process_claimed(claimed, refresh_rows=refresh_rows)


def _process_claimed(
    submissions: list[Submission], *, refresh_rows: bool = True
) -> list[Submission]:
    # Conformance reports share the door, the queue and the claim, not the SMP pipeline.
    reports = [s for s in submissions if s.kind == Submission.Kind.CONFORMANCE]
    if reports:
        conformance.conformance_reports_process(submissions=reports)
        rest = [s for s in submissions if s.kind != Submission.Kind.CONFORMANCE]
        return reports + (_process_claimed(rest, refresh_rows=refresh_rows) if rest else [])
    profiles = Profile.objects.in_bulk()
    verdicts = [_checked(submission, profiles) for submission in submissions]
    try:
        with transaction.atomic():
            accepted = [v for v in verdicts if v.accepted]
            _store_results(accepted)
            _finish_all(verdicts)
            # Scores, their leaderboard entries and the marks of the rows to refresh; after
            # the verdicts, as an entry is listed only once its submission is accepted.
            scores.submissions_score(submission_ids=[v.submission.pk for v in accepted])
    except Exception:
        if len(submissions) > 1:
            logger.warning("writing a batch of %d failed; one by one", len(submissions))
            return [
                out
                for one in submissions
                for out in _process_claimed([one], refresh_rows=refresh_rows)
            ]
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
    if refresh_rows:
        # After the commit, so the rows aggregate committed entries only.
        leaderboards.rows_refresh_after_commit()
    return submissions


@dataclass
class _Verdict:
    submission: Submission
    errors: list[Problem]
    warnings: list[Problem]
    bundle: Bundle | None
    profile: Profile | None
    admission: Admission | None = None

    @property
    def accepted(self) -> bool:
        return not self.errors and self.bundle is not None and self.profile is not None


def _checked(submission: Submission, profiles: dict[Any, Profile]) -> _Verdict:
    try:
        return _check(submission, profiles)
    except Exception:
        logger.exception("checking submission %s failed", submission.pk)
        problem = Problem(
            "",
            "internal-error",
            "processing failed unexpectedly; the submission is kept and will be "
            "reprocessed once the fault is fixed",
        )
        return _Verdict(submission, [problem], [], None, None)


def _check(submission: Submission, profiles: dict[Any, Profile]) -> _Verdict:
    """The whole reading of the stored bytes, and the profile the bundle names."""
    read = read_fully(body=bytes(submission.raw), content_type=submission.content_type)
    errors, warnings, bundle = read.errors, read.warnings, read.bundle
    if bundle is None:  # unreadable, or refused before a bundle could be built
        return _Verdict(submission, errors, warnings, None, None)
    profile = profiles.get(bundle.profile) if bundle.profile else None
    if profile is None and is_custom(bundle.profile):
        # A test configuration as its profile: added the first time a bundle carries it.
        custom, problems = profile_of_bundle(bundle)
        if isinstance(custom, CustomProfile):
            profile = profile_for_custom(custom)
            profiles[profile.pk] = profile
        errors += problems
        if problems:
            return _Verdict(submission, errors, warnings, bundle, None)
    if profile is None:
        known = ", ".join(sorted(p for p, row in profiles.items() if not row.custom))
        errors.append(
            Problem(
                "profile",
                "known-profile",
                f"unknown profile {bundle.profile!r}; the standard profiles are: {known}"
                if bundle.profile
                else f"the bundle names no profile; the standard profiles are: {known}",
            )
        )
    if profile is None:
        return _Verdict(submission, errors, warnings, bundle, profile)
    # Which mesh runs the board may rank; the submitter hears every reason as a warning.
    admission = admit(bundle, profile)
    warnings = [*warnings, *admission.all_reasons()]
    return _Verdict(submission, errors, warnings, bundle, profile, admission)


def profile_for_custom(custom: CustomProfile) -> Profile:
    """The Profile row of a custom profile, created the first time it is seen (a concurrent
    worker may create the same one: its id is derived from the config, so it is the same)."""
    fields = custom.profile.as_dict()
    profile, _ = Profile.objects.get_or_create(
        id=custom.id,
        defaults={
            **{k: v for k, v in fields.items() if k != "id"},
            "custom": True,
            "fingerprint": custom.fingerprint,
            "config": custom.config_dict(),
        },
    )
    return profile


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
        # By type and version, matched here: an OR of every key took longer to compile
        # than the query took to run.
        fields = [dict(key) for key in keys]
        for config in MeshConfig.objects.filter(
            mesh_type__in={f["mesh_type"] for f in fields},
            version__in={f["version"] for f in fields},
        ):
            found = _config_key(config)
            if found in keys:
                out[found] = config
    for key in keys - set(out):
        config, _ = MeshConfig.objects.get_or_create(**dict(key))
        out[key] = config
    return out


_CONFIG_FIELDS = ("mesh_type", "version", "mtls", "telemetry", "policy", "proxy_concurrency")


def _config_key(config: MeshConfig) -> tuple[tuple[str, Any], ...]:
    return tuple((name, getattr(config, name)) for name in _CONFIG_FIELDS)


def _store_results(verdicts: list[_Verdict]) -> None:
    """Insert the results of these accepted submissions: baselines first, then mesh runs
    pointing at the baseline of their own submission they are compared with
    (``Bundle.baseline_index_of``: the one baseline, or the one just before them)."""
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
    baselines: dict[tuple[int, int], Result] = {}
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
                **normalize.certification_values(bundle.labels),
            )
            if run.role == "baseline":
                baselines[i, index] = row
            else:
                mesh_rows.append((i, row))
    copying = connection.vendor == "postgresql"
    if copying:  # ids first, so mesh rows can point at their baseline within one COPY
        assign_ids(Result, [*baselines.values(), *(row for _, row in mesh_rows)])
    else:
        Result.objects.bulk_create(list(baselines.values()))
    for i, row in mesh_rows:
        bundle = verdicts[i].bundle
        assert bundle is not None
        base_index = bundle.baseline_index_of(row.run_index)
        row.baseline = baselines.get((i, base_index)) if base_index is not None else None
        admission = verdicts[i].admission
        reasons = admission.reasons.get(row.run_index, []) if admission is not None else []
        row.ranked = not reasons
        row.admission = [p.as_dict() for p in reasons]
        row.unranked_reason = _unranked_reason(reasons)
    if copying:
        copy_rows(Result, [*baselines.values(), *(row for _, row in mesh_rows)])
    else:
        Result.objects.bulk_create([row for _, row in mesh_rows])


def _unranked_reason(reasons: list[Problem]) -> str:
    """The first reason a run is not ranked, and how many more there are."""
    if not reasons:
        return ""
    more = len(reasons) - 1
    return reasons[0].message + (f" (and {more} more: see admission)" if more else "")


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
    fields = ["status", "errors", "warnings", "processed_at"]
    if connection.vendor == "postgresql":
        update_rows(Submission, [v.submission for v in verdicts], fields)
    else:
        Submission.objects.bulk_update([v.submission for v in verdicts], fields)


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
