"""Readers: native load-generator outputs -> SMP results.

Each reader module exposes

* ``NAME`` - the format name users type (``--format NAME``),
* ``sniff(data: bytes) -> bool`` - a cheap, content-based recognizer that must
  not raise,
* ``read(data: bytes) -> list[PerformanceTestResult]`` - the conversion, which
  raises :class:`smp.errors.ReaderError` (and nothing else) on bad input.

Detection asks the readers in :data:`READER_MODULES` order, most specific
first, so a nighthawk file written in fortio's format is read by the fortio
reader's nighthawk variant rather than mistaken for something else.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from smp.errors import ReaderError, UnknownFormatError
from smp.model import PerformanceTestResult

READER_MODULES: tuple[str, ...] = (
    "smpdoc",
    "meshery",
    "nighthawk",
    "fortio",
    "k6",
    "wrk2",
    "wrk",
    "oha",
    "hey",
    "hdrlog",
    "istio_csv",
)


@dataclass(frozen=True)
class Reader:
    name: str
    description: str
    sniff: Callable[[bytes], bool]
    read: Callable[[bytes], list[PerformanceTestResult]]


def _load(module_name: str) -> Reader:
    module: ModuleType = importlib.import_module(f"smp.readers.{module_name}")
    return Reader(
        name=module.NAME,
        description=(module.__doc__ or "").strip().splitlines()[0],
        sniff=module.sniff,
        read=module.read,
    )


def readers() -> list[Reader]:
    """All readers in detection order."""
    return [_load(m) for m in READER_MODULES]


def reader_names() -> list[str]:
    return [r.name for r in readers()]


def get_reader(name: str) -> Reader:
    for reader in readers():
        if reader.name == name:
            return reader
    raise UnknownFormatError(f"unknown format {name!r}; known formats: {', '.join(reader_names())}")


def detect(data: bytes) -> Reader:
    """The first reader that recognises ``data``, or UnknownFormatError."""
    if not data.strip():
        raise UnknownFormatError("the input is empty")
    for reader in readers():
        if reader.sniff(data):
            return reader
    from smp.readers import smpdoc

    # An SMP document that does not parse is still an SMP document: say what is wrong with it.
    smpdoc.raise_if_broken(data)
    raise UnknownFormatError(
        "the content matches no known format (tried: " + ", ".join(reader_names()) + ")"
    )


def read(data: bytes, format: str | None = None) -> tuple[str, list[PerformanceTestResult]]:
    """Convert ``data``; returns the format used and the results it holds.

    With ``format`` given, that reader is used without detection.
    """
    reader = get_reader(format) if format else detect(data)
    results = reader.read(data)
    if not results:
        raise ReaderError(reader.name, "the input holds no result")
    return reader.name, results
