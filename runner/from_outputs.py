"""``smp-runner bundle``: a bundle from outputs people already have.

The baseline and mesh runs are native outputs of any load generator the
``smp`` readers know (one run a file); the profile is a standard one or an SMP
test configuration (a custom profile); the environment comes from a file, a
cluster or this machine; CPU and memory per container from Prometheus dumps or
Istio's benchmark rows (:mod:`smp.resources`). Every run must be the profile's
test: the same requested rate and connections, and at least 90% of the
profile's duration (the index's admission rule); otherwise the bundle is
refused with the figures that differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click

from runner.bundle import runner_version
from scoring.admission import DURATION_SHARE
from smp import consistency, resources
from smp.custom_profiles import CustomProfile
from smp.errors import Problem, ReaderError
from smp.model import (
    Bundle,
    EnvironmentConfig,
    PerformanceTestResult,
    RawOutput,
    ServiceMeshConfig,
)
from smp.profiles import Profile

RAW_LIMIT = 5_000_000
"""A run's native output is kept verbatim up to the schema's limit on ``raw.content``."""


@dataclass
class Outputs:
    """What ``smp-runner bundle`` was given."""

    profile: Profile
    custom: CustomProfile | None
    baseline: Path
    meshes: list[Path]
    mesh_type: str
    mesh_version: str
    mtls: bool | None
    environment: EnvironmentConfig
    resources: list[tuple[str, resources.Metric | None]] = field(default_factory=list)
    format: str | None = None


def read_run(path: Path, format: str | None) -> PerformanceTestResult:
    """The one run in a native output file; ClickException naming the file otherwise."""
    from smp.readers import read

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read: {exc.strerror}") from None
    try:
        name, results = read(data, format)
    except ReaderError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    if len(results) != 1:
        raise click.ClickException(
            f"{path}: holds {len(results)} runs ({name}); give one run a file"
        )
    run = results[0]
    text = data.decode("utf-8", errors="replace")
    if len(text) <= RAW_LIMIT and name != "smp":
        run.raw = RawOutput(format=name, content=text)
    run.labels = {**run.labels, "source_file": path.name[:1024]}
    run.id = path.stem[:256]
    return run


def conformance(run: PerformanceTestResult, profile: Profile, where: str) -> list[str]:
    """How ``run`` differs from the profile's test (rate, connections, duration)."""
    problems: list[str] = []
    if profile.rps is None and run.requested_qps is not None:
        problems.append(f"{where}: requested {run.requested_qps:g} rps; {profile.id} has no rate")
    elif profile.rps is not None and run.requested_qps != profile.rps:
        asked = "no rate" if run.requested_qps is None else f"{run.requested_qps:g} rps"
        problems.append(f"{where}: requested {asked}; {profile.id} is {profile.rps} rps")
    if run.connections is not None and run.connections != profile.connections:
        problems.append(
            f"{where}: {run.connections} connections; {profile.id} has {profile.connections}"
        )
    # The index's admission rule (scoring.admission): at least DURATION_SHARE of the
    # profile's duration; a longer run only holds more samples.
    if run.duration_s is not None and run.duration_s < DURATION_SHARE * profile.duration_s:
        problems.append(
            f"{where}: ran {run.duration_s:g} s; {profile.id} runs {profile.duration_s} s "
            f"(at least {DURATION_SHARE:.0%} of it)"
        )
    return problems


def assemble(outputs: Outputs) -> tuple[Bundle, list[str]]:
    """The bundle, and lines saying where each resources file went."""
    runs = [read_run(outputs.baseline, outputs.format)]
    runs += [read_run(path, outputs.format) for path in outputs.meshes]
    paths = [outputs.baseline, *outputs.meshes]
    profile = outputs.profile
    problems = [
        line
        for index, (run, path) in enumerate(zip(runs, paths, strict=True))
        for line in conformance(run, profile, f"runs[{index}] ({path.name})")
    ]
    if problems:
        hint = "" if outputs.custom else "; describe the test you ran with --config FILE"
        raise click.ClickException(
            f"the outputs are not profile {profile.id}'s test{hint}:\n  " + "\n  ".join(problems)
        )
    files = []
    for name, metric in outputs.resources:
        try:
            files.append(resources.load(Path(name).read_bytes(), Path(name).name, metric))
        except OSError as exc:
            raise click.ClickException(f"{name}: cannot read: {exc.strerror}") from None
        except ReaderError as exc:
            raise click.ClickException(str(exc)) from None
    try:
        placed = resources.place(runs, files, outputs.mesh_type)
    except ReaderError as exc:
        raise click.ClickException(str(exc)) from None
    for run, role in zip(runs, ["baseline"] + ["mesh"] * len(outputs.meshes), strict=True):
        run.role = role
        run.profile_id = profile.id
    mesh_config = ServiceMeshConfig(
        mesh_type=outputs.mesh_type, mesh_version=outputs.mesh_version, mtls_enabled=outputs.mtls
    )
    bundle = Bundle(
        profile=profile.id,
        environment=outputs.environment,
        mesh_config=mesh_config,
        config=outputs.custom.config if outputs.custom else None,
        runs=runs,
        labels={"runner": f"smp-runner {runner_version()}", "mode": "bundle"},
    )
    return bundle, placed


def checked(bundle: Bundle) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) of the bundle, as the index will see them."""
    found = consistency.check_bundle(bundle)
    errors = [p for p in found if p.rule not in consistency.WARNING_RULES]
    return errors, [p for p in found if p.rule in consistency.WARNING_RULES]


def parse_resources_option(value: str) -> tuple[str, resources.Metric | None]:
    """``cpu:FILE``, ``mem:FILE`` or ``FILE`` (the kind from the name, or the content)."""
    head, sep, rest = value.partition(":")
    if sep and head in ("cpu", "mem", "memory") and rest:
        return rest, "cpu" if head == "cpu" else "memory"
    return value, None


def environment_from_file(path: str) -> EnvironmentConfig:
    """An SMP EnvironmentConfig file (any of the spec's shapes)."""
    from smp.spec.read import read_document

    try:
        read = read_document(Path(path).read_bytes(), kind="environment")
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read: {exc.strerror}") from None
    except ReaderError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    assert read.environment is not None
    return read.environment


def default_output(profile_id: str, mesh_type: str, mesh_version: str) -> Path:
    return Path(f"smp-{profile_id}-{mesh_type}-{mesh_version}.json")
