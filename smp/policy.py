"""What a submission may hold so that every value can be stored as it is.

The SMP schema says what is valid SMP; this policy adds what the index can keep:
no NUL byte in any text (PostgreSQL text cannot hold one), texts no longer than
the columns they land in, integers and figures within what the columns and the
arithmetic hold, timestamps that exist in UTC, and architecture names that are
plain tokens (they become part of an environment class, a URL and a file
name). It runs with the door's checks (:func:`smp.submission.read_submission`),
so a body that breaks it is answered 400 naming the field and the rule, and
never reaches the database as a fault of ours.

Rules: ``no-nul``, ``max-length``, ``max-value``, ``datetime-range``, ``token``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from typing import Any

from smp.errors import Problem

MAX_FIGURE = 1e15
"""Every number's magnitude is at most this: far beyond any real figure (10^15 requests,
millicores or MiB), far from where float64 arithmetic overflows."""
MAX_COUNT = 2**31 - 1
"""Counts of things (nodes, proxies, connections, workloads) fit a 32-bit column."""
TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")

# Texts stored in columns of a fixed size, by their path with list indices left out.
LENGTHS = {
    "profile": 64,
    "profile_id": 64,
    "load_generator.name": 32,
    "load_generator.version": 64,
    "mesh_config.mesh_type": 32,
    "mesh_config.mesh_version": 64,
    "environment.kubernetes_version": 32,
    "environment.cni": 64,
    "environment.kernel_version": 64,
    "environment.provider": 64,
    "environment.calibration.probe": 64,
    "environment.node.arch": 32,
}
_COUNTS = {
    "environment.node.count",
    "connections",
    "count",
    "proxy_concurrency",
}
TIMES = {"start_time", "end_time"}


def check_storable(doc: Any) -> list[Problem]:
    """Every value of a parsed SMP document (bundle or result) the index could not store."""
    return list(_walk(doc, []))


def _key(parts: list[Any]) -> str:
    """The path without list indices and without the leading ``runs[i]``."""
    names = [str(p) for p in parts if not isinstance(p, int)]
    if names[:1] == ["runs"]:
        names = names[1:]
    return ".".join(names)


def _path(parts: list[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _plain(item: Any) -> bool:
    """A number no rule can object to: most of a document (its histograms) is these, so
    they are passed over without building their paths. (NaN fails both comparisons.)"""
    kind = type(item)
    return (kind is float or kind is int) and -MAX_COUNT <= item <= MAX_COUNT


def _walk(value: Any, parts: list[Any]) -> Iterator[Problem]:
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in str(key):
                yield Problem(_path(parts), "no-nul", "field names may not contain a NUL byte")
                continue
            if not _plain(item):
                yield from _walk(item, [*parts, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if not _plain(item):
                yield from _walk(item, [*parts, index])
    elif isinstance(value, str):
        yield from _text(value, parts)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int | float):
        yield from _number(value, parts)


def _text(value: str, parts: list[Any]) -> Iterator[Problem]:
    path, key = _path(parts), _key(parts)
    if "\x00" in value:
        yield Problem(path, "no-nul", "text may not contain a NUL byte (\\u0000)")
        return
    limit = LENGTHS.get(key)
    if limit is not None and len(value) > limit:
        yield Problem(path, "max-length", f"at most {limit} characters; this has {len(value)}")
    if key == "environment.node.arch" and value and not TOKEN.match(value):
        yield Problem(
            path,
            "token",
            "an architecture is a plain name (letters, digits, '.', '_', '+', '-'), "
            f"e.g. amd64; got {value[:40]!r}",
        )
    if parts and parts[-1] in TIMES:
        yield from _time(value, path)


def time_problems(value: str, path: str) -> list[Problem]:
    """The ``datetime-range`` problem of a timestamp text, if it has one."""
    return list(_time(value, path))


def _time(value: str, path: str) -> Iterator[Problem]:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return  # the schema names malformed timestamps
    try:
        if moment.tzinfo is not None:
            moment.astimezone(dt.UTC)
    except OverflowError:
        yield Problem(
            path,
            "datetime-range",
            "the time falls outside years 1 to 9999 once expressed in UTC",
        )


def _number(value: float, parts: list[Any]) -> Iterator[Problem]:
    if _plain(value):
        return
    path, key = _path(parts), _key(parts)
    if not math.isfinite(value) or abs(value) > MAX_FIGURE:
        yield Problem(path, "max-value", f"numbers are limited to {MAX_FIGURE:.0e} in magnitude")
        return
    last = str(parts[-1]) if parts else ""
    if (key in _COUNTS or last in _COUNTS) and abs(value) > MAX_COUNT:
        yield Problem(path, "max-value", f"a count is at most {MAX_COUNT}")
