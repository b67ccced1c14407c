"""The local executor: one machine, real proxies standing in for a sidecar pair.

Order of a run (docs/runner.md, "One machine"):

1. check that the proxy (and openssl for ``--mtls``, and the chosen load
   generator) is installed: nothing is installed behind the user's back;
2. run the calibration probe while the machine is still idle;
3. start the application server (:mod:`runner.workload`) on a free port;
4. **baseline**: load straight to the application;
5. start the server-side and the client-side proxy (:mod:`runner.proxies`);
6. **mesh**: the same load through client proxy -> server proxy -> application;
7. stop everything and delete the temp dir, on success, error or Ctrl-C;
8. with ``--repeat N``, steps 3-7 again until N pairs are made (interleaved:
   baseline, mesh, baseline, mesh, ...).

During each run a :class:`runner.procstat.Sampler` follows the application
and the proxies; their CPU and memory over the recorded window become the
run's ``resources``: the two proxies are the ``sidecar`` block (count 2), the
application is the workload ``app``.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from runner.bundle import LoadDescription, make_bundle, new_run_id, runner_version
from runner.calibrate import run_probe
from runner.capacity import SearchSettings, search_phase
from runner.certs import make_certificates
from runner.environment import local_environment
from runner.loadgen import LoadError, LoadSpec, run_load
from runner.processes import (
    Cleanup,
    ManagedProcess,
    find_binary,
    free_port,
    start_process,
    wait_for_port,
)
from runner.procstat import Sampler
from runner.progress import Progress
from runner.proxies import SERVER_NAME, Hop, proxy_version, start_proxy
from runner.realworld import Workload
from runner.tools import check_tool, run_tool
from smp.model import (
    Bundle,
    IndividualWorkload,
    PerformanceTestResult,
    ResourceUsage,
    RunResources,
    ServiceMeshConfig,
)
from smp.profiles import Profile

BUILTIN = "builtin"
LOCAL_PROTOCOLS = ("http", "grpc")
APP = "app"


@dataclass(frozen=True)
class LocalOptions:
    profile: Profile
    proxy: str
    mtls: bool
    duration_s: float
    warmup_s: float
    rate: float
    connections: int
    load_generator: str = BUILTIN
    calibrate: bool = True
    generator_processes: int = 1
    """Processes of the built-in generator sharing one schedule (runner.loadgen)."""
    repeat: int = 1
    """Pairs of phases made one after the other (baseline, mesh, baseline, mesh, ...),
    all in the bundle: drift over the invocation touches both sides of every pair, and
    the index ranks the median of the pairs' scores."""
    workload: Workload | None = None
    """Real-world mode: the workload drawn from the seed, the same for every phase."""
    settle: bool = False
    """Before each phase's warm-up, load the target in 1-second windows until latency is
    stable (:func:`settle`), at most SETTLE_MAX_WINDOWS of them."""


SETTLE_WINDOW_S = 1.0
SETTLE_MAX_WINDOWS = 15
SETTLE_TOLERANCE = 0.10
"""Stable: the p90 of the last SETTLE_STABLE windows within 10% of each other."""
SETTLE_STABLE = 3


def settle(url: str, options: LocalOptions) -> list[float]:
    """Load ``url`` at the phase's rate in windows of SETTLE_WINDOW_S until the p90 of the
    last SETTLE_STABLE windows agree within SETTLE_TOLERANCE (or SETTLE_MAX_WINDOWS ran);
    the p90 of each window, in ms. A fixed warm-up ends after a fixed time whether caches,
    JITs and connection pools have settled or not; this one ends when latency says so."""
    p90s: list[float] = []
    for _ in range(SETTLE_MAX_WINDOWS):
        spec = LoadSpec(
            url,
            options.rate,
            options.connections,
            SETTLE_WINDOW_S,
            keepalive=options.profile.keepalive,
        )
        window = run_load(spec, processes=options.generator_processes)
        p90s.append(window.histogram.get_value_at_percentile(90) / 1000.0)
        last = p90s[-SETTLE_STABLE:]
        if len(last) == SETTLE_STABLE and max(last) <= min(last) * (1 + SETTLE_TOLERANCE):
            break
    return p90s


