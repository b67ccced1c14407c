"""Progress on stderr: a line per step and a bar per timed phase (click.progressbar).

Executors report through :class:`Progress` and never print themselves, so the
commands decide what is shown (``--quiet`` shows nothing) and tests stay quiet.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

BAR_STEPS = 1000
TICK_S = 0.25


class Progress:
    """Shows nothing; the base of :class:`ClickProgress`."""

    def step(self, message: str) -> None:
        """One line about what happens next."""

    @contextmanager
    def timed(self, label: str, seconds: float) -> Iterator[None]:
        """A phase expected to take ``seconds``; a bar advances with the clock."""
        yield


class ClickProgress(Progress):
    def __init__(self, file: Any = None) -> None:
        self.file = file if file is not None else sys.stderr

    def step(self, message: str) -> None:
        click.echo(message, file=self.file)

    @contextmanager
    def timed(self, label: str, seconds: float) -> Iterator[None]:
        done = threading.Event()
        started = time.monotonic()
        with click.progressbar(
            length=BAR_STEPS, label=label, file=self.file, show_eta=True, width=30
        ) as bar:

            def tick() -> None:
                shown = 0
                while not done.wait(TICK_S):
                    target = min(
                        BAR_STEPS - 1,
                        int(BAR_STEPS * (time.monotonic() - started) / max(seconds, 1e-3)),
                    )
                    if target > shown:
                        bar.update(target - shown)
                        shown = target
                bar.update(BAR_STEPS - shown)

            thread = threading.Thread(target=tick, name="progress", daemon=True)
            thread.start()
            try:
                yield
            finally:
                done.set()
                thread.join()
