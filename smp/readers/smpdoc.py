"""SMP documents themselves (JSON or YAML): one result, or a bundle of runs.

A document is a result when it is a mapping with ``latencies_ms``, and a
bundle when it has a ``runs`` list of such mappings (see docs/smp.md and the
schemas in ``smp/schema/``). The schema is checked before anything is built;
every schema problem is reported at once. Consistency between figures (units,
ordering, counts) is left to :mod:`smp.consistency`, which callers run next.
"""

from __future__ import annotations

from typing import Any

from smp import document
from smp.errors import Problem, ReaderError
from smp.model import Bundle, PerformanceTestResult

NAME = "smp"

_SNIFF_MARKER = b"latencies_ms"


def _looks_like_result(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("latencies_ms"), dict)


def sniff(data: bytes) -> bool:
    """A JSON/YAML mapping with ``latencies_ms``, or with a ``runs`` list of such mappings."""
    if _SNIFF_MARKER not in data:
        return False
    try:
        doc = document.parse_document(data, NAME)
    except Exception:  # sniff never raises; any parse failure just means "not mine"
        return False
    if document.is_bundle(doc):
        return any(_looks_like_result(run) for run in doc["runs"])
    return _looks_like_result(doc)


def _raise_problems(problems: list[Problem]) -> None:
    if problems:
        raise ReaderError(NAME, "; ".join(str(p) for p in problems))


def _bundle_from_doc(doc: dict[str, Any]) -> Bundle:
    _raise_problems(document.validate_schema(doc, "bundle"))
    bundle = document.bundle_from_dict(doc)
    for run in bundle.runs:
        if run.profile_id is None:
            run.profile_id = bundle.profile
    return bundle


def read_bundle(data: bytes) -> Bundle:
    """The whole bundle. Runs without a ``profile_id`` take the bundle's ``profile``.

    Raises ReaderError listing every schema problem by field path, or saying
    that the document is a single result rather than a bundle.
    """
    doc = document.parse_document(data, NAME)
    if not document.is_bundle(doc):
        raise ReaderError(NAME, "the document is a single result, not a bundle (no 'runs' list)")
    return _bundle_from_doc(doc)


def read(data: bytes) -> list[PerformanceTestResult]:
    """The runs of a bundle, or the one result of a result document."""
    doc = document.parse_document(data, NAME)
    if document.is_bundle(doc):
        return _bundle_from_doc(doc).runs
    _raise_problems(document.validate_schema(doc, "result"))
    return [document.result_from_dict(doc)]
