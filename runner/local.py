"""The local executor: one machine, real proxies standing in for a sidecar pair.

Order of a run (docs/runner.md, "One machine"):

1. check that the proxy (and openssl for ``--mtls``, and the chosen load
   generator) is installed: nothing is installed behind the user's back;
2. run the calibration probe while the machine is still idle;
3. start the application server (:mod:`runner.workload`) on a free port;
4. **baseline**: load straight to the application;
5. start the server-side and the client-side proxy (:mod:`runner.proxies`);
6. **mesh**: the same load through client proxy -> server proxy -> application;
7. stop everything and delete the temp dir, on success, error or Ctrl-C.

During each run a :class:`runner.procstat.Sampler` follows the application
and the proxies; their CPU and memory over the recorded window become the
run's ``resources``: the two proxies are the ``sidecar`` block (count 2), the
application is the workload ``app``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import click

from runner.bundle import LoadDescription, make_bundle, new_run_id, runner_version
from runner.calibrate import run_probe
from runner.certs import make_certificates
from runner.environment import local_environment
from runner.loadgen import LoadError, LoadSpec, run_load
from runner.processes import Cleanup, find_binary, free_port, start_process, wait_for_port
from runner.procstat import Sampler
from runner.progress import Progress
from runner.proxies import SERVER_NAME, Hop, proxy_version, start_proxy
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
LOCAL_PROTOCOLS = ("http",)
APP = "app"
PROXY_GROUPS = ("proxy-client", "proxy-server")


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


def preflight(options: LocalOptions) -> None:
    """Every check that can fail before anything is started."""
    profile = options.profile
    if profile.protocol not in LOCAL_PROTOCOLS or profile.services > 2:
        raise click.ClickException(
            f"profile {profile.id} ({profile.protocol}, {profile.services} services) cannot run "
            "locally: the local mode runs single-hop HTTP profiles (one client, one server). "
            "Run it on a cluster with --kubeconfig."
        )
    find_binary(options.proxy)
    if options.mtls:
        find_binary("openssl")
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
    payload = options.profile.payload_bytes

    with Cleanup() as cleanup:
        workdir = Path(tempfile.mkdtemp(prefix="smp-runner-"))
        cleanup.add(lambda: shutil.rmtree(workdir, ignore_errors=True))
        app_port = free_port()
        app = start_process(
            APP,
            [
                sys.executable,
                "-m",
                "runner.workload",
                "--port",
                str(app_port),
                "--payload-bytes",
                str(payload),
            ],
            workdir,
        )
        cleanup.add(app.stop)
        wait_for_port(app, app_port)
        baseline_url = f"http://127.0.0.1:{app_port}/"
        progress.step(f"baseline: straight to the application at {baseline_url}")
        baseline = _measure(
            "baseline", baseline_url, {APP: app.pid}, options, workdir, cleanup, progress
        )

        certs = make_certificates(workdir / "certs", SERVER_NAME) if options.mtls else None
        server_port, client_port = free_port(), free_port()
        server = start_proxy(
            options.proxy, Hop("proxy-server", server_port, app_port, tls_in=options.mtls),
            workdir, certs,
        )  # fmt: skip
        cleanup.add(server.stop)
        client = start_proxy(
            options.proxy, Hop("proxy-client", client_port, server_port, tls_out=options.mtls),
            workdir, certs,
        )  # fmt: skip
        cleanup.add(client.stop)
        wait_for_port(server, server_port)
        wait_for_port(client, client_port)
        mesh_url = f"http://127.0.0.1:{client_port}/"
        tls = " (mTLS between them)" if options.mtls else ""
        progress.step(f"mesh: through two {options.proxy} proxies{tls} at {mesh_url}")
        groups = {APP: app.pid, "proxy-client": client.pid, "proxy-server": server.pid}
        mesh = _measure("mesh", mesh_url, groups, options, workdir, cleanup, progress)

    mesh_config = ServiceMeshConfig(
        mesh_type=options.proxy,
        mesh_version=version,
        mtls_enabled=options.mtls,
        mesh_telemetry_enabled=False,
        mesh_policy_enabled=False,
        proxy_concurrency=1,
        proxy_build=f"{options.proxy} {version}" if version else options.proxy,
        sidecar=mesh.resources.sidecar if mesh.resources else None,
        labels={"local.topology": "client proxy -> server proxy -> app, one machine"},
    )
    load = LoadDescription(
        load_generator="smp-runner"
        if options.load_generator == BUILTIN
        else options.load_generator,
        connections=options.connections,
        rate=options.rate,
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
    )


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
        if options.load_generator == BUILTIN:
            spec = LoadSpec(
                url, options.rate, options.connections, options.duration_s, options.warmup_s
            )
            with progress.timed(label, options.warmup_s + options.duration_s):
                load = run_load(spec)
            result = load.to_result(runner_version())
            window = (load.measure_start, load.measure_end)
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
    except LoadError as exc:
        raise click.ClickException(f"{phase} run: {exc}") from None
    finally:
        sampler.stop()
    if result.request_count and result.error_count == result.request_count:
        raise click.ClickException(
            f"every request of the {phase} run failed (status codes {result.status_codes}); "
            "the target or a proxy is not answering"
        )
    app = sampler.usage(APP, *window)
    proxies = [sampler.usage(name, *window) for name in PROXY_GROUPS if name in groups]
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
                name=APP, count=1, cpu_mcores=round(app.cpu_mcores, 2), mem_mb=round(app.mem_mb, 2)
            )
        ],
    )
    return result
