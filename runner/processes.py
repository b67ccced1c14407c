"""Child processes the local mode starts, and tearing everything down on any exit.

Every child is started in its own session (so a Ctrl-C in the terminal reaches
only smp-runner, which then stops its children in order) and, on Linux, with
``PR_SET_PDEATHSIG`` so that it is terminated even if smp-runner itself is
killed with SIGKILL. :class:`Cleanup` runs the registered stop actions in
reverse order with SIGINT and SIGTERM ignored, so a second Ctrl-C cannot
interrupt the teardown half-way.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import click

STOP_TIMEOUT_S = 5.0
"""How long a child gets to exit after SIGTERM before it is killed."""
READY_TIMEOUT_S = 15.0
"""How long a child gets to accept connections after it was started."""
LOG_TAIL_CHARS = 2000
_PR_SET_PDEATHSIG = 1

SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
"""nginx and haproxy live in sbin, which is not on every user's PATH."""


def find_binary(name: str, package: str | None = None) -> str:
    """The path of ``name``, or a ClickException naming the Debian package to install."""
    found = shutil.which(name)
    if found:
        return found
    for directory in SBIN_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise click.ClickException(
        f"{name} is not installed; install it with `apt-get install {package or name}` "
        "(smp-runner installs nothing by itself)"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


@dataclass
class ManagedProcess:
    """A started child, its log file, and how to stop it and all its descendants."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self) -> str:
        text = ""
        for path in (self.log_path, self.log_path.with_suffix(".err")):
            try:
                text += path.read_text(errors="replace")
            except OSError:
                continue
        return text[-LOG_TAIL_CHARS:].strip()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM, wait, then SIGKILL the process and whatever it forked."""
        family = descendants(self.pid)
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(timeout_s)
        deadline = time.monotonic() + timeout_s
        for pid in family:
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)


def start_process(
    name: str,
    argv: list[str],
    log_dir: Path,
    *,
    env: dict[str, str] | None = None,
    stderr_separately: bool = False,
) -> ManagedProcess:
    """Start ``argv`` with its output in ``log_dir/<name>.log``.

    With ``stderr_separately`` stderr goes to ``<name>.err`` instead, so that
    ``<name>.log`` holds exactly what the program printed as its result.
    """
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log, (log_dir / f"{name}.err").open("wb") as err:
        popen = subprocess.Popen(  # noqa: S603 - argv is built by smp-runner, never a shell
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=err if stderr_separately else subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            env=env,
        )
    return ManagedProcess(name, popen, log_path)


def wait_for_port(process: ManagedProcess, port: int, host: str = "127.0.0.1") -> None:
    """Until ``host:port`` accepts connections; ClickException if the process dies first."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not process.running():
            raise click.ClickException(
                f"{process.name} exited with status {process.popen.returncode} before it "
                f"listened on {host}:{port}:\n{process.log_tail()}"
            )
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise click.ClickException(
        f"{process.name} did not listen on {host}:{port} within {READY_TIMEOUT_S:g} s:\n"
        f"{process.log_tail()}"
    )


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (children, their children, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[-1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    queue = list(children.get(root, []))
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


class Cleanup:
    """Stop actions run in reverse order on exit, with SIGINT and SIGTERM ignored meanwhile."""

    def __init__(self) -> None:
        self._actions: list[Callable[[], None]] = []

    def add(self, action: Callable[[], None]) -> None:
        self._actions.append(action)

    def __enter__(self) -> Cleanup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with signals_ignored():
            errors: list[BaseException] = []
            while self._actions:
                action = self._actions.pop()
                try:
                    action()
                except Exception as exc:  # keep stopping the others
                    errors.append(exc)
            if errors:
                raise errors[0]


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for signum in previous:
        signal.signal(signum, signal.SIG_IGN)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt, so ``kill`` cleans up like Ctrl-C does."""
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
