"""Errors the SMP library raises or returns."""

from __future__ import annotations

from dataclasses import dataclass


class ReaderError(ValueError):
    """A native output could not be turned into SMP.

    ``format`` names the reader that tried; ``message`` says what is wrong in
    words a user can act on (which field, which rule).
    """

    def __init__(self, format: str, message: str) -> None:
        super().__init__(f"{format}: {message}")
        self.format = format
        self.message = message


class UnknownFormatError(ReaderError):
    """No reader recognises the content."""

    def __init__(self, message: str) -> None:
        super().__init__("detect", message)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a result or bundle.

    ``path`` is a dotted/indexed field path (``runs[1].latencies_ms.p99``),
    ``rule`` a stable machine name (``percentiles-ordered``), ``message`` the
    human explanation with the offending figures.
    """

    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.rule}]"

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "rule": self.rule, "message": self.message}
