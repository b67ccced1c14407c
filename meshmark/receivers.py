"""Reactions to ingest's signals. Each only calls a service."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from ingest.models import Submission
from ingest.signals import results_listing_changed, submission_accepted
from meshmark import aggregates, services


@receiver(submission_accepted, dispatch_uid="meshmark.score_accepted_submission")
def score_accepted_submission(sender: Any, submission: Submission, **kwargs: Any) -> None:
    services.submission_score(submission=submission)


@receiver(results_listing_changed, dispatch_uid="meshmark.relist_in_leaderboards")
def relist_in_leaderboards(sender: Any, result_ids: list[int], **kwargs: Any) -> None:
    aggregates.leaderboards_update_for_results(result_ids=[i for i in result_ids if i])
