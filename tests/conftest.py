from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

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


# Shared database fixtures: an organization with a token, and a client using it.


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Each test starts with an empty cache (cached leaderboards, throttle counts)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def bundle_factory() -> Callable[..., dict[str, Any]]:
    from tests.factories import make_bundle

    return make_bundle


@pytest.fixture
def org(db: Any) -> Any:
    from ingest import tokens

    return tokens.organization_create(slug="acme", name="Acme Platform Team")


@pytest.fixture
def other_org(db: Any) -> Any:
    from ingest import tokens

    return tokens.organization_create(slug="globex", name="Globex")


@pytest.fixture
def token(org: Any) -> Any:
    from ingest import tokens

    return tokens.token_issue(organization=org, name="ci")


@pytest.fixture
def api(token: Any) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token[1]}")


# The SMP spec's protos, compiled for a strict parser (tests/smp and the index's exports).
SPEC = (
    Path(__file__).resolve().parents[2] / "shared" / "real-data" / "smp-repo-artifacts" / "smp-spec"
)


@pytest.fixture(scope="session")
def smp_pb(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The spec's messages (package ``smp``), compiled by protoc from its protos into Python."""
    from grpc_tools import protoc

    out = tmp_path_factory.mktemp("smp_protos")
    include = str(resources.files("grpc_tools") / "_proto")
    protos = sorted(str(p) for p in (SPEC / "protos").glob("*.proto"))
    assert len(protos) == 3, protos
    code = protoc.main(["protoc", f"-I{SPEC}", f"-I{include}", f"--python_out={out}", *protos])
    assert code == 0, "protoc could not compile the spec's protos"
    sys.path.insert(0, str(out))
    try:
        performance = importlib.import_module("protos.service_mesh_performance_pb2")
        mesh = importlib.import_module("protos.service_mesh_pb2")
    finally:
        sys.path.remove(str(out))
    return SimpleNamespace(**vars(performance), ServiceMesh=mesh.ServiceMesh)
