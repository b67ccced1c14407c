"""``smp-runner``: run the standard SMP tests, convert and check results, submit them.

Each command's docstring is its help. Work happens in sibling modules; heavy
imports stay inside the commands so ``--help`` is instant.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

if TYPE_CHECKING:
    from runner.realworld import Workload
    from smp.profiles import Profile

EXIT_INVALID = 1
EXIT_UNREADABLE = 2
EXIT_INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="meshmark", prog_name="smp-runner")
def cli() -> None:
    """Run Service Mesh Performance tests and work with SMP results."""


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read: {exc.strerror}") from None


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "format_name",
    metavar="NAME",
    help="Input format (default: detected from the content). See `smp-runner formats`.",
)
@click.option("--indent", default=2, show_default=True, help="JSON indentation (0 = compact).")
def convert(file: str, format_name: str | None, indent: int) -> None:
    """Convert a load generator's output (or SMP YAML/JSON) to an SMP result.

    Prints one SMP result as JSON, or a JSON array when the input holds several
    runs (a Meshery export, an Istio benchmark CSV, an SMP bundle). Exits 2 with
    one line on stderr when the input cannot be read.
    """
    from smp.errors import ReaderError
    from smp.readers import read

    data = _read_input(file)
    try:
        name, results = read(data, format_name)
    except ReaderError as exc:
        click.echo(f"{file}: {exc}", err=True)
        sys.exit(EXIT_UNREADABLE)
    if name == "smp":
        from smp.spec.read import read_document

        for problem in read_document(data).warnings:
            click.echo(f"warning: {file}: {problem.path}: {problem.message}", err=True)
    docs = [r.to_dict() for r in results]
    payload = docs[0] if len(docs) == 1 else docs
    click.echo(json.dumps(payload, indent=indent or None, sort_keys=False))


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--format", "format_name", metavar="NAME", help="Input format (default: detected).")
def validate(file: str, format_name: str | None) -> None:
    """Check an SMP result or bundle (or a native output) for every problem.

    Exits 0 when valid (warnings are printed but do not fail), 1 with each
    problem printed as `path: message`, 2 when the file cannot be read.
    """
    from smp.submission import read_submission

    report = read_submission(_read_input(file), format=format_name, native_alone=True)
    warnings = list(report.warnings)
    if report.ok and report.kind == "bundle" and report.bundle is not None:
        # What the index would rank: the admission rules of the bundle's profile.
        from scoring.admission import admit
        from smp.profiles import get_profile

        profile = get_profile(report.bundle.profile) if report.bundle.profile else None
        if profile is not None:
            admission = admit(report.bundle, profile)
            warnings += admission.all_reasons()
            for note in admission.unchecked:
                click.echo(f"note: {note.path}: {note.message} [{note.rule}]", err=True)
    for problem in warnings:
        click.echo(
            f"warning: {problem.path or '(document)'}: {problem.message} [{problem.rule}]",
            err=True,
        )
    if report.ok and report.spec is not None and report.kind not in ("result", "bundle"):
        click.echo(f"{file}: valid {report.format} document: an {report.spec.what}")
        return
    if report.ok:
        count = len(report.results)
        what = "bundle" if report.kind == "bundle" else "result" if count == 1 else "results"
        click.echo(f"{file}: valid {report.format} {what} ({count} run{'s' * (count != 1)})")
        return
    for problem in report.errors:
        click.echo(f"{problem.path or '(document)'}: {problem.message} [{problem.rule}]")
    unreadable = any(p.rule == "readable" for p in report.errors)
    sys.exit(EXIT_UNREADABLE if unreadable else EXIT_INVALID)


@cli.command()
def formats() -> None:
    """List the input formats `convert` and `validate` understand."""
    from smp.readers import readers

    for reader in readers():
        click.echo(f"{reader.name:12} {reader.description}")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``10s``, ``1m30s``, ``500ms``; a bare number is seconds."""
    from smp.errors import ReaderError
    from smp.units import duration_to_ms

    text = text.strip()
    try:
        seconds = (
            float(text)
            if text.replace(".", "", 1).isdigit()
            else duration_to_ms(text, "duration") / 1000
        )
    except (ReaderError, ValueError):
        raise click.BadParameter(f"{text!r} is not a duration (e.g. 10s, 1m30s, 500ms)") from None
    if seconds < 0:
        raise click.BadParameter(f"{text!r} is negative")
    return seconds


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    return None if value is None else parse_duration(value)


