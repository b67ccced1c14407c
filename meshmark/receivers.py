"""Reactions to ingest's signals. Each only calls a service."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from ingest.signals import results_listing_changed, submissions_accepted, submissions_processed
from meshmark import aggregates, services

logger = logging.getLogger(__name__)


@receiver(submissions_accepted, dispatch_uid="meshmark.score_accepted_submissions")
def score_accepted_submissions(sender: Any, submission_ids: list[Any], **kwargs: Any) -> None:
    services.submissions_score(submission_ids=submission_ids)


@receiver(submissions_processed, dispatch_uid="meshmark.refresh_leaderboard_rows")
def refresh_leaderboard_rows(sender: Any, submission_ids: list[Any], **kwargs: Any) -> None:
    # The submissions are committed and their marks stay until a refresh succeeds (the
    # next submission's, or the periodic rebuild), so a failure here is logged, not raised:
    # it must not fail an upload or a task whose work is already done.
    try:
        aggregates.rows_refresh_pending()
    except Exception:
        logger.exception("refreshing leaderboard rows failed; the marks stay for the next try")


@receiver(results_listing_changed, dispatch_uid="meshmark.relist_in_leaderboards")
def relist_in_leaderboards(sender: Any, result_ids: list[int], **kwargs: Any) -> None:
    aggregates.leaderboards_update_for_results(result_ids=[i for i in result_ids if i])
