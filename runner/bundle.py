"""Assembling and writing the SMP bundle a run produces (docs/smp.md, "Bundle").

A bundle holds the environment, the mesh configuration, the profile, how the
load was made (``config``) and two runs made by the same invocation: the
``baseline`` (straight to the application) and the ``mesh`` run (through the
proxies). Runs carry the invocation's ``run_id`` in their ids and labels so
that the two halves can always be told apart and paired. With ``--repeat N``
the bundle holds N such pairs interleaved (baseline, mesh, baseline, mesh,
...), each run labelled with its pair's number (``runner.pair``); the index
compares each mesh run with the baseline just before it.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from scoring.admission import OVERRIDES_LABEL
from smp.model import (
    Bundle,
    Client,
    EnvironmentConfig,
    PerformanceTestConfig,
    PerformanceTestResult,
    ServiceMeshConfig,
)
from smp.profiles import Profile


def runner_version() -> str:
    try:
        return metadata.version("meshmark")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def new_run_id() -> str:
    """A short id for one invocation, e.g. ``20240501t120000-3f9a``."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dt%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class LoadDescription:
    """How the load was made, for ``config.clients``."""

    load_generator: str
    connections: int
    rate: float | None
    duration_s: float
    endpoint_urls: tuple[str, ...]
    internal: bool


def make_bundle(
    *,
    profile: Profile,
    run_id: str,
    environment: EnvironmentConfig,
    mesh_config: ServiceMeshConfig,
    baseline: PerformanceTestResult,
    mesh: PerformanceTestResult,
    load: LoadDescription,
    mode: str,
    more_pairs: Sequence[tuple[PerformanceTestResult, PerformanceTestResult]] = (),
) -> Bundle:
    """The bundle of one invocation: ``baseline`` and ``mesh``, then ``more_pairs``
    (``--repeat``), interleaved in the order they were made."""
    labels = {"runner": f"smp-runner {runner_version()}", "run_id": run_id, "mode": mode}
    pairs = [(baseline, mesh), *more_pairs]
    runs: list[PerformanceTestResult] = []
    for number, pair in enumerate(pairs, start=1):
        for role, run in zip(("baseline", "mesh"), pair, strict=True):
            run.role = role
            run.profile_id = profile.id
            run.id = f"{run_id}-{role}" if len(pairs) == 1 else f"{run_id}-{role}-{number}"
            extra = {} if len(pairs) == 1 else {"runner.pair": f"{number}/{len(pairs)}"}
            run.labels = {**run.labels, **labels, **extra}
            runs.append(run)
    config = PerformanceTestConfig(
        id=profile.id,
        name=profile.name,
        duration=f"{load.duration_s:g}s",
        clients=[
            Client(
                load_generator=load.load_generator,
                protocol=profile.protocol,
                connections=load.connections,
                rps=load.rate,
                internal=load.internal,
                endpoint_url=list(load.endpoint_urls),
            )
        ],
    )
    return Bundle(
        profile=profile.id,
        environment=environment,
        mesh_config=mesh_config,
        config=config,
        runs=runs,
        labels=labels if len(pairs) == 1 else {**labels, "runner.repeat": str(len(pairs))},
    )


def record_settings(
    bundle: Bundle, *, profile: Profile, warmup_s: float, overrides: dict[str, str | None]
) -> None:
    """Say in each run how it was made, for the index's admission rules: the warm-up, the
    payload the application answered with, and any setting given instead of the
    profile's (``profile_overrides``: a custom run, shown but never ranked)."""
    given = " ".join(f"{flag} {value}" for flag, value in overrides.items() if value)
    for run in bundle.runs:
        run.warmup_s = warmup_s
        run.payload_bytes = profile.payload_bytes
        if given:
            run.labels = {**run.labels, OVERRIDES_LABEL: given}


def default_output_path(profile_id: str, mode: str, run_id: str) -> Path:
    return Path(f"smp-{profile_id}-{mode}-{run_id}.json")


def write_bundle(bundle: Bundle, path: Path) -> Path:
    """Write the bundle as indented JSON (atomically: a partial file never appears)."""
    text = json.dumps(bundle.to_dict(), indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)
    return path
