"""The calibration probe ``meshmark-cpu/1``: how fast one core of this machine is.

The figure goes into ``environment.calibration`` and lets the index express
absolute CPU figures "on the reference machine" (docs/meshmark.md, "Environment
normalization"; the reference machine scores ``REFERENCE_SCORE`` = 1000).

Method. One *op* is a fixed piece of the work a proxy does: compress and
decompress a fixed 32 KiB text-like buffer with zlib (level 6), then parse 16
fixed HTTP/1.1 request heads into dictionaries in pure Python. The inputs are
generated once from a fixed seed, outside the timed region. The probe runs
``REPETITIONS`` timed batches of ``OPS_PER_BATCH`` ops on one thread with the
garbage collector off and reports the best batch's rate in ops/s: the best of
several is the figure least disturbed by other processes, which is what makes
it stable from run to run. Batches are timed with the thread's CPU clock
(``time.thread_time``), not the wall clock: time spent waiting for a CPU while
other processes run is not the machine being slow, and a busy machine would
otherwise read as a slow one. The figure is thus ops per CPU-second, the unit
in which the index converts millicores. Batches take turns on the CPUs the process may use
(pinned with ``sched_setaffinity`` where the OS has it, then restored): on a
virtual machine one vCPU is often slower than another (it shares a host core
with interrupts or a neighbour), and the best batch should be the best core's.
The size of an op was chosen so that a current
server core (an AMD EPYC Zen 5 at 2.6 GHz, CPython 3.11, zlib 1.2.13) scores
about 1000.

Caveats: the zlib part depends on the zlib build (zlib-ng is faster than
zlib), the parsing part on the Python version; the probe's name carries a
version so that a change to the op never mixes figures.
"""

from __future__ import annotations

import gc
import json
import os
import random
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smp.model import Calibration

# This module imports only the standard library at run time: the Kubernetes mode
# runs its source as-is with `python -c` in a python image, on a cluster node.

PROBE = "meshmark-cpu/1"
UNIT = "ops/s"
SEED = 20240601
TEXT_BYTES = 32 * 1024
REQUEST_HEADS = 16
HEADERS_PER_HEAD = 10
OPS_PER_BATCH = 100
"""About 0.1 s per batch on the reference machine."""
REPETITIONS = 15

_WORDS = (
    "GET",
    "POST",
    "host",
    "content-length",
    "mesh",
    "proxy",
    "sidecar",
    "envoy",
    "latency",
    "x-request-id",
    "application/json",
    "keep-alive",
    "200",
    "OK",
    "/api/v1/items",
)


@dataclass(frozen=True)
class _Inputs:
    text: bytes
    heads: tuple[str, ...]


def _inputs() -> _Inputs:
    rng = random.Random(SEED)
    words: list[str] = []
    size = 0
    while size < TEXT_BYTES:
        word = f"{rng.choice(_WORDS)}{rng.randrange(1000)}"
        words.append(word)
        size += len(word) + 1
    text = " ".join(words).encode()[:TEXT_BYTES]
    heads = []
    for index in range(REQUEST_HEADS):
        lines = [
            f"GET /api/v1/items/{rng.randrange(10**6)}?page={index} HTTP/1.1",
            f"Host: svc-{index}.default.svc.cluster.local",
        ]
        lines += [f"X-Header-{j}: {rng.getrandbits(64):x}" for j in range(HEADERS_PER_HEAD)]
        lines.append(f"Content-Length: {rng.randrange(10000)}")
        heads.append("\r\n".join(lines))
    return _Inputs(text=text, heads=tuple(heads))


def _op(inputs: _Inputs) -> int:
    packed = zlib.compress(inputs.text, 6)
    if zlib.decompress(packed) != inputs.text:
        raise RuntimeError("zlib round trip failed")
    total = 0
    for head in inputs.heads:
        lines = head.split("\r\n")
        _, target, _ = lines[0].split(" ")
        fields: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        total += int(fields["content-length"]) + len(target)
    return total


def run_probe(
    repetitions: int = REPETITIONS,
    ops_per_batch: int = OPS_PER_BATCH,
    clock: Callable[[], float] = time.thread_time,
) -> Calibration:
    """Run ``meshmark-cpu/1`` and return its figure (best batch, ops/s)."""
    from smp.model import Calibration

    return Calibration(probe=PROBE, score=probe_score(repetitions, ops_per_batch, clock), unit=UNIT)


def probe_score(
    repetitions: int = REPETITIONS,
    ops_per_batch: int = OPS_PER_BATCH,
    clock: Callable[[], float] = time.thread_time,
) -> float:
    """The probe's figure in ops/s (the best batch), rounded to 0.1."""
    inputs = _inputs()
    _op(inputs)  # warm caches and the allocator
    best = 0.0
    cpus = _cpus()
    original = set(cpus)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for repetition in range(repetitions):
            if len(cpus) > 1:
                os.sched_setaffinity(0, {cpus[repetition % len(cpus)]})
            started = clock()
            for _ in range(ops_per_batch):
                _op(inputs)
            elapsed = clock() - started
            if elapsed > 0:
                best = max(best, ops_per_batch / elapsed)
    finally:
        if was_enabled:
            gc.enable()
        if len(cpus) > 1:
            os.sched_setaffinity(0, original)
    return round(best, 1)


def _cpus() -> list[int]:
    """The CPUs this process may run on, sorted; empty where the OS cannot pin."""
    if not hasattr(os, "sched_getaffinity") or not hasattr(os, "sched_setaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


def main(argv: list[str] | None = None) -> None:
    """Print the figure as one JSON line (what the in-cluster calibration Job logs).

    ``[REPETITIONS [OPS_PER_BATCH]]`` may follow on the command line (``python -c
    SOURCE 1 2``): fewer, smaller batches for a quick check of the same code.
    """
    args = [int(a) for a in (sys.argv[1:] if argv is None else argv)]
    repetitions = args[0] if args else REPETITIONS
    ops_per_batch = args[1] if len(args) > 1 else OPS_PER_BATCH
    figure = probe_score(repetitions=repetitions, ops_per_batch=ops_per_batch)
    print(json.dumps({"probe": PROBE, "score": figure, "unit": UNIT}), flush=True)


if __name__ == "__main__":
    main()
