"""`--help` on every command, and `smp-runner profiles`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from runner.cli import cli
from smp.profiles import standard_profiles

COMMANDS = [
    [],
    ["convert"],
    ["validate"],
    ["formats"],
    ["profiles"],
    ["profiles", "show"],
    ["run"],
    ["score"],
    ["submit"],
    ["certify"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "smp-runner")
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
    assert "Traceback" not in result.output


def test_the_help_of_run_score_and_submit_imports_nothing_heavy() -> None:
    code = (
        "import sys\nfrom runner.cli import cli\n"
        "for args in (['run', '--help'], ['score', '--help'], ['submit', '--help']):\n"
        "    try:\n        cli(args)\n    except SystemExit:\n        pass\n"
        "heavy = ['django', 'kubernetes', 'numpy', 'httpx', 'meshmark']\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stderr


def test_profiles_lists_the_standard_profiles() -> None:
    result = CliRunner().invoke(cli, ["profiles"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:2] == ["id", "protocol"]
    assert [line.split()[0] for line in lines[1:]] == [p.id for p in standard_profiles()]
    assert "http-1k         http       1000    16    1024B      60s  HTTP, 1,000 rps" in lines


def test_profiles_show_prints_every_field_of_one_profile() -> None:
    result = CliRunner().invoke(cli, ["profiles", "show", "http-5k"])
    assert result.exit_code == 0, result.output
    assert "rps:            5000" in result.output
    assert "connections:    64" in result.output
    assert "warmup_s:       5" in result.output


def test_an_unknown_profile_names_the_known_ones() -> None:
    for args in (["profiles", "show", "http-9k"], ["run", "--profile", "http-9k", "--local"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1
        assert "unknown profile 'http-9k'" in result.output
        assert "http-100, http-1k" in result.output


def test_a_bad_duration_is_a_usage_error() -> None:
    result = CliRunner().invoke(
        cli, ["run", "--profile", "http-100", "--local", "--duration", "ten"]
    )
    assert result.exit_code == 2
    assert "'ten' is not a duration" in result.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--local", "--mesh", "linkerd"], ["--mesh"]),
        (["--local", "--prometheus", "http://127.0.0.1:9090"], ["--prometheus"]),
        (["--local", "--context", "kind-a", "--mesh", "istio"], ["--mesh", "--context"]),
        # Given explicitly, even the default value is refused: it would be ignored all the same.
        (["--kubeconfig", "/nonexistent/kubeconfig", "--proxy", "nginx"], ["--proxy"]),
        (
            ["--kubeconfig", "/nonexistent/kubeconfig", "--generator-processes", "2"],
            ["--generator-processes"],
        ),
        (["--kubeconfig", "/nonexistent/kubeconfig", "--repeat", "3"], ["--repeat"]),
    ],
)
def test_an_option_the_mode_would_ignore_is_refused(args: list[str], named: list[str]) -> None:
    result = CliRunner().invoke(cli, ["run", "--profile", "http-100", *args])

    assert result.exit_code == 2, result.output
    assert "so refused" in result.output
    for flag in named:
        assert f"{flag}:" in result.output
    # Nothing ran: no phase was started and no bundle written.
    assert "baseline" not in result.output


def test_options_the_mode_reads_are_not_refused() -> None:
    # --proxy with --local passes the check and reaches the next one (the unknown profile).
    result = CliRunner().invoke(
        cli, ["run", "--profile", "http-9k", "--local", "--proxy", "haproxy", "--mtls"]
    )
    assert result.exit_code == 1
    assert "unknown profile" in result.output


def test_submit_timeout_without_wait_is_refused() -> None:
    result = CliRunner().invoke(
        cli,
        ["submit", "x.json", "--server", "http://127.0.0.1:1", "--token", "t", "--timeout", "1m"],
    )
    assert result.exit_code == 2
    assert "--timeout is how long --wait waits" in result.output


def test_bundle_context_without_kubeconfig_is_refused() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "bundle",
            "--profile",
            "http-1k",
            "--baseline",
            "b.json",
            "--mesh",
            "m.json",
            "--mesh-type",
            "istio",
            "--mesh-version",
            "1.24.1",
            "--context",
            "kind-a",
        ],
    )
    assert result.exit_code == 2
    assert "--context picks a context of --kubeconfig" in result.output
