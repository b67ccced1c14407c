"""This machine as an SMP EnvironmentConfig (local mode).

One node: ``cores`` = ``os.cpu_count()``, ``mem_mb`` = MemTotal from
/proc/meminfo in MiB, ``arch`` = ``platform.machine()``, ``type`` = the CPU
model name from /proc/cpuinfo; ``kernel_version`` = ``platform.release()``;
``provider`` = ``local``; no ``kubernetes_version``. The calibration figure is
the caller's (it must be measured before anything else loads the machine).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from smp.model import Calibration, EnvironmentConfig, Node

_MODEL_KEYS = ("model name", "hardware", "cpu model", "processor")


def cpu_model(cpuinfo: str | None = None) -> str | None:
    """The CPU's model name from /proc/cpuinfo text, e.g. ``AMD EPYC 9B14``."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return platform.processor() or None
    for key in _MODEL_KEYS:
        for line in cpuinfo.splitlines():
            name, _, value = line.partition(":")
            value = value.strip()
            # "processor : 0" on x86 is an index, not a name.
            if name.strip().lower() == key and value and not value.isdigit():
                return " ".join(value.split())
    return platform.processor() or None


def memory_mb(meminfo: str | None = None) -> float | None:
    """MemTotal in MiB, from /proc/meminfo text."""
    if meminfo is None:
        try:
            meminfo = Path("/proc/meminfo").read_text()
        except OSError:
            return None
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024.0, 1)
    return None


def local_environment(calibration: Calibration | None) -> EnvironmentConfig:
    return EnvironmentConfig(
        node=[
            Node(
                type=cpu_model(),
                cores=float(os.cpu_count() or 1),
                mem_mb=memory_mb(),
                arch=platform.machine() or None,
                count=1,
            )
        ],
        kernel_version=platform.release() or None,
        provider="local",
        calibration=calibration,
    )