def preflight(options: LocalOptions) -> None:
    """Every check that can fail before anything is started."""
    profile = options.profile
    if profile.protocol not in LOCAL_PROTOCOLS:
        raise click.ClickException(
            f"profile {profile.id} ({profile.protocol}) cannot run locally: the local mode "
            f"runs {', '.join(LOCAL_PROTOCOLS)} profiles. Run it on a cluster with --kubeconfig."
        )
    if options.generator_processes > options.connections:
        raise click.ClickException(
            f"--generator-processes {options.generator_processes} needs at least as many "
            f"connections ({options.connections}): each process holds its own"
        )
    if options.generator_processes > 1 and options.load_generator != BUILTIN:
        raise click.ClickException(
            f"--generator-processes is the built-in generator's; {options.load_generator} "
            "has its own threads"
        )
    if profile.protocol == "grpc" and (profile.services > 2 or options.load_generator != BUILTIN):
        raise click.ClickException(
            f"profile {profile.id} (gRPC) runs locally as one service, with the built-in "
            "generator (wrk and hey speak HTTP/1.1 only)"
        )
    find_binary(options.proxy)
    if options.mtls:
        find_binary("openssl")
    special = (
        "capacity search"
        if profile.is_capacity
        else "new connection per request"
        if not profile.keepalive
        else "real-world workload"
        if options.workload is not None
        else None
    )
    if special and (options.load_generator != BUILTIN or options.generator_processes > 1):
        raise click.ClickException(
            f"profile {profile.id} ({special}) runs with the built-in generator in one "
            "process: it sets each request's send time, path and connection itself"
        )
    if options.load_generator != BUILTIN:
        check_tool(options.load_generator)


def run_local(options: LocalOptions, progress: Progress) -> Bundle:
    """Run the baseline and the mesh phase of ``options.profile`` on this machine."""
    preflight(options)
    run_id = new_run_id()
    calibration = None
    if options.calibrate:
        progress.step("calibrating: meshmark-cpu/1 probe (about 2 s)")
        calibration = run_probe()
        progress.step(f"calibration: {calibration.score:g} {calibration.unit}")
    environment = local_environment(calibration)
    version = proxy_version(options.proxy)

    pairs: list[tuple[PerformanceTestResult, PerformanceTestResult]] = []
    for number in range(1, options.repeat + 1):
        if options.repeat > 1:
            progress.step(f"pair {number} of {options.repeat}")
        baseline, mesh, baseline_url, mesh_url = _pair(options, progress)
        pairs.append((baseline, mesh))
    baseline, mesh = pairs[0]
    apps = options.profile.services - 1
    mesh_config = ServiceMeshConfig(
        mesh_type=options.proxy,
        mesh_version=version,
        mtls_enabled=options.mtls,
        mesh_telemetry_enabled=False,
        mesh_policy_enabled=False,
        proxy_concurrency=1,
        proxy_build=f"{options.proxy} {version}" if version else options.proxy,
        sidecar=mesh.resources.sidecar if mesh.resources else None,
        labels={"local.topology": _topology(apps)},
    )
    load = LoadDescription(
        load_generator="smp-runner"
        if options.load_generator == BUILTIN
        else options.load_generator,
        connections=options.connections,
        rate=None if options.profile.is_capacity else options.rate,
        duration_s=options.duration_s,
        endpoint_urls=(baseline_url, mesh_url),
        internal=True,
    )
    return make_bundle(
        profile=options.profile,
        run_id=run_id,
        environment=environment,
        mesh_config=mesh_config,
        baseline=baseline,
        mesh=mesh,
        load=load,
        mode="local",
        more_pairs=pairs[1:],
    )


