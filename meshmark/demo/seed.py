"""Seed the index with the demo corpus through the real ingestion pipeline.

Every generated bundle is stored as a submission (its bytes verbatim) and then
parsed, validated, normalized and scored by ingest's own services, exactly as
an upload through the API would be. Nothing here writes a Result or a Score.

Two paths:

* :func:`seed` submits one bundle at a time with ``submission_create``; the
  processing task runs inline when no broker is configured (eager mode) and is
  queued for the workers otherwise.
* :func:`seed_bulk` is the same pipeline for big corpora in one process: each
  batch of submissions is inserted at once as the bulk endpoint does (deduplicated by
  content digest first) and processed in-process with ``ingest.processing.submissions_process``
  (the bulk endpoint's path: one verdict per submission, one write per table
  and one commit per batch), without Celery; running again resumes.

Both are idempotent: the same seed gives the same bytes, and the index keeps
one submission per organization and content.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar

from django.db import connections

from ingest import leaderboards, processing, submissions, tokens
from ingest.models import ApiToken, Organization, Submission
from ingest.reading import read_at_door
from meshmark.demo import DEFAULT_SEED, fleet
from meshmark.demo.generate import DemoSubmission, generate
from meshmark.demo.kinds import kind_submissions

CONTENT_TYPE = "application/json"
TOKEN_NAME = "demo"  # noqa: S105 - the name of the demo organizations' token, not a secret

Progress = Callable[["SeedReport"], None]
T = TypeVar("T")


@dataclass
class SeedReport:
    """What a seeding run did; ``statuses`` counts the submissions it touched by status."""

    size: int
    created: int = 0
    duplicates: int = 0
    done: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    """Statuses of the capacity, churn and real-world demo runs (seeded after the corpus)."""

    @property
    def rate(self) -> float:
        """Submissions handled per second (created or found)."""
        return self.done / self.seconds if self.seconds else 0.0


def organizations_ensure() -> dict[str, tuple[Organization, ApiToken]]:
    """The demo organizations, each with a token named ``demo``; created when missing."""
    out: dict[str, tuple[Organization, ApiToken]] = {}
    for spec in fleet.ORGANIZATIONS:
        organization = Organization.objects.filter(slug=spec.slug).first()
        if organization is None:
            organization = tokens.organization_create(slug=spec.slug, name=spec.name)
        token = organization.tokens.filter(name=TOKEN_NAME, revoked_at__isnull=True).first()
        if token is None:
            # The secret is not kept: the demo submits in-process, not over HTTP.
            token, _secret = tokens.token_issue(organization=organization, name=TOKEN_NAME)
        out[spec.slug] = (organization, token)
    return out


def seed(
    *,
    size: int,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    every: int = 50,
    kinds: bool = False,
) -> SeedReport:
    """Submit the first ``size`` demo submissions one by one through ``submission_create``,
    then with ``kinds`` the runs of the capacity, churn and real-world profiles
    (meshmark.demo.kinds, counted apart in ``report.kinds``)."""
    report = SeedReport(size=size)
    started = time.perf_counter()
    orgs = organizations_ensure()
    ids: list[uuid.UUID] = []
    for item in generate(size, seed):
        submission, created = _submit(item, orgs)
        ids.append(submission.pk)
        report.created += created
        report.duplicates += not created
        report.done += 1
        if progress and report.done % every == 0:
            report.seconds = time.perf_counter() - started
            progress(report)
    report.statuses = _statuses(ids)
    if kinds:
        report.kinds = seed_kinds(seed, orgs)
    report.seconds = time.perf_counter() - started
    return report


def seed_kinds(seed: int, orgs: dict[str, tuple[Organization, ApiToken]]) -> Counter[str]:
    """Submit the demo runs of the capacity, churn and real-world profiles one by one (a
    few dozen); their statuses."""
    return _statuses([_submit(item, orgs)[0].pk for item in kind_submissions(seed)])


def _submit(
    item: DemoSubmission, orgs: dict[str, tuple[Organization, ApiToken]]
) -> tuple[Submission, bool]:
    """One demo body through ``submission_create``, as its organization's token would send
    it over the API; the submission and whether it is new."""
    organization, token = orgs[item.organization]
    return submissions.submission_create(
        organization=organization,
        body=item.body,
        content_type=CONTENT_TYPE,
        token=token,
        source=Submission.Source.API,
    )


def seed_bulk(
    *,
    size: int,
    seed: int = DEFAULT_SEED,
    batch_size: int = 500,
    jobs: int = 1,
    progress: Progress | None = None,
    kinds: bool = False,
) -> SeedReport:
    """The same corpus, inserted a batch at a time and processed in this process
    (or split among ``jobs`` forked processes), leaderboard rows refreshed once at the end."""
    started = time.perf_counter()
    organizations_ensure()
    if jobs <= 1:
        report = _seed_part(size, seed, batch_size, (0, 1), progress)
    else:
        report = SeedReport(size=size)
        connections.close_all()  # each child opens its own
        context = multiprocessing.get_context("fork")
        with context.Pool(jobs) as pool:
            parts = pool.starmap(
                _seed_part_quietly, [(size, seed, batch_size, (k, jobs)) for k in range(jobs)]
            )
        for part in parts:
            report.created += part.created
            report.duplicates += part.duplicates
            report.done += part.done
            report.statuses.update(part.statuses)
    if kinds:
        report.kinds = seed_kinds(seed, organizations_ensure())
    # Once for the whole corpus: refreshing after every batch re-reads every row again.
    leaderboards.rows_refresh_pending()
    report.seconds = time.perf_counter() - started
    return report


def _seed_part_quietly(size: int, seed: int, batch_size: int, part: tuple[int, int]) -> SeedReport:
    try:
        return _seed_part(size, seed, batch_size, part, None)
    finally:
        connections.close_all()


def _seed_part(
    size: int, seed: int, batch_size: int, part: tuple[int, int], progress: Progress | None
) -> SeedReport:
    report = SeedReport(size=size)
    started = time.perf_counter()
    orgs = organizations_ensure()
    for batch in _chunks(generate(size, seed, part), batch_size):
        rows = [_submission_row(item, orgs) for item in batch]
        known = {
            (org, digest): pk
            for org, digest, pk in Submission.objects.filter(
                content_digest__in=[row.content_digest for row in rows]
            ).values_list("organization_id", "content_digest", "pk")
        }
        fresh = [row for row in rows if (row.organization_id, row.content_digest) not in known]
        # Known ones still waiting (stored while a broker was down) are processed too.
        waiting = Submission.objects.filter(
            pk__in=list(known.values()), status=Submission.Status.RECEIVED
        ).values_list("pk", flat=True)
        submissions.submissions_insert(fresh)  # COPY on PostgreSQL, as the bulk endpoint
        processing.submissions_process(
            submission_ids=[row.pk for row in fresh] + list(waiting), refresh_rows=False
        )
        report.statuses.update(_statuses([row.pk for row in fresh] + list(known.values())))
        report.created += len(fresh)
        report.duplicates += len(rows) - len(fresh)
        report.done += len(rows)
        report.seconds = time.perf_counter() - started
        if progress:
            progress(report)
    report.seconds = time.perf_counter() - started
    return report


def _submission_row(
    item: DemoSubmission, orgs: dict[str, tuple[Organization, ApiToken]]
) -> Submission:
    """The row ``submission_create`` would write for this body (before processing)."""
    organization, token = orgs[item.organization]
    return submissions.submission_build(
        organization=organization,
        body=item.body,
        content_type=CONTENT_TYPE,
        reading=read_at_door(body=item.body, content_type=CONTENT_TYPE),
        token=token,
    )


def _statuses(ids: Sequence[uuid.UUID]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        counts.update(Submission.objects.filter(pk__in=chunk).values_list("status", flat=True))
    return counts


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
