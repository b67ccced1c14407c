"""Conformance reports as submissions: stored verbatim, judged, and kept when accepted.

They go through the same door and queue as SMP results (``submission_create`` with
``kind="conformance"``); processing hands them here
(:func:`conformance_reports_process`), where each gets its verdict with every
problem by path and, when accepted, its ConformanceReport row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from ingest.models import ConformanceReport, Submission
from ingest.reading import read_conformance_fully
from smp.conformance import ConformanceReading
from smp.errors import Problem

logger = logging.getLogger(__name__)


def conformance_reports_process(*, submissions: Sequence[Submission]) -> list[Submission]:
    """Judge these claimed conformance submissions, one transaction each."""
    for submission in submissions:
        try:
            reading = read_conformance_fully(
                body=bytes(submission.raw), content_type=submission.content_type
            )
            with transaction.atomic():
                _store(submission, reading)
        except Exception:
            logger.exception("processing conformance report %s failed", submission.pk)
            _finish(
                submission,
                errors=[
                    Problem(
                        "",
                        "internal-error",
                        "processing failed unexpectedly; the report is kept and will be "
                        "reprocessed once the fault is fixed",
                    )
                ],
                warnings=[],
            )
    return list(submissions)


def _store(submission: Submission, reading: ConformanceReading) -> None:
    ConformanceReport.objects.filter(submission=submission).delete()
    document = reading.document
    if reading.ok and document is not None:
        ConformanceReport.objects.create(
            submission=submission,
            organization_id=submission.organization_id,
            mesh_type=document.mesh_type,
            mesh_version=document.mesh_version,
            reported_version=document.reported_version[:255],
            project=document.project[:255],
            implementation_organization=document.implementation_organization[:255],
            url=document.url[:1024],
            api_version=document.api_version[:128],
            gateway_api_version=document.gateway_api_version[:128],
            gateway_api_channel=document.gateway_api_channel[:32],
            mode=document.mode[:64],
            report_date=document.date[:64],
            profiles=[p.to_dict() for p in document.profiles],
            other_profiles=document.other_profiles,
        )
    _finish(submission, errors=reading.problems, warnings=reading.warnings)


def _finish(submission: Submission, *, errors: list[Problem], warnings: list[Problem]) -> None:
    submission.status = Submission.Status.REJECTED if errors else Submission.Status.ACCEPTED
    submission.errors = [p.as_dict() for p in errors]
    submission.warnings = [p.as_dict() for p in warnings]
    submission.processed_at = timezone.now()
    submission.save(update_fields=["status", "errors", "warnings", "processed_at"])
