"""``smp-runner certify``, and the certification ``run`` performs first; the checks are in
:mod:`runner.certify`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click


def _checks(
    *,
    local: bool,
    kubeconfig: str | None,
    context: str | None,
    mesh: str,
    prometheus: str | None,
    rps: float,
    connections: int,
) -> list[Any]:
    """Every check of ``certify`` for this machine (``local``) or cluster."""
    from runner import certify

    if local:
        return certify.certify_local(rps, connections)
    from runner.cluster import Cluster, resolve_mesh

    cluster = Cluster.connect(str(kubeconfig), context)
    chosen = mesh if mesh != "auto" else resolve_mesh(cluster, "auto")[0].name
    return certify.certify_cluster(cluster, chosen, rps, prometheus)


def certify_first(echo: Any, **where: Any) -> list[Any]:
    """:func:`_checks`, printed; ClickException when one failed (``run`` stops there)."""
    from runner import certify

    echo("certify: checking the environment first (about 10 s; --skip-certify skips it)")
    checks = _checks(**where)
    for line in certify.render(checks):
        echo(line)
    if certify.summary(checks) == certify.FAIL:
        failed = "; ".join(f"{c.name}: {c.reason}" for c in checks if c.status == certify.FAIL)
        raise click.ClickException(
            f"the environment failed certification ({failed}); a run here would not measure "
            "what the profile claims (--skip-certify runs anyway, and the bundle says so)"
        )
    return checks


@click.command("certify")
@click.option("--profile", "profile_id", metavar="ID", required=True, help="Profile to run.")
@click.option("--local", is_flag=True, help="Check this machine for local mode.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Check this cluster.")
@click.option("--context", help="kubeconfig context (default: the current one).")
@click.option(
    "--mesh",
    type=click.Choice(["istio", "linkerd", "cilium", "kuma", "consul", "auto"]),
    default="auto",
    show_default=True,
    help="Cluster: the mesh whose control plane must be ready.",
)
@click.option("--prometheus", metavar="URL", help="Cluster: the Prometheus the run would read.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def certify_command(
    profile_id: str,
    local: bool,
    kubeconfig: str | None,
    context: str | None,
    mesh: str,
    prometheus: str | None,
    as_json: bool,
) -> None:
    """Check that this machine or cluster can run a profile, before a run is spent on it.

    Each check answers pass, warn or fail with its reason: cores for the
    profile's rate, calibration stable over repeated probes, CPU steal and
    load, the frequency governor, free memory and the generator holding the
    rate (locally); nodes, the mesh's control plane, the metrics source and
    node clocks (on a cluster). Exits 1 when a check fails. `run` performs the
    same checks first unless --skip-certify.
    """
    from runner import certify as checks_of
    from runner.cli import EXIT_INVALID, _profile, refuse_ignored_options

    if local == bool(kubeconfig):
        raise click.UsageError("choose what to check: --local or --kubeconfig PATH")
    refuse_ignored_options(click.get_current_context(), local=local)
    profile = _profile(profile_id)
    checks = _checks(
        local=local,
        kubeconfig=kubeconfig,
        context=context,
        mesh=mesh,
        prometheus=prometheus,
        rps=float(profile.rps or 0),
        connections=profile.connections,
    )
    if as_json:
        click.echo(json.dumps(checks_of.as_json(checks), indent=2))
    else:
        for line in checks_of.render(checks):
            click.echo(line)
    if checks_of.summary(checks) == checks_of.FAIL:
        sys.exit(EXIT_INVALID)
