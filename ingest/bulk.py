"""Splitting a bulk upload into its documents, each kept byte for byte.

Two envelopes: NDJSON (one bundle per line) and a JSON array of bundles. The
array is walked with the JSON decoder's ``raw_decode`` so each element's own
bytes are what gets stored, not a re-serialization; whitespace between
elements is not part of any of them.
"""

from __future__ import annotations

import json
import re

from smp.errors import Problem
from smp.submission import media_type

NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})
ARRAY_TYPES = frozenset({"application/json"})
_SPACE = re.compile(r"[ \t\n\r]*")


class EnvelopeError(Exception):
    """The bulk body cannot be split into documents; ``problems`` say why, by path."""

    def __init__(self, problems: list[Problem], *, unsupported: bool = False) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems
        # True when the content type is not one a bulk upload takes (415).
        self.unsupported = unsupported


def split(body: bytes, content_type: str, max_items: int) -> list[bytes]:
    """The documents of a bulk body, in order; EnvelopeError naming the problem otherwise."""
    kind = media_type(content_type)
    if kind in NDJSON_TYPES:
        items = [line for line in body.split(b"\n") if line.strip()]
    elif kind in ARRAY_TYPES:
        items = _array_items(body)
    else:
        raise EnvelopeError(
            [
                Problem(
                    "",
                    "unsupported-media-type",
                    f"content type {kind!r} is not accepted for bulk uploads; send "
                    "application/x-ndjson (one bundle per line) or a JSON array "
                    "of bundles as application/json",
                )
            ],
            unsupported=True,
        )
    if not items:
        raise EnvelopeError([Problem("", "required", "the bulk body holds no bundle")])
    if len(items) > max_items:
        raise EnvelopeError(
            [
                Problem(
                    "",
                    "max-items",
                    f"a bulk upload holds at most {max_items} bundles, this one has "
                    f"{len(items)}; split it",
                )
            ]
        )
    return items


def _array_items(body: bytes) -> list[bytes]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvelopeError(
            [Problem("", "encoding", f"the body is not UTF-8 (byte {exc.start})")]
        ) from None
    decoder = json.JSONDecoder()
    pos = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    if not text.startswith("[", pos):
        raise EnvelopeError(
            [Problem("", "type", "a JSON bulk body is an array of bundles: [{...}, {...}]")]
        )
    pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
    items: list[bytes] = []
    if text.startswith("]", pos):
        return items
    while True:
        try:
            _, end = decoder.raw_decode(text, pos)
        except RecursionError:
            raise EnvelopeError(
                [Problem(f"[{len(items)}]", "max-depth", "the item nests too deeply to read")]
            ) from None
        except json.JSONDecodeError as exc:
            raise EnvelopeError(
                [Problem(f"[{len(items)}]", "malformed-json", f"unreadable JSON: {exc.msg}")]
            ) from None
        items.append(text[pos:end].encode("utf-8"))
        pos = _SPACE.match(text, end).end()  # type: ignore[union-attr]
        if text.startswith("]", pos):
            if text[pos + 1 :].strip():
                raise EnvelopeError(
                    [Problem("", "malformed-json", "unexpected content after the array")]
                )
            return items
        if not text.startswith(",", pos):
            raise EnvelopeError(
                [Problem(f"[{len(items)}]", "malformed-json", "expected ',' or ']'")]
            )
        pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
