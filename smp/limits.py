"""What one SMP document may hold, checked before anything else reads it.

The index checks these at its door (settings ``SUBMISSION_MAX_*`` choose the
values), so a client hears at once that a body is over a limit; every limit
can lower, never raise, the cap the SMP JSON Schema puts on the same thing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from smp import document
from smp.errors import Problem

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_STRING_LENGTH = 4096

MAX_LIMIT_PROBLEMS = 20
"""Over-limit problems listed for one document; the rest are counted in one more."""


@dataclass(frozen=True)
class Limits:
    """What one submission may hold. ``max_bytes`` bounds a whole body (and the parts
    of a form held in memory); the others one SMP document. A document refused here
    would be refused by the schema later anyway; the client hears it at once."""

    max_bytes: int
    max_depth: int
    max_runs: int
    max_string_length: int
    max_histogram_buckets: int

    @classmethod
    def capped(
        cls,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_depth: int = DEFAULT_MAX_DEPTH,
        max_runs: int | None = None,
        max_string_length: int = DEFAULT_MAX_STRING_LENGTH,
        max_histogram_buckets: int | None = None,
    ) -> Limits:
        """These limits, never above the schema's own caps (None: the schema's cap)."""
        caps = schema_caps()
        return cls(
            max_bytes=max_bytes,
            max_depth=max_depth,
            max_runs=min(max_runs or caps["runs"], caps["runs"]),
            max_string_length=max_string_length,
            max_histogram_buckets=min(
                max_histogram_buckets or caps["histogram"], caps["histogram"]
            ),
        )


@functools.cache
def schema_caps() -> dict[str, int]:
    """The caps the SMP schemas put on what the door checks too (smp/schema/)."""
    result, bundle = document.load_schema("result"), document.load_schema("bundle")
    return {
        "runs": bundle["properties"]["runs"]["maxItems"],
        "histogram": result["properties"]["histogram"]["maxItems"],
        # The two long texts: a tool's native output kept verbatim, a request body.
        "raw.content": result["properties"]["raw"]["properties"]["content"]["maxLength"],
        "client.body": bundle["$defs"]["client"]["properties"]["body"]["maxLength"],
    }


def check_limits(doc: Any, limits: Limits) -> list[Problem]:
    """Every way a parsed SMP document (bundle or result) is over a limit, by field path.

    One pass over the document; nesting is followed no deeper than the limit.
    Rules: ``max-depth``, ``max-runs``, ``max-histogram-buckets``,
    ``max-string-length`` (keys and values; ``raw.content`` and a client's ``body``
    have the schema's own, larger caps).
    """
    problems = count_problems(doc, limits)
    problems.extend(_walk(doc, [], limits))
    if len(problems) > MAX_LIMIT_PROBLEMS:
        more = len(problems) - MAX_LIMIT_PROBLEMS
        problems = problems[:MAX_LIMIT_PROBLEMS]
        problems.append(Problem("", "max-problems", f"{more} more over-limit problems"))
    return problems


def count_problems(doc: Any, limits: Limits) -> list[Problem]:
    """``max-runs`` and ``max-histogram-buckets``: the limits counted, not walked."""
    problems: list[Problem] = []
    runs = doc.get("runs") if isinstance(doc, dict) else None
    if isinstance(runs, list) and len(runs) > limits.max_runs:
        problems.append(
            Problem(
                "runs",
                "max-runs",
                f"a bundle holds at most {limits.max_runs} runs; this one has {len(runs)}",
            )
        )
    for path, run in _runs(doc):
        buckets = run.get("histogram")
        if isinstance(buckets, list) and len(buckets) > limits.max_histogram_buckets:
            problems.append(
                Problem(
                    document.format_path(["histogram"], path),
                    "max-histogram-buckets",
                    f"a histogram holds at most {limits.max_histogram_buckets} buckets; "
                    f"this one has {len(buckets)}",
                )
            )
    return problems


def _runs(doc: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(doc, dict):
        return
    if document.is_bundle(doc):
        for index, run in enumerate(doc["runs"]):
            if isinstance(run, dict):
                yield f"runs[{index}]", run
    else:
        yield "", doc


_VISITED = (str, dict, list)


def _walk(value: Any, parts: list[Any], limits: Limits, depth: int = 1) -> Iterator[Problem]:
    if isinstance(value, str):
        cap = _string_cap(parts, limits)
        if len(value) > cap:
            yield Problem(
                document.format_path(parts),
                "max-string-length",
                f"text is limited to {cap} characters; this has {len(value)}",
            )
        return
    if not isinstance(value, dict | list):
        return
    if depth > limits.max_depth:
        yield Problem(
            document.format_path(parts),
            "max-depth",
            f"documents nest at most {limits.max_depth} levels of objects and lists",
        )
        return
    # Numbers, booleans and nulls are most of a document and cannot be over a limit:
    # only texts and containers are visited.
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, _VISITED):
                yield from _walk(item, [*parts, index], limits, depth + 1)
        return
    for key, item in value.items():
        if len(str(key)) > limits.max_string_length:
            yield Problem(
                document.format_path(parts),
                "max-string-length",
                f"field names are limited to {limits.max_string_length} characters; "
                f"one has {len(str(key))}",
            )
        elif isinstance(item, _VISITED):
            yield from _walk(item, [*parts, key], limits, depth + 1)


def _string_cap(parts: list[Any], limits: Limits) -> int:
    """The schema's larger cap for the two long texts, the door's limit for the rest."""
    tail = parts[-2:]
    in_run = len(parts) == 2 or (len(parts) == 4 and parts[0] == "runs")
    if tail == ["raw", "content"] and in_run:
        return schema_caps()["raw.content"]
    if len(parts) == 4 and parts[:2] == ["config", "clients"] and parts[3] == "body":
        return schema_caps()["client.body"]
    return limits.max_string_length
