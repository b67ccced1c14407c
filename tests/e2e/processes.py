"""Stopping the real processes the end-to-end tests start."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal ``proc``'s whole process group (a gunicorn or Celery master and its children),
    then wait; SIGKILL whatever is still there after 30 s. Started with
    ``start_new_session=True`` so the group is theirs alone."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
