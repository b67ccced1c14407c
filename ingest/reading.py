"""How the index calls the one submission reader (:func:`smp.submission.read_submission`):
with the limits the settings choose, cheaply at the door, fully in the worker."""

from __future__ import annotations

from django.conf import settings

from smp.conformance import ConformanceReading, read_conformance
from smp.limits import Limits
from smp.submission import Reading, read_submission


def limits() -> Limits:
    """The limits a body is held to (settings ``SUBMISSION_MAX_*``, under the schema's caps)."""
    return Limits.capped(
        max_bytes=settings.SUBMISSION_MAX_BYTES,
        max_depth=settings.SUBMISSION_MAX_DEPTH,
        max_runs=settings.SUBMISSION_MAX_RUNS,
        max_string_length=settings.SUBMISSION_MAX_STRING_LENGTH,
        max_histogram_buckets=settings.SUBMISSION_MAX_HISTOGRAM_BUCKETS,
    )


def read_at_door(*, body: bytes, content_type: str) -> Reading:
    """The cheap pre-check before a 202: what the body is, and why it is refused if it is."""
    return read_submission(body, content_type, limits=limits(), check=False)


def read_fully(*, body: bytes, content_type: str) -> Reading:
    """Everything: the door's checks, then the schema and the consistency rules."""
    return read_submission(body, content_type, limits=limits(), check=True)


def read_conformance_at_door(*, body: bytes, content_type: str) -> Reading:
    """The door's check of a conformance report, as a :class:`Reading` like any other."""
    found = read_conformance(body, content_type, check=False)
    return Reading(
        found.digest,
        "",
        found.format if found.ok else "",
        problems=found.problems,
        unsupported=found.unsupported,
    )


def read_conformance_fully(*, body: bytes, content_type: str) -> ConformanceReading:
    return read_conformance(body, content_type, check=True)