@cli.group(invoke_without_command=True)
@click.pass_context
def profiles(ctx: click.Context) -> None:
    """List the standard test profiles (the ids the index knows).

    `smp-runner profiles show ID` prints one profile in full.
    """
    if ctx.invoked_subcommand is not None:
        return
    from smp.profiles import standard_profiles

    click.echo(
        f"{'id':<15} {'protocol':<8} {'rps':>6} {'conns':>5} {'payload':>8} {'duration':>8}  name"
    )
    for p in standard_profiles():
        rps = "max" if p.rps is None else str(p.rps)
        click.echo(
            f"{p.id:<15} {p.protocol:<8} {rps:>6} {p.connections:>5} {p.payload_bytes:>7}B "
            f"{p.duration_s:>7}s  {p.name}"
        )


@profiles.command("show")
@click.argument("profile_id", metavar="ID")
@click.option(
    "--smp", "as_smp", is_flag=True, help="Print it as an SMP PerformanceTestConfig (JSON)."
)
@click.option("--yaml", "as_yaml", is_flag=True, help="With --smp: YAML instead of JSON.")
def profiles_show(profile_id: str, as_smp: bool, as_yaml: bool) -> None:
    """Print one standard profile with every field.

    With --smp, print it as the SMP PerformanceTestConfig it is (the spec's
    proto3 JSON); `smp-runner run --config` takes that file back as the same
    standard profile, and an edited copy as a custom profile.
    """
    profile = _profile(profile_id)
    if as_yaml and not as_smp:
        raise click.UsageError("--yaml goes with --smp")
    if as_smp:
        from smp.custom_profiles import config_for_profile
        from smp.spec.export import export_test_config, to_yaml

        doc = export_test_config(config_for_profile(profile))
        click.echo(to_yaml(doc) if as_yaml else json.dumps(doc, indent=2), nl=not as_yaml)
        return
    for key, value in profile.as_dict().items():
        click.echo(f"{key + ':':<15} {value}")


# Options one mode reads and the other would silently ignore: each is refused
# in the mode that would ignore it, with the reason, so that a contributor who
# believes they tested Linkerd against their Prometheus learns they did not.
ONLY_ON_A_CLUSTER = {
    "mesh": "--mesh: with --local the proxies stand in for the mesh",
    "prometheus": "--prometheus: with --local CPU and memory are read from /proc",
    "context": "--context: it picks a context of a kubeconfig, and --local has none",
}
ONLY_LOCAL = {
    "proxy": "--proxy: on a cluster the mesh's own proxies carry the traffic",
    "generator_processes": "--generator-processes: the cluster's generator is fortio or nighthawk",
    "repeat": "--repeat: on a cluster each phase installs and removes its namespace; "
    "repeat the command instead",
    "real_world": "--real-world: its per-request send times, paths and sizes need the "
    "built-in generator, which runs locally",
    "seed": "--seed: it seeds the real-world mode, which runs locally",
    "settle": "--settle: on a cluster the generator is fortio or nighthawk, each with its own "
    "warm-up",
}


def given(ctx: click.Context, name: str) -> bool:
    """Whether the user set option ``name`` (on the command line or in the environment)."""
    source = ctx.get_parameter_source(name)
    return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def refuse_ignored_options(ctx: click.Context, *, local: bool) -> None:
    """UsageError naming every option given that the chosen mode does not read."""
    unread = ONLY_ON_A_CLUSTER if local else ONLY_LOCAL
    reasons = [reason for name, reason in unread.items() if given(ctx, name)]
    if reasons:
        where = "with --local" if local else "on a cluster (--kubeconfig)"
        raise click.UsageError(f"not used {where}, so refused: " + "; ".join(reasons))


def _real_world(
    profile: Profile,
    seed: int | None,
    duration: float | None,
    warmup: float | None,
    rate: float | None,
) -> tuple[Profile, Workload]:
    """The real-world variant of ``profile`` (or ``profile`` itself when it is one) and
    the workload drawn for it from ``seed`` (a random seed when None, recorded)."""
    from runner.realworld import draw, new_seed
    from smp.profiles import real_world_profile

    if not profile.real_world_of:
        variant = real_world_profile(profile.id)
        if variant is None:
            raise click.UsageError(
                f"profile {profile.id} has no real-world variant; profiles with one: "
                + ", ".join(p.real_world_of or "" for p in _standard() if p.real_world_of)
            )
        profile = variant
    drawn_seed = seed if seed is not None else new_seed()
    workload = draw(
        drawn_seed,
        rate if rate is not None else float(profile.rps or 0),
        duration if duration is not None else float(profile.duration_s),
        warmup if warmup is not None else float(profile.warmup_s),
    )
    return profile, workload