def _pair(
    options: LocalOptions, progress: Progress
) -> tuple[PerformanceTestResult, PerformanceTestResult, str, str]:
    """One baseline phase and one mesh phase, every process started for them and stopped
    after; (baseline, mesh, baseline URL, mesh URL)."""
    apps = options.profile.services - 1  # the load generator is the first service
    payload = options.profile.payload_bytes
    with Cleanup() as cleanup:
        workdir = Path(tempfile.mkdtemp(prefix="smp-runner-"))
        cleanup.add(lambda: shutil.rmtree(workdir, ignore_errors=True))
        # Baseline: the load straight to the first application, each calling the next.
        protocol = options.profile.protocol
        chain = _start_chain(apps, payload, workdir, cleanup, lambda i: None, protocol=protocol)
        baseline_url = _url(protocol, chain[0][1])
        where = "the application" if apps == 1 else f"a chain of {apps} applications"
        progress.step(f"baseline: straight to {where} at {baseline_url}")
        groups = {name: process.pid for name, _, process in chain}
        baseline = _phase("baseline", baseline_url, groups, options, workdir, cleanup, progress)
        # The last application calls nobody: it serves the mesh phase too, as the single
        # application of a one-hop profile always has. The others are started again, to
        # call their successor through their client-side proxy.
        for _, _, process in chain[:-1]:
            process.stop()

        # Mesh: every application behind its own server-side proxy, every caller (the load
        # generator, and each application but the last) sending through its client-side one.
        certs = make_certificates(workdir / "certs", SERVER_NAME) if options.mtls else None
        server_ports = [free_port() for _ in range(apps)]
        client_ports = [free_port() for _ in range(apps)]
        chain = _start_chain(
            apps,
            payload,
            workdir,
            cleanup,
            lambda i: client_ports[i],
            last=chain[-1],
            protocol=protocol,
        )
        proxies = []
        for i, (_, app_port, _) in enumerate(chain):
            proxies.append(
                _start_hop(
                    options,
                    Hop(
                        _proxy_name("server", i, apps),
                        server_ports[i],
                        app_port,
                        protocol=protocol,
                    ),
                    workdir,
                    certs,
                    cleanup,
                )
            )
            proxies.append(
                _start_hop(
                    options,
                    Hop(
                        _proxy_name("client", i, apps),
                        client_ports[i],
                        server_ports[i],
                        protocol=protocol,
                    ),
                    workdir,
                    certs,
                    cleanup,
                )
            )
        for hop, process in proxies:
            wait_for_port(process, hop.listen_port)
        mesh_url = _url(protocol, client_ports[0])
        tls = " (mTLS between them)" if options.mtls else ""
        pairs = "two" if apps == 1 else f"{2 * apps}"
        progress.step(f"mesh: through {pairs} {options.proxy} proxies{tls} at {mesh_url}")
        groups = {name: process.pid for name, _, process in chain}
        groups.update({hop.name: process.pid for hop, process in proxies})
        mesh = _phase("mesh", mesh_url, groups, options, workdir, cleanup, progress)

    return baseline, mesh, baseline_url, mesh_url


def _proxy_name(side: str, index: int, apps: int) -> str:
    """``proxy-client`` / ``proxy-server`` for one application; numbered along a chain
    (``proxy-client-1`` sends to ``proxy-server-1``, in front of ``app-1``)."""
    return f"proxy-{side}" if apps == 1 else f"proxy-{side}-{index + 1}"


def _app_name(index: int, apps: int) -> str:
    return APP if apps == 1 else f"{APP}-{index + 1}"


def _url(protocol: str, port: int) -> str:
    return f"grpc://127.0.0.1:{port}" if protocol == "grpc" else f"http://127.0.0.1:{port}/"


def _topology(apps: int) -> str:
    hops = [f"client proxy -> server proxy -> {_app_name(i, apps)}" for i in range(apps)]
    return " -> ".join(hops) + ", one machine"


def _start_chain(
    apps: int,
    payload: int,
    workdir: Path,
    cleanup: Cleanup,
    upstream_of: Callable[[int], int | None],
    last: tuple[str, int, ManagedProcess] | None = None,
    protocol: str = "http",
) -> list[tuple[str, int, ManagedProcess]]:
    """The applications, first to last, each started with the port it calls
    (``upstream_of(i)``, or the next application's own port when that is None; the
    last calls nobody, and is ``last`` when given, already running). Returns (name,
    port, process) each, every one listening."""
    ports = [free_port() for _ in range(apps - 1)] + [last[1] if last else free_port()]
    chain: list[tuple[str, int, ManagedProcess]] = []
    for i in range(apps):
        if last is not None and i == apps - 1:
            chain.append(last)
            break
        server = "runner.grpc_workload" if protocol == "grpc" else "runner.workload"
        argv = [sys.executable, "-m", server, "--port", str(ports[i])]
        argv += ["--payload-bytes", str(payload)]
        if i < apps - 1:
            upstream = upstream_of(i + 1)
            argv += ["--upstream", str(upstream if upstream is not None else ports[i + 1])]
        process = start_process(_app_name(i, apps), argv, workdir)
        cleanup.add(process.stop)
        chain.append((_app_name(i, apps), ports[i], process))
    for _, port, process in chain:
        wait_for_port(process, port)
    return chain


