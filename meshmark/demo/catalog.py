"""The figures the demo corpus is generated from, with where each one comes from.

Every CPU and latency figure is given **on the reference machine** (calibration
``meshmark-cpu/1`` = 1000 ops/s, docs/meshmark.md section 7): a generated run on
a machine ``f`` times faster spends ``1/f`` of the millicores and adds ``1/f`` of
the latency, so the index's normalized figures land back on these numbers.
Memory is not scaled.

Sources (read for the figures only):

[ISTIO-PERF] istio.io, "Performance and Scalability", the pages of Istio 1.10
    to 1.16 (e.g. https://istio.io/v1.16/docs/ops/deployment/performance-and-scalability/):
    "The Envoy proxy uses 0.35 vCPU and 40 MB memory per 1000 requests per second
    going through the proxy", "Istiod uses 1 vCPU and 1.5 GB of memory" (for a
    1000-service / 2000-sidecar mesh), "The Envoy proxy adds 2.65 ms to the 90th
    percentile latency", measured with fortio, http/1.1, 1 kB payload, 1000 rps,
    16 client connections, 2 proxy workers, mutual TLS, client and server
    sidecars. The latency section of the 1.8-1.10 pages gives the two proxies
    +2.65 ms at p90 and +2.91 ms at p99. Later pages report other figures (the
    1.24 page: one sidecar with 2 workers ~0.20 vCPU and 60 MB at 1000 rps;
    latency only as charts); this corpus keeps the 1.10-1.16 figures for every
    Istio version because they are the ones published together with a latency
    figure for the same setup as the ``http-1k`` profile. So Istio's demo
    overhead is, if anything, pessimistic for 1.22-1.24.
[ISTIO-0.8] istio.io, v0.8 "Scalability and Sizing Guide": "mTLS costs are
    negligible on AES-NI capable hardware in terms of both CPU and latency".
[ISTIO-AMBIENT] the Istio 1.24 page above: a waypoint (a shared Envoy) uses
    ~0.25 vCPU and 60 MB per 1000 rps; a ztunnel ~0.06 vCPU and 12 MB.
[LINKERD-2021] linkerd.io blog, "Benchmarking Linkerd and Istio: 2021 Redux"
    (2021-11-29; Linkerd 2.11.1 vs Istio 1.12.0, Kinvolk harness, mTLS on both):
    at 2,000 rps the largest linkerd2-proxy memory was 26.3 MB against Envoy's
    156.2 MB, the largest proxy CPU time 36 ms against 67 ms; Linkerd added 6 ms
    at the median against Istio's 17 ms (8 ms vs 20 ms at 20 and 200 rps);
    control planes 365 MB (Linkerd) and 597 MB (Istio), CPU time 212 ms and 5 s
    over the 10-minute runs.

What no source gives is marked ASSUMPTION where it is used: the baseline
latency shapes, the per-profile factors, version-to-version factors, idle costs,
the application's own CPU and memory, Cilium, Kuma and Consul figures, and (in
fleet.py) the machines' calibration scores.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- meshes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeshFigures:
    """One mesh's data-plane and control-plane costs, on the reference machine.

    ``proxy_cpu_per_1k`` is millicores per 1,000 requests/s per proxy
    *traversal* (a request passing through one proxy once); ``added_p90_ms`` and
    ``added_p99_ms`` are what the mesh adds to one service-to-service hop at the
    ``http-1k`` profile. Sidecar meshes put two proxies on a hop (client and
    server side); a sidecarless mesh (``proxies_per_hop`` = 1) one shared proxy.
    All figures are for the mesh's default configuration with mTLS on, as the
    published ones were measured; ``mtls_off_*_factor`` scale them when it is off.
    """

    mesh_type: str
    versions: tuple[str, ...]
    mtls_options: tuple[bool, ...]
    proxies_per_hop: int
    proxy_cpu_per_1k: float
    proxy_idle_mcores: float
    proxy_mem_mb: float
    added_p90_ms: float
    added_p99_ms: float
    control_plane_cpu_mcores: float
    control_plane_mem_mb: float
    mtls_off_cpu_factor: float
    mtls_off_latency_factor: float
    proxy_concurrency: int | None = None
    sidecarless: bool = False
    requires_cni: str | None = None


ISTIO = MeshFigures(
    mesh_type="istio",
    versions=("1.22.3", "1.23.2", "1.24.1"),
    mtls_options=(True, False),
    proxies_per_hop=2,
    proxy_cpu_per_1k=350.0,  # [ISTIO-PERF] 0.35 vCPU per 1000 rps through the proxy
    proxy_idle_mcores=3.0,  # ASSUMPTION: an idle Envoy's housekeeping (stats flush, xDS)
    proxy_mem_mb=40.0,  # [ISTIO-PERF] 40 MB per proxy
    added_p90_ms=2.65,  # [ISTIO-PERF] two proxies, 1000 rps, 16 connections, mTLS
    added_p99_ms=2.91,  # [ISTIO-PERF] latency section, same setup
    # [LINKERD-2021] Istio's control plane: 597 MB and 5 s CPU over a 600 s run (8 mCores).
    # [ISTIO-PERF]'s 1 vCPU / 1.5 GB is for a 2000-sidecar mesh, not a benchmark cluster.
    control_plane_cpu_mcores=8.3,
    control_plane_mem_mb=597.0,
    # [ISTIO-0.8] mTLS is "negligible" on AES-NI hardware; the published figures were
    # measured with mTLS on, so switching it off saves a little. ASSUMPTION: 3%.
    mtls_off_cpu_factor=0.97,
    mtls_off_latency_factor=0.97,
    proxy_concurrency=2,  # [ISTIO-PERF] "2 proxy workers"
)

# [LINKERD-2021]: Linkerd's proxy used 36/67 = 0.54 of Envoy's CPU and added 6/17 to
# 8/20 (0.35-0.40) of Istio's median latency. Applied to Istio's [ISTIO-PERF] figures.
_LINKERD_CPU_RATIO = 36.0 / 67.0
_LINKERD_LATENCY_RATIO = 0.40

LINKERD = MeshFigures(
    mesh_type="linkerd",
    versions=("2.14.10", "2.15.0", "2.16.0"),
    mtls_options=(True,),  # Linkerd turns mTLS on for all meshed TCP traffic
    proxies_per_hop=2,
    proxy_cpu_per_1k=ISTIO.proxy_cpu_per_1k * _LINKERD_CPU_RATIO,
    proxy_idle_mcores=1.0,  # ASSUMPTION
    proxy_mem_mb=26.3,  # [LINKERD-2021] largest linkerd2-proxy memory at 2,000 rps
    added_p90_ms=ISTIO.added_p90_ms * _LINKERD_LATENCY_RATIO,
    added_p99_ms=ISTIO.added_p99_ms * _LINKERD_LATENCY_RATIO,
    control_plane_cpu_mcores=0.35,  # [LINKERD-2021] 212 ms CPU over a 600 s run
    control_plane_mem_mb=365.0,  # [LINKERD-2021]
    mtls_off_cpu_factor=1.0,
    mtls_off_latency_factor=1.0,
)

# Cilium: no sidecars; L7 traffic goes through one Envoy per node (cilium-envoy), the
# rest stays in eBPF. No source publishes a per-request figure comparable to the ones
# above. ASSUMPTION: one shared Envoy per hop costing what Istio's waypoint (also a
# shared Envoy) costs in [ISTIO-AMBIENT], ~0.25 vCPU and 60 MB per 1000 rps, plus a
# little eBPF work; latency: one proxy on the hop instead of two and no iptables
# redirect, taken as half of Istio's two-proxy figure. mTLS here is Cilium's mutual
# authentication with WireGuard encryption; ASSUMPTION: it costs 8% CPU and 10%
# latency, saved when it is off.
CILIUM = MeshFigures(
    mesh_type="cilium",
    versions=("1.15.6", "1.16.1"),
    mtls_options=(True, False),
    proxies_per_hop=1,
    proxy_cpu_per_1k=290.0,
    proxy_idle_mcores=5.0,
    proxy_mem_mb=60.0,
    added_p90_ms=ISTIO.added_p90_ms * 0.5,
    added_p99_ms=ISTIO.added_p99_ms * 0.5,
    control_plane_cpu_mcores=6.0,  # ASSUMPTION: cilium-operator
    control_plane_mem_mb=120.0,  # ASSUMPTION
    mtls_off_cpu_factor=1 / 1.08,
    mtls_off_latency_factor=1 / 1.10,
    sidecarless=True,
    requires_cni="cilium",
)

# Kuma and Consul run Envoy sidecars, so their per-request cost is Istio's Envoy cost.
# ASSUMPTION: a few percent apart from Istio (different default filters and stats),
# control planes sized from typical small installs.
KUMA = MeshFigures(
    mesh_type="kuma",
    versions=("2.8.1", "2.9.0"),
    mtls_options=(True, False),
    proxies_per_hop=2,
    proxy_cpu_per_1k=ISTIO.proxy_cpu_per_1k * 0.97,
    proxy_idle_mcores=3.0,
    proxy_mem_mb=45.0,
    added_p90_ms=ISTIO.added_p90_ms * 1.04,
    added_p99_ms=ISTIO.added_p99_ms * 1.06,
    control_plane_cpu_mcores=10.0,
    control_plane_mem_mb=180.0,
    mtls_off_cpu_factor=0.97,
    mtls_off_latency_factor=0.97,
    proxy_concurrency=2,
)

CONSUL = MeshFigures(
    mesh_type="consul",
    versions=("1.19.1", "1.20.0"),
    mtls_options=(True,),  # Consul's service mesh always uses mTLS between proxies
    proxies_per_hop=2,
    proxy_cpu_per_1k=ISTIO.proxy_cpu_per_1k * 1.05,
    proxy_idle_mcores=4.0,
    proxy_mem_mb=50.0,
    added_p90_ms=ISTIO.added_p90_ms * 1.08,
    added_p99_ms=ISTIO.added_p99_ms * 1.10,
    control_plane_cpu_mcores=25.0,  # a Consul server plus connect-injector
    control_plane_mem_mb=260.0,
    mtls_off_cpu_factor=1.0,
    mtls_off_latency_factor=1.0,
    proxy_concurrency=2,
)

MESHES: tuple[MeshFigures, ...] = (ISTIO, LINKERD, CILIUM, KUMA, CONSUL)

PROXY_BUILDS = {
    # The Envoy minor each Istio release ships, as we read the release notes (not
    # re-checked here); other meshes' proxy builds are left out rather than guessed.
    ("istio", "1.22.3"): "envoy 1.30",
    ("istio", "1.23.2"): "envoy 1.31",
    ("istio", "1.24.1"): "envoy 1.32",
}

VERSION_FACTORS = {
    # ASSUMPTION: each release a little leaner than the one before (CPU and latency).
    0: 1.04,
    1: 1.0,
    2: 0.97,
}


def version_factor(mesh: MeshFigures, version: str) -> float:
    """Cost multiplier of a release: the oldest listed costs a little more."""
    index = mesh.versions.index(version)
    return VERSION_FACTORS.get(index, 1.0)


# -- profiles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileShape:
    """How one standard profile behaves (smp/data/profiles.yaml holds the load itself).

    The baseline's latency is ``shift_ms + lognormal(median_ms, sigma)`` on the
    reference machine, with a small slow mode (``tail_weight`` of the requests
    ``tail_scale`` times slower) for the GC pauses and retransmits every real
    run has. ``added_p90_factor``/``added_p99_factor`` scale the mesh's per-hop
    figures to this profile; ``hops`` counts service-to-service hops.
    """

    profile_id: str
    shift_ms: float
    median_ms: float
    sigma: float
    tail_weight: float
    tail_scale: float
    hops: int
    added_p90_factor: float
    added_p99_factor: float
    proxy_cpu_factor: float


# ASSUMPTION for all shapes: a sub-millisecond in-cluster round trip at 1000 rps and
# 16 connections (p90 about 1.1 ms), wider under heavier load; the chain profile
# crosses three services. The mesh factors assume less queueing at 100 rps and more
# at 5,000 rps (tails grow faster than the p90), HTTP/2 multiplexing for gRPC, and
# one per-hop overhead per hop of the chain.
PROFILE_SHAPES: tuple[ProfileShape, ...] = (
    ProfileShape("http-1k", 0.22, 0.45, 0.55, 0.002, 4.0, 1, 1.0, 1.0, 1.0),
    ProfileShape("http-100", 0.18, 0.35, 0.45, 0.001, 3.5, 1, 0.85, 0.85, 1.0),
    ProfileShape("grpc-1k", 0.25, 0.50, 0.50, 0.002, 4.0, 1, 0.9, 0.9, 1.05),
    ProfileShape("http-5k", 0.25, 0.70, 0.70, 0.003, 4.5, 1, 1.3, 1.8, 0.95),
    ProfileShape("http-chain-1k", 0.60, 1.30, 0.50, 0.003, 4.0, 3, 1.0, 1.0, 1.0),
)

# -- the application ------------------------------------------------------------------------

# ASSUMPTION: what the benchmark's own pods use on the reference machine: fortio as
# the load generator (client) and as the server(s). Millicores per 1000 rps, plus MiB.
CLIENT_CPU_PER_1K = 160.0
SERVER_CPU_PER_1K = 110.0
APP_IDLE_MCORES = 2.0
CLIENT_MEM_MB = 38.0
SERVER_MEM_MB = 24.0

FORTIO_VERSION = "1.57.3"
RUNNER_LABEL = "smp-runner 0.1.0"

OUTLIER_EVERY = 50
"""One submission in this many is a planted outlier (2%): a noisy neighbour ..."""
OUTLIER_OFFSET = 17
OUTLIER_LATENCY_RANGE = (3.0, 5.0)
"""... that makes the mesh run 3 to 5 times slower."""
