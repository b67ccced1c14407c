from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"


def pytest_configure(config: pytest.Config) -> None:
    # Database tests run on PostgreSQL (the README's `make test` sets DATABASE_URL).
    # Refuse to silently fall back to SQLite, which would hide PostgreSQL-only bugs.
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise pytest.UsageError(
            "Set DATABASE_URL to a PostgreSQL database (e.g. `make test` does this)."
        )


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"the shared sample outputs are missing at {SAMPLES}")
    return SAMPLES


def sample_files() -> list[Path]:
    """Every sample output, for tests that must cover them all."""
    return sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.name != "SOURCES.md")
