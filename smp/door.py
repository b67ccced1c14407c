"""The door's checks of a parsed SMP document, in one pass when it is clean.

A document reaching the index is held to its limits (:mod:`smp.limits`) and to
what the index can store (:mod:`smp.policy`). Each of those walks the whole
document building paths as it goes, so that every problem names its field.
Nearly every document has no problem at all, and both walks are paid twice for
it: at the door and again in the worker, which reads the stored bytes afresh.

:func:`check_door` first asks one cheaper question, in a single walk that builds
no path: could either check object to anything here? Only when the answer is
"perhaps" do the two full walks run, and what they find is the answer, word for
word. The quick walk is conservative by construction: everything it passes is
something neither full walk can refuse (tests/smp/test_door.py holds it to that
on the real documents and on a mutation of each rule), and anything it is unsure
of (a long text under a field with a column size, a time, a value of a type it
does not know, a large number) sends the document down the full path.
"""

from __future__ import annotations

from typing import Any

from smp.errors import Problem
from smp.limits import Limits, check_limits, count_problems, schema_caps
from smp.policy import LENGTHS, MAX_COUNT, TIMES, TOKEN, check_storable, time_problems

# Where a walk stands, as far as the two long texts care: the document, its runs, one
# run, a result's ``raw`` (whose ``content`` has the schema's larger cap), the test
# configuration, its clients, one client (whose ``body`` has the other larger cap).
_OTHER, _TOP, _RUNS, _RUN, _RAW, _CONFIG, _CLIENTS, _CLIENT = range(8)
_NAMED = {
    (_TOP, "runs"): _RUNS,
    (_TOP, "raw"): _RAW,
    (_TOP, "config"): _CONFIG,
    (_RUN, "raw"): _RAW,
    (_CONFIG, "clients"): _CLIENTS,
}
_ANY_KEY = {_RUNS: _RUN, _CLIENTS: _CLIENT}
_SHORTEST_COLUMN = min(LENGTHS.values())
"""Texts this long or shorter fit every column (:data:`smp.policy.LENGTHS`)."""
_SIZED_NAMES = frozenset(path for path in LENGTHS if "." not in path)
_SIZED_PAIRS = frozenset(tuple(path.split(".")[-2:]) for path in LENGTHS if "." in path)
"""The fields with a column size, by name alone or by their parent's name and their own (the
policy's paths, seen from where the quick walk stands: it knows only those two names)."""


def check_door(doc: Any, limits: Limits) -> list[Problem]:
    """What :func:`smp.limits.check_limits` and then :func:`smp.policy.check_storable` say
    of ``doc`` (the second only when the first finds nothing), cheaply when both say nothing."""
    if isinstance(doc, dict) and not count_problems(doc, limits):
        caps = schema_caps()
        walk = _Walk(limits, caps["raw.content"], caps["client.body"])
        if walk.fine_dict(doc, 1, _TOP, ""):
            return []
    return check_limits(doc, limits) or check_storable(doc)


class _Walk:
    """One pass answering "can neither check object to anything below here?"."""

    def __init__(self, limits: Limits, raw_cap: int, body_cap: int) -> None:
        self.max_depth = limits.max_depth
        self.max_text = limits.max_string_length
        self.raw_cap = raw_cap
        self.body_cap = body_cap

    def fine_dict(self, value: dict[Any, Any], depth: int, at: int, owner: str) -> bool:
        """``owner``: the field holding this object (a list's field for its items)."""
        if depth > self.max_depth:
            return False
        for key, item in value.items():
            if type(key) is not str or len(key) > self.max_text or "\x00" in key:
                return False
            kind = type(item)
            if kind is float or kind is int:
                if not -MAX_COUNT <= item <= MAX_COUNT:  # NaN fails too
                    return False
            elif kind is str:
                if not self.fine_text(item, owner, key, self.cap(at, key)):
                    return False
            elif kind is dict or kind is list:
                below = _NAMED.get((at, key), _OTHER)
                if not (
                    self.fine_dict(item, depth + 1, below, key)
                    if kind is dict
                    else self.fine_list(item, depth + 1, below, owner, key)
                ):
                    return False
            elif item is not None and kind is not bool:
                return False  # a type only YAML makes (a date): the full walks decide
        return True

    def fine_list(self, value: list[Any], depth: int, at: int, owner: str, name: str) -> bool:
        """``name``: the field holding the list, ``owner`` the one holding that field (the
        policy's paths leave list indices out, so items stand where the list stands)."""
        if depth > self.max_depth:
            return False
        below = _ANY_KEY.get(at, _OTHER)
        for item in value:
            kind = type(item)
            if kind is float or kind is int:
                if not -MAX_COUNT <= item <= MAX_COUNT:
                    return False
            elif kind is dict:
                if not self.fine_dict(item, depth + 1, below, name):
                    return False
            elif kind is list:
                if not self.fine_list(item, depth + 1, below, owner, name):
                    return False
            elif kind is str:
                if not self.fine_text(item, owner, name, self.max_text):
                    return False
            elif item is not None and kind is not bool:
                return False
        return True

    def cap(self, at: int, key: str) -> int:
        if at == _RAW and key == "content":
            return self.raw_cap
        if at == _CLIENT and key == "body":
            return self.body_cap
        return self.max_text

    @staticmethod
    def fine_text(text: str, owner: str, name: str, cap: int) -> bool:
        if len(text) > cap or "\x00" in text:
            return False
        if len(text) > _SHORTEST_COLUMN and (name in _SIZED_NAMES or (owner, name) in _SIZED_PAIRS):
            return False  # may be over its column's size: the policy's walk knows the path
        if name == "arch" and text and not TOKEN.match(text):
            return False
        return not (name in TIMES and time_problems(text, ""))
