"""Celery tasks: take ids, call one service, hold no logic.

Task names are stable across refactors (``meshmark.*`` ones included, from when
scoring lived there): messages queued before a deploy still find their task.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from ingest import leaderboards, processing, queueing, scores, selectors
from scoring import FORMULA_VERSION

logger = logging.getLogger(__name__)

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
    """One upload, batched with whatever else is waiting (see submission_process_with_backlog).

    Started, it lets the next upload queue a task again (ingest.queueing) before it reads
    the backlog, so an upload is either in this batch or queues one of its own."""
    queueing.waiting_release(process_submission.app.conf)
    processing.submission_process_with_backlog(submission_id=submission_id, more_waiting=enqueue)


@shared_task(name="ingest.process_submissions", time_limit=600, soft_time_limit=540, **PROCESSING)
def process_submissions(submission_ids: list[str]) -> None:
    """A batch from the bulk endpoint: one verdict each, one write per table."""
    processing.submissions_process(submission_ids=submission_ids)


@shared_task(name="ingest.sweep_submissions", time_limit=120)
def sweep_submissions(older_than_s: int | None = None) -> int:
    """Periodic: queue again the submissions stuck in ``received`` (their message was lost:
    the broker was down at commit time) or ``processing`` (their worker died); the claim
    makes a second delivery harmless. One message per BACKLOG_BATCH of them, then one
    single-upload task (as an upload would queue it) for what arrived since. Returns how
    many were queued."""
    stuck = list(selectors.submissions_stuck(older_than_s=older_than_s))
    for start in range(0, len(stuck), processing.BACKLOG_BATCH):
        enqueue_batch(stuck[start : start + processing.BACKLOG_BATCH])
    if stuck:
        enqueue(stuck[0])
    return len(stuck)


@shared_task(name="meshmark.rescore_batch", acks_late=True, time_limit=600, soft_time_limit=540)
def rescore_batch(after_id: int = 0, version: str = FORMULA_VERSION) -> int | None:
    """Score one batch of results lacking a score of ``version``, then queue the next batch."""
    batch = scores.scores_backfill_batch(version=version, after_id=after_id)
    if batch is None:
        return None
    last_id, _ = batch
    rescore_batch.delay(last_id, version)
    return last_id


@shared_task(name="meshmark.rescore_if_needed", time_limit=60)
def rescore_if_needed() -> bool:
    """Periodic: start a background re-score when results lack a current-version score."""
    if scores.scores_missing(limit=1):
        rescore_batch.delay(0, FORMULA_VERSION)
        return True
    return False


@shared_task(name="meshmark.rebuild_leaderboards", time_limit=1800, soft_time_limit=1700)
def rebuild_leaderboards() -> int:
    """Periodic: rebuild every entry and row of the current version from the scores."""
    return leaderboards.leaderboards_rebuild()


def enqueue(submission_id: Any) -> None:
    """Queue one submission's processing, unless a task is already waiting that will take it
    with its backlog (ingest.queueing). A broker outage must not fail the upload: the
    submission is already stored, and the periodic sweep queues it once the broker is back."""
    conf = process_submission.app.conf
    if not queueing.waiting_claim(conf):
        return
    try:
        process_submission.delay(str(submission_id))
    except Exception:  # kombu/redis raise many kinds of connection errors
        queueing.waiting_release(conf)
        if conf.task_always_eager:
            raise
        logger.warning("could not queue submission %s; the sweep will retry", submission_id)


def enqueue_batch(submission_ids: list[Any]) -> None:
    """Queue a batch (bulk uploads); like :func:`enqueue`, an outage leaves it to the sweep."""
    try:
        process_submissions.delay([str(pk) for pk in submission_ids])
    except Exception:
        if process_submissions.app.conf.task_always_eager:
            raise
        logger.warning("could not queue %d submissions; the sweep will retry", len(submission_ids))