def _start_hop(
    options: LocalOptions, hop: Hop, workdir: Path, certs: Any, cleanup: Cleanup
) -> tuple[Hop, ManagedProcess]:
    """One proxy: a server side terminates mTLS, a client side originates it."""
    hop = dataclasses.replace(hop, reuse=options.profile.keepalive)
    if options.mtls and "server" in hop.name:
        hop = dataclasses.replace(hop, tls_in=True)
    elif options.mtls:
        hop = dataclasses.replace(hop, tls_out=True)
    process = start_proxy(options.proxy, hop, workdir, certs)
    cleanup.add(process.stop)
    return hop, process


def _phase(
    phase: str,
    url: str,
    groups: dict[str, int],
    options: LocalOptions,
    workdir: Path,
    cleanup: Cleanup,
    progress: Progress,
) -> PerformanceTestResult:
    """One phase: a run at the profile's rate, or for a capacity profile the search
    (runner.capacity), each trial a run of the profile's trial length."""
    if not options.profile.is_capacity:
        return _measure(phase, url, groups, options, workdir, cleanup, progress)
    settings = SearchSettings.of(options.profile)

    def trial(rate: float) -> PerformanceTestResult:
        at_rate = dataclasses.replace(options, rate=rate)
        return _measure(phase, url, groups, at_rate, workdir, cleanup, progress)

    detail = f", from {settings.start_rps:g} rps (trials of {options.duration_s:g} s)"
    return search_phase(phase, trial, settings, progress.step, detail)


def _measure(
    phase: str,
    url: str,
    groups: dict[str, int],
    options: LocalOptions,
    workdir: Path,
    cleanup: Cleanup,
    progress: Progress,
) -> PerformanceTestResult:
    """One phase: load ``url`` while sampling ``groups``; the result with its resources."""
    sampler = Sampler(groups).start()
    cleanup.add(sampler.stop)
    label = f"{phase}: {options.rate:g} rps"
    try:
        settled: list[float] = []
        if options.settle and options.workload is None:
            with progress.timed(f"{phase}: settling", SETTLE_WINDOW_S * SETTLE_STABLE):
                settled = settle(url, options)
        if options.load_generator == BUILTIN:
            spec = LoadSpec(
                url,
                options.rate,
                options.connections,
                options.duration_s,
                options.warmup_s,
                keepalive=options.profile.keepalive,
                plan=options.workload.plan if options.workload is not None else None,
            )
            with progress.timed(label, options.warmup_s + options.duration_s):
                load = run_load(spec, processes=options.generator_processes)
            result = load.to_result(runner_version())
            window = (load.measure_start, load.measure_end)
            if not options.profile.keepalive:
                result.labels["loadgen.keepalive"] = "false"
            if options.workload is not None:
                result.labels.update(options.workload.labels())
            if settled:
                result.labels["runner.settle_windows"] = str(len(settled))
        else:
            if options.warmup_s > 0:
                warmup = LoadSpec(url, options.rate, options.connections, options.warmup_s)
                with progress.timed(f"{phase}: warm-up", options.warmup_s):
                    run_load(warmup)
            with progress.timed(f"{label} ({options.load_generator})", options.duration_s):
                tool = run_tool(
                    options.load_generator,
                    url=url,
                    rate=options.rate,
                    connections=options.connections,
                    duration_s=options.duration_s,
                    workdir=workdir,
                    cleanup=cleanup,
                    name=f"{options.load_generator}-{phase}",
                )
            result, window = tool.result, (tool.started, tool.finished)
            if settled:
                result.labels["runner.settle_windows"] = str(len(settled))
    except LoadError as exc:
        raise click.ClickException(f"{phase} run: {exc}") from None
    finally:
        sampler.stop()
    if result.request_count and result.error_count == result.request_count:
        raise click.ClickException(
            f"every request of the {phase} run failed (status codes {result.status_codes}); "
            "the target or a proxy is not answering"
        )
    apps = [sampler.usage(name, *window) for name in groups if name.startswith(APP)]
    proxies = [sampler.usage(name, *window) for name in groups if name.startswith("proxy-")]
    result.resources = RunResources(
        sidecar=ResourceUsage(
            count=len(proxies),
            cpu_mcores=round(sum(p.cpu_mcores for p in proxies), 2),
            mem_mb=round(sum(p.mem_mb for p in proxies), 2),
        )
        if proxies
        else None,
        workloads=[
            IndividualWorkload(
                name=APP,
                count=len(apps),
                cpu_mcores=round(sum(a.cpu_mcores for a in apps), 2),
                mem_mb=round(sum(a.mem_mb for a in apps), 2),
            )
        ],
    )
    return result