def _standard() -> tuple[Profile, ...]:
    from smp.profiles import standard_profiles

    return standard_profiles()


def _profile(profile_id: str) -> Profile:
    from smp.profiles import get_profile, standard_profiles

    profile = get_profile(profile_id)
    if profile is None:
        known = ", ".join(p.id for p in standard_profiles())
        raise click.ClickException(
            f"unknown profile {profile_id!r}; the standard profiles are: {known}"
        )
    return profile


LOCAL_GENERATORS = ("builtin", "wrk", "wrk2", "hey", "fortio")
CLUSTER_GENERATORS = ("fortio", "nighthawk")


@cli.command()
@click.option(
    "--profile",
    "profile_id",
    metavar="ID",
    help="Standard profile to run (see `smp-runner profiles`).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="An SMP PerformanceTestConfig (Meshery's test configuration too) to run as a profile.",
)
@click.option(
    "--local", is_flag=True, help="Run on this machine, with real proxies as the sidecar pair."
)
@click.option(
    "--kubeconfig", type=click.Path(dir_okay=False), help="Run on the cluster of this kubeconfig."
)
@click.option("--context", help="kubeconfig context (default: the current one).")
@click.option(
    "--proxy",
    type=click.Choice(["nginx", "haproxy"]),
    default="nginx",
    show_default=True,
    help="Local mode: the proxy standing in for the sidecars.",
)
@click.option(
    "--mtls/--no-mtls",
    default=None,
    help=(
        "Local: TLS with client certificates between the proxies. "
        "Cluster: record whether the mesh uses mTLS."
    ),
)
@click.option(
    "--mesh",
    type=click.Choice(["istio", "linkerd", "cilium", "kuma", "consul", "auto"]),
    default="auto",
    show_default=True,
    help="Cluster mode: the mesh to test (auto: the only one installed).",
)
@click.option(
    "--prometheus",
    metavar="URL",
    help="Cluster mode: read CPU/memory from this Prometheus (else metrics.k8s.io).",
)
@click.option(
    "--load-generator",
    type=click.Choice(sorted({*LOCAL_GENERATORS, *CLUSTER_GENERATORS})),
    help="builtin (local default), wrk, wrk2, hey, fortio (cluster default) or nighthawk.",
)
@click.option(
    "--duration",
    metavar="DURATION",
    callback=_duration,
    help="Length of each phase (default: the profile's), e.g. 10s.",
)
@click.option(
    "--warmup",
    metavar="DURATION",
    callback=_duration,
    help="Warm-up before each phase, not recorded (default: the profile's).",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Requests per second (default: the profile's).",
)
@click.option(
    "--connections", type=click.IntRange(min=1), help="Connections (default: the profile's)."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the bundle (default: smp-<profile>-<mode>-<run id>.json).",
)
@click.option(
    "--generator-processes",
    type=click.IntRange(min=1, max=16),
    default=1,
    show_default=True,
    help="Local: processes of the built-in generator sharing the schedule (for high rates).",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1, max=20),
    default=1,
    show_default=True,
    help=(
        "Local: make N pairs of phases (baseline, mesh, baseline, mesh, ...) in one "
        "bundle; the index ranks the median of their scores."
    ),
)
@click.option(
    "--settle",
    is_flag=True,
    help=(
        "Local: before each phase, load the target in 1-second windows until its p90 is "
        "stable (3 windows within 10%, at most 15), then warm up and measure."
    ),
)
@click.option(
    "--real-world",
    is_flag=True,
    help=(
        "Local: run the profile's real-world variant, its workload drawn at random "
        "(bursty arrivals, paths, sizes) from --seed; ranked on a board of its own."
    ),
)
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**32 - 1),
    help="Real-world mode: the seed to draw the workload from (default: a random one, recorded).",
)
@click.option(
    "--skip-certify",
    is_flag=True,
    help="Do not check the environment first (`certify`); the bundle records that it was skipped.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def run(
    profile_id: str | None,
    config_path: str | None,
    local: bool,
    kubeconfig: str | None,
    context: str | None,
    proxy: str,
    mtls: bool | None,
    mesh: str,
    prometheus: str | None,
    load_generator: str | None,
    duration: float | None,
    warmup: float | None,
    rate: float | None,
    connections: int | None,
    out: Path | None,
    generator_processes: int,
    repeat: int,
    settle: bool,
    real_world: bool,
    seed: int | None,
    skip_certify: bool,
    quiet: bool,
) -> None:
    """Run a standard profile: a baseline phase, then a mesh phase; write an SMP bundle.

    With --local everything runs on this machine: an application server, the
    load straight to it (baseline), then through two real proxies (nginx or
    haproxy) standing in for a client and a server sidecar (mesh). With
    --kubeconfig the workload and the load generator run on the cluster, in
    one namespace per phase, deleted afterwards. Ctrl-C stops and deletes
    everything the run started.

    --config runs an SMP PerformanceTestConfig as a profile: the standard
    profile it describes exactly, or a custom profile (its own id, ranked on a
    board of its own). Its client's load generator and Meshery's `mesh.type` are
    used unless --load-generator / --mesh say otherwise; its endpoints are not
    (the runner measures its own workload).
    """
    from runner.bundle import default_output_path, write_bundle
    from runner.processes import sigterm_as_interrupt
    from runner.progress import ClickProgress, Progress

    if local == bool(kubeconfig):
        raise click.UsageError("choose where to run: --local or --kubeconfig PATH")
    refuse_ignored_options(click.get_current_context(), local=local)
    from runner.custom import ConfigProfile, config_profile

    chosen: ConfigProfile | None = None
    if (profile_id is None) == (config_path is None):
        raise click.UsageError("choose the test: --profile ID or --config FILE")
    if config_path is not None:
        chosen = config_profile(_read_input(config_path), config_path)
        profile = chosen.profile
        load_generator = chosen.generator(load_generator)
        mesh = chosen.mesh(mesh, local=local)
        for note in chosen.notes:
            click.echo(f"note: {note}", err=True)
    else:
        profile = _profile(str(profile_id))
    workload = None
    if real_world or profile.real_world_of:
        profile, workload = _real_world(profile, seed, duration, warmup, rate)
    elif seed is not None:
        raise click.UsageError("--seed seeds the real-world mode: give --real-world too")
    if profile.is_capacity and rate is not None:
        raise click.UsageError(
            f"profile {profile.id} searches for its rate: --rate would fix it (use a "
            "fixed-rate profile, or --config for a custom one)"
        )
    generators = LOCAL_GENERATORS if local else CLUSTER_GENERATORS
    generator = load_generator or generators[0]
    if generator not in generators:
        where = "with --local" if local else "on a cluster"
        raise click.UsageError(
            f"--load-generator {generator} is not available {where}; "
            f"choose from {', '.join(generators)}"
        )
    if rate is None and profile.rps is None and not profile.is_capacity:
        raise click.UsageError(f"profile {profile.id} has no fixed rate; give --rate")
    phase_s = duration if duration is not None else float(profile.duration_s)
    if phase_s <= 0:
        raise click.UsageError("--duration must be positive")
    progress: Progress = Progress() if quiet else ClickProgress()
    warmup_s = warmup if warmup is not None else float(profile.warmup_s)
    rate_rps = rate if rate is not None else float(profile.rps or 0)
    if profile.is_capacity:  # certify checks the machine at the rate the search starts from
        rate_rps = float((profile.search or {})["start_rps"])
    checks = None
    if not skip_certify:
        from runner.cli_certify import certify_first

        checks = certify_first(
            progress.step,
            local=local,
            kubeconfig=kubeconfig,
            context=context,
            mesh=mesh,
            prometheus=prometheus,
            rps=rate_rps,
            connections=connections or profile.connections,
        )
    try:
        with sigterm_as_interrupt():
            if local:
                from runner.local import LocalOptions, run_local

                bundle = run_local(
                    LocalOptions(
                        profile=profile,
                        duration_s=phase_s,
                        warmup_s=warmup_s,
                        rate=rate_rps,
                        proxy=proxy,
                        mtls=bool(mtls),
                        connections=connections or profile.connections,
                        load_generator=generator,
                        generator_processes=generator_processes,
                        repeat=repeat,
                        workload=workload,
                        settle=settle,
                    ),
                    progress,
                )
            else:
                from runner.k8s import KubeOptions, run_kubernetes

                if connections is not None:
                    profile = dataclasses.replace(profile, connections=connections)
                bundle = run_kubernetes(
                    KubeOptions(
                        profile=profile,
                        duration_s=phase_s,
                        warmup_s=warmup_s,
                        rate=rate_rps,
                        kubeconfig=str(kubeconfig),
                        context=context,
                        mesh=mesh,
                        prometheus=prometheus,
                        load_generator=generator,
                        mtls=mtls,
                    ),
                    progress,
                )
    except KeyboardInterrupt:
        click.echo("interrupted: everything the run started has been stopped and removed", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if chosen is not None and chosen.custom is not None:
        # The bundle carries the definition, from which the index recomputes the same id.
        bundle.config = chosen.custom.config
    from runner.bundle import record_settings

    record_settings(
        bundle,
        profile=profile,
        warmup_s=warmup_s,
        overrides={
            "--duration": f"{duration:g}s" if duration is not None else None,
            "--warmup": f"{warmup:g}s" if warmup is not None else None,
            "--rate": f"{rate:g}" if rate is not None else None,
            "--connections": str(connections) if connections is not None else None,
        },
    )
    if workload is not None:  # the seed replays the run: `run --real-world --seed N`
        bundle.labels.update(workload.labels())
    from runner.certify import as_labels

    bundle.labels.update(as_labels(checks))
    run_id = bundle.labels.get("run_id", "run")
    path = out or default_output_path(profile.id, "local" if local else "kubernetes", run_id)
    write_bundle(bundle, path)
    from runner.summary import summary_lines

    for line in summary_lines(bundle, path):
        click.echo(line)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def score(file: str, as_json: bool) -> None:
    """Preview the MeshMark of a bundle, computed with the index's own code.

    Prints, for each mesh run, the score, its class breakdown and the
    absolute figures normalized by the bundle's calibration.
    """
    from runner.preview import load_bundle, render_text, score_bundle

    bundle = load_bundle(_read_input(file), file)
    scores = score_bundle(bundle, file)
    if as_json:
        click.echo(json.dumps({"file": file, "runs": scores}, indent=2))
    else:
        click.echo(render_text(bundle, scores))


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--server",
    envvar="SMP_SERVER",
    metavar="URL",
    help="The index, e.g. https://meshmark.example.org (env SMP_SERVER).",
)
@click.option(
    "--token",
    envvar="SMP_TOKEN",
    metavar="TOKEN",
    help="An API token of your organization (env SMP_TOKEN).",
)
@click.option(
    "--wait",
    is_flag=True,
    help="Wait for the verdict; print the results or every rejection reason.",
)
@click.option(
    "--timeout",
    metavar="DURATION",
    callback=_duration,
    default="5m",
    show_default=True,
    help="How long --wait waits.",
)
def submit(
    files: tuple[Path, ...], server: str | None, token: str | None, wait: bool, timeout: float
) -> None:
    """Upload bundles to a MeshMark index; safe to repeat.

    Each file is sent as it is, with an Idempotency-Key derived from its
    SHA-256, so re-running never makes a duplicate. Network errors, 429 and
    5xx answers are retried with exponential backoff (Retry-After is obeyed).
    Exits 1 when a file is refused or, with --wait, rejected.
    """
    from runner.submit import submit_files

    if not wait and given(click.get_current_context(), "timeout"):
        raise click.UsageError("--timeout is how long --wait waits; give --wait or drop it")
    if not server:
        raise click.UsageError("no server: give --server URL or set SMP_SERVER")
    if not token:
        raise click.UsageError("no token: give --token TOKEN or set SMP_TOKEN")
    ok = submit_files(
        list(files), server=server, token=token, wait=wait, timeout_s=timeout, echo=click.echo
    )
    if not ok:
        sys.exit(EXIT_INVALID)


from runner.cli_bundle import bundle_command  # noqa: E402 - it needs the helpers above
from runner.cli_certify import certify_command  # noqa: E402

cli.add_command(bundle_command, "bundle")
cli.add_command(certify_command, "certify")


def main() -> None:
    cli()
