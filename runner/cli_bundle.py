"""``smp-runner bundle``: its options and help; the work is in :mod:`runner.from_outputs`."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("bundle")
@click.option("--profile", "profile_id", metavar="ID", help="The standard profile the runs ran.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Or the SMP PerformanceTestConfig they ran (a custom profile).",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The run without the mesh: a load generator's output.",
)
@click.option(
    "--mesh",
    "meshes",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    required=True,
    help="A run through the mesh (repeat for several).",
)
@click.option(
    "--mesh-type",
    required=True,
    metavar="T",
    help="istio, linkerd, cilium, kuma, consul, traefik_mesh, ... (docs/smp.md).",
)
@click.option("--mesh-version", required=True, metavar="V", help="The mesh's release.")
@click.option("--mtls/--no-mtls", default=None, help="Whether the mesh ran with mTLS.")
@click.option(
    "--environment",
    "environment_path",
    type=click.Path(dir_okay=False),
    help="An SMP EnvironmentConfig file (default: this machine, calibrated).",
)
@click.option(
    "--kubeconfig", type=click.Path(dir_okay=False), help="Or the cluster the runs ran on."
)
@click.option("--context", help="kubeconfig context (default: the current one).")
@click.option(
    "--resources",
    "resource_files",
    metavar="[cpu:|mem:]FILE",
    multiple=True,
    help="Prometheus range-query JSON (CPU or memory per container) or Istio's benchmark "
    "compiled-results.json; repeat. Each goes to the run it covers in time.",
)
@click.option(
    "--format", "format_name", metavar="NAME", help="The outputs' format (default: detected)."
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Where to write the bundle."
)
def bundle_command(
    profile_id: str | None,
    config_path: str | None,
    baseline: Path,
    meshes: tuple[Path, ...],
    mesh_type: str,
    mesh_version: str,
    mtls: bool | None,
    environment_path: str | None,
    kubeconfig: str | None,
    context: str | None,
    resource_files: tuple[str, ...],
    format_name: str | None,
    out: Path | None,
) -> None:
    """Write a bundle from outputs you already have; `submit` can then send it.

    The runs are native outputs of any format `smp-runner formats` lists, one
    run a file: the baseline and one or more mesh runs of the same test. The
    test is a standard --profile or an SMP test configuration (--config, a
    custom profile). The environment is an SMP EnvironmentConfig file, the
    cluster of --kubeconfig, or else this machine. --resources gives CPU and
    memory per container (docs/smp.md says which containers count as sidecar,
    control plane and workload, per mesh). The bundle is checked as the index
    will check it before it is written.
    """
    from runner.cli import _profile, _read_input
    from runner.from_outputs import (
        Outputs,
        assemble,
        checked,
        default_output,
        environment_from_file,
        parse_resources_option,
    )
    from runner.summary import summary_lines
    from smp.model import MESH_TYPES

    if (profile_id is None) == (config_path is None):
        raise click.UsageError("choose the test: --profile ID or --config FILE")
    if mesh_type not in MESH_TYPES or mesh_type == "none":
        known = ", ".join(t for t in MESH_TYPES if t != "none")
        raise click.BadParameter(
            f"{mesh_type!r} is not a mesh type ({known})", param_hint="--mesh-type"
        )
    if environment_path and kubeconfig:
        raise click.UsageError("the environment comes from --environment FILE or --kubeconfig")
    if context and not kubeconfig:
        raise click.UsageError("--context picks a context of --kubeconfig; give both or neither")
    custom = None
    if config_path is not None:
        from runner.custom import config_profile

        chosen = config_profile(_read_input(config_path), config_path)
        profile, custom = chosen.profile, chosen.custom
    else:
        profile = _profile(str(profile_id))
    if environment_path:
        environment = environment_from_file(environment_path)
    elif kubeconfig:
        from runner.cluster import Cluster, capture_environment

        environment = capture_environment(Cluster.connect(kubeconfig, context))
    else:
        from runner.calibrate import run_probe
        from runner.environment import local_environment

        click.echo("environment: this machine (calibrating, about 2 s)", err=True)
        environment = local_environment(run_probe())
    outputs = Outputs(
        profile=profile,
        custom=custom,
        baseline=baseline,
        meshes=list(meshes),
        mesh_type=mesh_type,
        mesh_version=mesh_version,
        mtls=mtls,
        environment=environment,
        resources=[parse_resources_option(value) for value in resource_files],
        format=format_name,
    )
    bundle, placed = assemble(outputs)
    errors, warnings = checked(bundle)
    for problem in warnings:
        click.echo(f"warning: {problem.path}: {problem.message}", err=True)
    if errors:
        lines = "\n".join(f"  {p.path}: {p.message} [{p.rule}]" for p in errors)
        raise click.ClickException(f"the bundle would be refused:\n{lines}")
    for line in placed:
        click.echo(f"resources: {line}", err=True)
    from runner.bundle import write_bundle

    path = write_bundle(bundle, out or default_output(profile.id, mesh_type, mesh_version))
    for line in summary_lines(bundle, path):
        click.echo(line)
