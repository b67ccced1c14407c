"""Celery tasks: take ids, call one service, hold no logic."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from ingest import processing, services

# Processing is safe to repeat (the claim lets one worker in), so a message is
# acknowledged only once done and given back when its worker dies; broker and
# database hiccups are retried with backoff.
PROCESSING: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (ConnectionError, TimeoutError),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(name="ingest.process_submission", time_limit=300, soft_time_limit=240, **PROCESSING)
def process_submission(submission_id: str) -> None:
    """One upload, batched with whatever else is waiting (see submission_process_with_backlog)."""
    processing.submission_process_with_backlog(submission_id=submission_id)


@shared_task(name="ingest.process_submissions", time_limit=600, soft_time_limit=540, **PROCESSING)
def process_submissions(submission_ids: list[str]) -> None:
    """A batch from the bulk endpoint: one verdict each, one write per table."""
    processing.submissions_process(submission_ids=submission_ids)


@shared_task(name="ingest.sweep_submissions", time_limit=120)
def sweep_submissions() -> int:
    return services.submission_sweep()
