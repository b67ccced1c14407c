"""``smp-runner``: run the standard SMP tests, convert and check results, submit them.

Each command's docstring is its help. Work happens in sibling modules; heavy
imports stay inside the commands so ``--help`` is instant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

EXIT_INVALID = 1
EXIT_UNREADABLE = 2


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
        _, results = read(data, format_name)
    except ReaderError as exc:
        click.echo(f"{file}: {exc}", err=True)
        sys.exit(EXIT_UNREADABLE)
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
    from smp.validate import validate_bytes

    report = validate_bytes(_read_input(file), format_name)
    for problem in report.warnings:
        click.echo(f"warning: {problem.path or '(document)'}: {problem.message}", err=True)
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


def main() -> None:
    cli()
