"""Public mesh benchmark studies as bundles, made the way `smp-runner bundle` makes them.

Two studies from ../shared/real-data (read there at run time, never copied):

* Istio 1.2.0's benchmark (istio/tools perf/benchmark): fortio at 1,000 qps for
  240 s with a 1 kB payload over 1 to 64 connections, with no sidecar (``base``),
  a server sidecar (``serveronly``) and both sidecars (``both``), with Mixer
  (build 193ff770) and without (build 7c63ca64, which ran no ``base`` of its
  own); CPU and memory of every proxy and pod in ``compiled-results.json``.
  Each mesh run is paired with the ``base`` run of build 193ff770 at the same
  connection count: for 193ff770 that is the same build, minutes apart; for
  the no-Mixer build it is another build, an hour or more apart, and the
  admission rules say so.
* mesh-bench (2022, one GKE e2-standard-2 node): fortio at 1, 100, 500 and
  1,000 qps for 15 minutes over 32 connections, through Istio 1.14.1, Linkerd
  stable-2.11.2, Cilium 1.11.5 and Traefik Mesh, and with no mesh; CPU per
  container as Prometheus range queries (its memory dumps hold a rate of
  memory, not memory, and are left out: docs/smp.md).

Connection counts and rates other than a standard profile's are custom
profiles, defined by the SMP test configuration each bundle carries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from runner.from_outputs import Outputs, assemble
from smp.custom_profiles import CustomProfile, resolve
from smp.model import Bundle, Client, EnvironmentConfig, Node, PerformanceTestConfig
from smp.profiles import Profile, get_profile

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real-data"
ISTIO = REAL / "istio-tools" / "results-istio-1.2.0-fortio"
MESH_BENCH = REAL / "mesh-bench" / "results" / "02_http_constant_throughput"

ISTIO_NAME = re.compile(
    r"^[\d-]+_(?P<build>[0-9a-f]{8})_qps_1000_c_(?P<connections>\d+)_1024"
    r"(?P<nomixer>_nomixer)?_(?P<mode>base|serveronly|both)\.json$"
)
ISTIO_BASE_BUILD = "193ff770"
HTTP_1K_CONNECTIONS = 16
MESH_BENCH_NAME = re.compile(r"^http_(?P<mesh>[a-z]+)_(?P<rate>\d+)_0_1_(?P<when>[^_]+)\.json$")
MESH_BENCH_MESHES = {
    "istio": ("istio", "1.14.1"),
    "linkerd": ("linkerd", "stable-2.11.2"),
    "cilium": ("cilium", "1.11.5"),
    "traefik": ("traefik_mesh", "unknown"),
}


@dataclass(frozen=True)
class StudyBundle:
    """One mesh run of a study with its baseline, as a bundle, and what it stands for."""

    study: str
    mesh: str
    setting: str  # the varied figure: "16 connections", "500 qps"
    variant: str  # "both sidecars", "server sidecar", ...
    bundle: Bundle


def _profile(config: PerformanceTestConfig) -> tuple[Profile, CustomProfile | None]:
    resolved = resolve(config)
    if isinstance(resolved, CustomProfile):
        return resolved.profile, resolved
    return resolved, None


def istio_bundles() -> list[StudyBundle]:
    """Every ``serveronly`` and ``both`` run of Istio 1.2.0, paired with its ``base`` run."""
    runs: dict[tuple[str, int, str, bool], Path] = {}
    for path in sorted(ISTIO.glob("*.json")):
        match = ISTIO_NAME.match(path.name)
        if match:
            key = (
                match["build"],
                int(match["connections"]),
                match["mode"],
                bool(match["nomixer"]),
            )
            runs[key] = path
    rows = ISTIO / "compiled-results.json"
    out = []
    for (_build, connections, mode, nomixer), path in sorted(runs.items()):
        if mode == "base":
            continue
        base = runs[(ISTIO_BASE_BUILD, connections, "base", False)]
        config = PerformanceTestConfig(
            name=f"Istio 1.2 benchmark, {connections} connections",
            duration="240s",
            clients=[
                Client(
                    load_generator="fortio",
                    protocol="http",
                    connections=connections,
                    rps=1000,
                )
            ],
            labels={"profile.meshmark.io/payload_bytes": "1024"},
        )
        # 1,000 rps over 16 connections with a 1 kB payload is http-1k (a longer run is
        # fine); the other connection counts are tests of their own.
        standard = get_profile("http-1k") if connections == HTTP_1K_CONNECTIONS else None
        profile, custom = (standard, None) if standard is not None else _profile(config)
        bundle, _ = assemble(
            Outputs(
                profile=profile,
                custom=custom,
                baseline=base,
                meshes=[path],
                mesh_type="istio",
                mesh_version="1.2.0",
                mtls=None,
                environment=EnvironmentConfig(provider="gke"),
                resources=[(str(rows), None)],
            )
        )
        bundle.mesh_config.mesh_telemetry_enabled = not nomixer
        bundle.mesh_config.mesh_policy_enabled = not nomixer
        variant = {"serveronly": "server sidecar", "both": "both sidecars"}[mode]
        mixer = "no Mixer" if nomixer else "Mixer"
        out.append(
            StudyBundle(
                "istio-1.2.0", "istio", f"{connections} connections", f"{variant}, {mixer}", bundle
            )
        )
    return out


def mesh_bench_bundles() -> list[StudyBundle]:
    """Every constant-throughput mesh run of mesh-bench, paired with the baseline run at its
    rate, with its CPU figures."""
    runs: dict[tuple[str, int], Path] = {}
    for path in sorted(MESH_BENCH.glob("http_*.json")):
        match = MESH_BENCH_NAME.match(path.name)
        if match:
            runs[(match["mesh"], int(match["rate"]))] = path
    environment = EnvironmentConfig(
        kubernetes_version="1.22.8-gke.201",
        node=[Node(type="e2-standard-2", cores=2, mem_mb=8192, count=1)],
        provider="gke",
    )
    out = []
    for (mesh, rate), path in sorted(runs.items()):
        if mesh == "baseline":
            continue
        mesh_type, version = MESH_BENCH_MESHES[mesh]
        config = PerformanceTestConfig(
            name=f"mesh-bench constant throughput, {rate} qps",
            duration="15m",
            clients=[Client(load_generator="fortio", protocol="http", connections=32, rps=rate)],
        )
        profile, custom = _profile(config)
        cpu = sorted(MESH_BENCH.glob(f"cpu_{mesh}_{rate}_*.json"))
        base_cpu = MESH_BENCH / f"cpu_baseline_{rate}.json"
        bundle, _ = assemble(
            Outputs(
                profile=profile,
                custom=custom,
                baseline=runs[("baseline", rate)],
                meshes=[path],
                mesh_type=mesh_type,
                mesh_version=version,
                mtls=None,
                environment=environment,
                resources=[(str(p), "cpu") for p in [base_cpu, *cpu] if p.exists()],
            )
        )
        out.append(StudyBundle("mesh-bench", mesh_type, f"{rate} qps", mesh_type, bundle))
    return out
