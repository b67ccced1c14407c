"""The ``meshmark`` command: run the index.

``serve``, ``worker`` and ``demo`` are MeshMark's own; any other word is handed
to Django's management commands, so ``meshmark migrate`` or
``meshmark createsuperuser`` work as ``manage.py`` would.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import click

from meshmark.demo import DEFAULT_SEED as DEMO_SEED
from meshmark.demo import DEFAULT_SIZE as DEMO_SIZE

DEFAULT_BIND = "127.0.0.1:8000"
FIRST_RUN_SIZE = 2000
"""Demo submissions `serve --demo-if-empty` seeds: enough that most meshes have several
releases with five runs or more in a group, so mesh pages show trends and verdicts."""


def _django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meshmark.settings")
    import django

    django.setup()


def _manage(*args: str) -> None:
    from django.core.management import call_command

    call_command(*args)


def _prepare(migrate: bool) -> None:
    _django_setup()
    from django.conf import settings

    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    if migrate:
        _manage("migrate", "--noinput", "--verbosity", "0")


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Any other command is a Django management command, e.g. `meshmark migrate`.",
)
def cli() -> None:
    """MeshMark: the public index of Service Mesh Performance results."""


def serving_options(command: Callable[..., None]) -> Callable[..., None]:
    """``--bind``, ``--workers`` and ``--dev``: how a command that serves the index serves it."""
    for option in reversed(
        [
            click.option(
                "--bind", default=DEFAULT_BIND, show_default=True, help="host:port to listen on."
            ),
            click.option(
                "--workers",
                type=int,
                default=None,
                help="gunicorn worker processes (default: GUNICORN_WORKERS, measured in "
                "docs/benchmarks.md).",
            ),
            click.option(
                "--dev", is_flag=True, help="Django's auto-reloading development server instead."
            ),
        ]
    ):
        command = option(command)
    return command


@cli.command()
@serving_options
@click.option("--no-migrate", is_flag=True, help="Do not apply database migrations first.")
@click.option(
    "--demo-if-empty",
    is_flag=True,
    help="On the embedded (SQLite) database only: when it holds no submission yet, seed the "
    "demo corpus once first (what `make serve` does on a fresh clone).",
)
def serve(bind: str, workers: int | None, dev: bool, no_migrate: bool, demo_if_empty: bool) -> None:
    """Apply migrations and serve the index (gunicorn)."""
    _prepare(migrate=not no_migrate)
    if demo_if_empty and _embedded_and_empty():
        click.echo(
            f"The embedded database is empty: seeding {FIRST_RUN_SIZE} demo submissions "
            "through the pipeline, once (about 20 s) ..."
        )
        _manage("seed_demo", "--bulk", "--size", str(FIRST_RUN_SIZE), "--seed", str(DEMO_SEED))
    _serve(bind, workers, dev)


def _embedded_and_empty() -> bool:
    """True for the SQLite file of the embedded mode with no submission in it: a real
    database (DATABASE_URL) is never seeded behind its operator's back."""
    from django.db import connection

    from ingest.models import Submission

    return connection.vendor == "sqlite" and not Submission.objects.exists()


@cli.command()
@click.option(
    "--size",
    default=DEMO_SIZE,
    type=click.IntRange(min=1),
    show_default=True,
    help="Demo submissions to seed (each a baseline and a mesh run).",
)
@click.option("--seed", default=DEMO_SEED, show_default=True, help="Corpus seed.")
@serving_options
def demo(size: int, seed: int, bind: str, workers: int | None, dev: bool) -> None:
    """Apply migrations, seed the demo corpus (idempotent) and serve the index."""
    _prepare(migrate=True)
    click.echo(f"Seeding {size} demo submissions through the pipeline ...")
    _manage("seed_demo", "--size", str(size), "--seed", str(seed))
    _serve(bind, workers, dev)


def _serve(bind: str, workers: int | None, dev: bool) -> None:
    click.echo(f"MeshMark at http://{bind}/ (Ctrl-C stops it)")
    if dev:
        _manage("runserver", bind)
        return
    from gunicorn.app.wsgiapp import run

    sys.argv = [
        "gunicorn",
        "meshmark.wsgi:application",
        "--bind",
        bind,
        "--config",
        "python:meshmark.gunicorn_conf",
    ]
    if workers is not None:
        sys.argv += ["--workers", str(workers)]
    run()


@cli.command()
@click.option("--concurrency", default=2, show_default=True)
@click.option("--beat", is_flag=True, help="Also run the periodic scheduler in this process.")
def worker(concurrency: int, beat: bool) -> None:
    """Run a Celery worker (needs CELERY_BROKER_URL)."""
    _django_setup()
    from django.conf import settings

    if not settings.CELERY_BROKER_URL:
        raise click.ClickException(
            "CELERY_BROKER_URL is not set: without a broker tasks run eagerly inside "
            "the web process and no worker is needed."
        )
    from meshmark.celery import app

    argv = ["worker", "--loglevel", "INFO", "--concurrency", str(concurrency)]
    if beat:
        argv.append("--beat")
    app.worker_main(argv)


def main() -> None:
    args = sys.argv[1:]
    if args and not args[0].startswith("-") and args[0] not in cli.commands:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meshmark.settings")
        from django.core.management import execute_from_command_line

        execute_from_command_line(["meshmark", *args])
        return
    cli()
