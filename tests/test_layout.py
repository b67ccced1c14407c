"""The house's arrows go one way: smp <- scoring <- {runner, ingest} <- meshmark.

Checked on the source (every import statement, at any depth) and on a fresh
interpreter (what importing the pure packages actually loads).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAY_IMPORT = {
    "smp": set(),
    "scoring": {"smp"},
    "runner": {"smp", "scoring"},
    "ingest": {"smp", "scoring"},
    "meshmark": {"smp", "scoring", "ingest"},
}


def imported_packages(path: Path) -> set[str]:
    """The top-level project packages a module imports, anywhere in its body."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(MAY_IMPORT)


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_the_packages_below_it(package: str) -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported - MAY_IMPORT[package] - {package})
        for path in sorted((ROOT / package).rglob("*.py"))
        if (imported := imported_packages(path)) - MAY_IMPORT[package] - {package}
    }
    assert wrong == {}


def test_the_arrow_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from meshmark import selectors\n")
    assert imported_packages(module) == {"meshmark"}


def test_the_pure_packages_load_no_django() -> None:
    code = (
        "import json, sys\n"
        "import scoring, scoring.rows, scoring.preview, smp, smp.submission, runner.cli\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'django')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []


def test_no_signal_carries_the_pipeline() -> None:
    users = [
        str(path.relative_to(ROOT))
        for package in ("ingest", "meshmark")
        for path in sorted((ROOT / package).rglob("*.py"))
        if "django.dispatch" in path.read_text()
    ]
    assert users == []


def test_every_transactional_test_restores_what_it_flushes() -> None:
    # A transactional test flushes the database when it ends, and the flush re-runs
    # post_migrate; the next test that restores its serialized copy then collides with
    # the rows post_migrate made. So every one of them restores (and seeds) the same way.
    careless = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in (ROOT / "tests").rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "transaction=True" in line and "serialized_rollback=True" not in line
        and path.name != "test_layout.py"
    ]  # fmt: skip
    assert careless == []
