"""CPU and memory of process groups, by process accounting in /proc.

A *group* is a root process and all its descendants (an nginx master and its
workers, haproxy, the application server). A background thread samples every
group every ``SAMPLE_INTERVAL_S``:

* CPU time: the sum over the group's processes and their threads of
  ``/proc/<pid>/task/<tid>/schedstat`` field 1 (time on CPU, nanoseconds).
  ``/proc/<pid>/stat`` utime+stime counts in clock ticks (10 ms), too coarse
  for a proxy that uses a few milliseconds per second in a short run; it is the
  fallback where schedstat is missing. A process that exits keeps its last
  figure, so a group's total never goes backwards.
* Memory: the sum of each process's PSS (``/proc/<pid>/smaps_rollup``), so the
  pages an nginx master shares with its workers count once; VmRSS from
  ``/proc/<pid>/status`` where smaps_rollup is missing.

:func:`usage` turns the samples into the SMP figures for a time window: CPU in
millicores = CPU time spent in the window (cumulative totals interpolated
linearly at its ends) / window length; memory in MiB = mean of the samples
taken inside the window.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from runner.processes import descendants

SAMPLE_INTERVAL_S = 0.25
TREE_RESCAN_EVERY = 8
"""Look for new processes in a group every this many samples (a /proc scan costs more)."""
_TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def cpu_ns(pid: int) -> int | None:
    """Time the process's threads have spent on a CPU, in ns; None when it is gone."""
    total = 0
    found = False
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        tasks = []
    for task in tasks:
        try:
            total += int((task / "schedstat").read_text().split()[0])
            found = True
        except (OSError, ValueError, IndexError):
            continue
    if found:
        return total
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * _TICK_NS


def memory_kib(pid: int) -> int | None:
    """PSS of the process in KiB (VmRSS when smaps_rollup is unavailable); None when gone."""
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    return None


@dataclass
class Sample:
    at: float
    """time.monotonic() of the sample."""
    cpu_ns: int
    mem_kib: int
    processes: int


@dataclass
class _Group:
    root: int
    pids: list[int]
    last_cpu: dict[int, int] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)

    def take(self, now: float, rescan: bool) -> None:
        if rescan:
            self.pids = [self.root, *descendants(self.root)]
        mem = 0
        alive = 0
        for pid in self.pids:
            cpu = cpu_ns(pid)
            if cpu is None:
                continue
            alive += 1
            self.last_cpu[pid] = max(cpu, self.last_cpu.get(pid, 0))
            mem += memory_kib(pid) or 0
        self.samples.append(Sample(now, sum(self.last_cpu.values()), mem, alive))


@dataclass(frozen=True)
class Usage:
    cpu_mcores: float
    mem_mb: float
    processes: int


class Sampler:
    """Samples named process groups in a background thread until :meth:`stop`."""

    def __init__(self, roots: dict[str, int], interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.groups = {name: _Group(root, [root]) for name, root in roots.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="procstat", daemon=True)
        self._lock = threading.Lock()
        self._count = 0

    def start(self) -> Sampler:
        self.sample()
        self._thread.start()
        return self

    def sample(self) -> None:
        with self._lock:
            now = time.monotonic()
            rescan = self._count % TREE_RESCAN_EVERY == 0
            for group in self.groups.values():
                group.take(now, rescan)
            self._count += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
        self.sample()

    def usage(self, name: str, start: float, end: float) -> Usage:
        return usage(self.groups[name].samples, start, end)


def _cpu_at(samples: list[Sample], at: float) -> float:
    """Cumulative CPU ns at time ``at``, interpolated between the samples around it."""
    if at <= samples[0].at:
        return float(samples[0].cpu_ns)
    for before, after in itertools.pairwise(samples):
        if before.at <= at <= after.at:
            if after.at == before.at:
                return float(after.cpu_ns)
            fraction = (at - before.at) / (after.at - before.at)
            return before.cpu_ns + fraction * (after.cpu_ns - before.cpu_ns)
    return float(samples[-1].cpu_ns)


def usage(samples: list[Sample], start: float, end: float) -> Usage:
    """Mean CPU (millicores) and memory (MiB) of a group over ``[start, end]``."""
    if not samples or end <= start:
        return Usage(0.0, 0.0, 0)
    spent_ns = _cpu_at(samples, end) - _cpu_at(samples, start)
    inside = [s for s in samples if start <= s.at <= end]
    if not inside:
        inside = [min(samples, key=lambda s: abs(s.at - (start + end) / 2))]
    mem_kib = sum(s.mem_kib for s in inside) / len(inside)
    processes = max(s.processes for s in inside)
    return Usage(
        cpu_mcores=max(spent_ns, 0.0) / (end - start) / 1e6,
        mem_mb=mem_kib / 1024.0,
        processes=processes,
    )
