"""Fixtures of the smp tests: the SMP spec's protos, compiled for a strict parser."""

from __future__ import annotations

import importlib
import sys
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "real-data" / "smp-repo-artifacts" / "smp-spec"


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
