"""The Kubernetes executor: baseline and mesh phases on a real cluster, then clean up.

Order (docs/runner.md, "On a cluster"): read the cluster (version, nodes,
installed meshes); then per phase create the namespace, deploy the workload
(:mod:`runner.k8s_manifests`), wait until it is ready, run the load generator
Job, follow its pod until the load container has terminated (sampling
metrics.k8s.io meanwhile unless Prometheus is used), read the container's log
and convert it with the ``smp`` reader; the baseline namespace also runs the
calibration Job. Every namespace created is deleted on the way out, whether
the run succeeded, failed or was interrupted (Ctrl-C or SIGTERM).

The ``kubernetes`` package is imported inside the functions, so that
``smp-runner --help`` does not pay for it. Responses are read as plain JSON
(``_preload_content=False``), which keeps the runner independent of the
client's model classes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import click

from runner import k8s_manifests as manifests
from runner.bundle import LoadDescription, make_bundle, new_run_id
from runner.capacity import SearchSettings, search_phase
from runner.cluster import Cluster, capture_environment, resolve_mesh
from runner.meshes import Mesh
from runner.processes import Cleanup
from runner.progress import Progress
from runner.prom import (
    METRICS_EVERY_S,
    Block,
    MetricsSampler,
    PrometheusError,
    prometheus_usage,
    window,
)
from smp.errors import ReaderError
from smp.model import (
    Bundle,
    Calibration,
    IndividualWorkload,
    PerformanceTestResult,
    RawOutput,
    ResourceUsage,
    RunResources,
    ServiceMeshConfig,
)
from smp.profiles import Profile
from smp.readers import get_reader

READY_TIMEOUT_S = 300.0
"""Image pulls and sidecar injection can take minutes on a fresh cluster."""
JOB_START_TIMEOUT_S = 300.0
"""How long past its duration a load Job may take (image pull, scheduling)."""
CALIBRATE_TIMEOUT_S = 300.0
POLL_INTERVAL_S = 2.0


@dataclass(frozen=True)
class KubeOptions:
    profile: Profile
    kubeconfig: str
    context: str | None
    mesh: str
    prometheus: str | None
    load_generator: str
    duration_s: float
    warmup_s: float
    rate: float
    mtls: bool | None
    poll_interval_s: float = POLL_INTERVAL_S


def check_profile(options: KubeOptions) -> None:
    profile = options.profile
    if profile.services > 2 and profile.protocol != "http":
        raise click.ClickException(
            f"profile {profile.id}: smp-runner deploys chains of HTTP services only"
        )
    if profile.protocol == "grpc" and options.load_generator != "fortio":
        raise click.ClickException(f"profile {profile.id} (gRPC) runs with fortio only")


def run_kubernetes(options: KubeOptions, progress: Progress) -> Bundle:
    check_profile(options)
    cluster = Cluster.connect(options.kubeconfig, options.context)
    environment = capture_environment(cluster)
    mesh, mesh_version = resolve_mesh(cluster, options.mesh)
    progress.step(
        f"cluster: Kubernetes {environment.kubernetes_version}, {len(environment.node)} node "
        f"type(s); mesh {mesh.name} {mesh_version or '(version unknown)'}"
    )
    run_id = new_run_id()
    runs: dict[str, PerformanceTestResult] = {}
    with Cleanup() as cleanup:
        for phase in ("baseline", "mesh"):
            ns = manifests.namespace_name(run_id, phase)
            phase_mesh = mesh if phase == "mesh" else None
            progress.step(f"{phase}: namespace {ns}")
            cluster.create_namespace(manifests.namespace(run_id, phase, mesh))
            cleanup.add(functools.partial(cluster.delete_namespace, ns))
            apps = manifests.app_names(options.profile)
            for app in apps:
                cluster.create(ns, "deployment", manifests.app_deployment(run_id, phase, mesh, app))
                cluster.create(ns, "service", manifests.app_service(run_id, app))
            if phase == "baseline":
                environment.calibration = _calibrate(cluster, ns, run_id, mesh, progress)
            for app in apps:
                _wait_ready(cluster, ns, app, options.poll_interval_s)
            if options.profile.is_capacity:
                runs[phase] = _capacity_phase(
                    cluster, ns, run_id, phase, phase_mesh, mesh, options, progress
                )
            else:
                runs[phase] = _load_phase(
                    cluster, ns, run_id, phase, phase_mesh, mesh, options, progress
                )
        progress.step("deleting the namespaces")

    mesh_run = runs["mesh"]
    sidecar = mesh_run.resources.sidecar if mesh_run.resources else None
    control_plane = mesh_run.resources.mesh_control_plane if mesh_run.resources else None
    mesh_config = ServiceMeshConfig(
        mesh_type=mesh.name,
        mesh_version=mesh_version,
        mtls_enabled=options.mtls,
        sidecar=sidecar,
        mesh_control_plane=control_plane,
    )
    load = LoadDescription(
        load_generator=options.load_generator,
        connections=options.profile.connections,
        rate=None if options.profile.is_capacity else options.rate,
        duration_s=options.duration_s,
        endpoint_urls=tuple(
            manifests.target_url(options.profile, manifests.namespace_name(run_id, p))
            for p in ("baseline", "mesh")
        ),
        internal=True,
    )
    return make_bundle(
        profile=options.profile,
        run_id=run_id,
        environment=environment,
        mesh_config=mesh_config,
        baseline=runs["baseline"],
        mesh=mesh_run,
        load=load,
        mode="kubernetes",
    )


def _wait_ready(cluster: Cluster, ns: str, app: str, poll_s: float) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        status = cluster.deployment(ns, app)
        if (status.get("status") or {}).get("readyReplicas", 0) >= 1:
            return
        if time.monotonic() > deadline:
            raise click.ClickException(
                f"the workload {app} in {ns} was not ready within {READY_TIMEOUT_S:g} s"
            )
        time.sleep(poll_s)


@dataclass(frozen=True)
class Finished:
    pod: str
    exit_code: int
    started: dt.datetime
    finished: dt.datetime


def _parse_time(value: str | None) -> dt.datetime:
    if not value:
        return dt.datetime.now(dt.UTC)
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _wait_container(
    cluster: Cluster,
    ns: str,
    job: str,
    container: str,
    timeout_s: float,
    poll_s: float,
    on_poll: Callable[[], None] = lambda: None,
) -> Finished:
    """Until ``container`` of the Job's pod has terminated (a sidecar may keep the pod alive)."""
    deadline = time.monotonic() + timeout_s
    while True:
        on_poll()
        for pod in cluster.pods(ns, f"job-name={job}"):
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            for status in statuses:
                terminated = (status.get("state") or {}).get("terminated")
                if status.get("name") == container and terminated:
                    return Finished(
                        pod=pod["metadata"]["name"],
                        exit_code=int(terminated.get("exitCode", 0)),
                        started=_parse_time(terminated.get("startedAt")),
                        finished=_parse_time(terminated.get("finishedAt")),
                    )
            if (pod.get("status") or {}).get("phase") == "Failed" and not statuses:
                raise click.ClickException(f"the pod of job {job} in {ns} failed to start")
        if time.monotonic() > deadline:
            raise click.ClickException(f"job {job} in {ns} did not finish within {timeout_s:g} s")
        time.sleep(poll_s)


def extract_json(log: str) -> str:
    """The JSON document in a pod log that also holds the tool's log lines."""
    decoder = json.JSONDecoder()
    for index, line in enumerate(log.splitlines(keepends=True)):
        if not line.lstrip().startswith("{"):
            continue
        start = sum(len(x) for x in log.splitlines(keepends=True)[:index])
        try:
            _, end = decoder.raw_decode(log, start + len(line) - len(line.lstrip()))
        except json.JSONDecodeError:
            continue
        return log[start:end].strip()
    raise ValueError("no JSON document in the log")


def _calibrate(
    cluster: Cluster, ns: str, run_id: str, mesh: Mesh, progress: Progress
) -> Calibration | None:
    progress.step("calibration: meshmark-cpu/1 probe in a pod on the cluster")
    cluster.create(ns, "job", manifests.calibrate_job(run_id, mesh, int(CALIBRATE_TIMEOUT_S)))
    try:
        done = _wait_container(
            cluster, ns, manifests.CALIBRATE_JOB, manifests.CALIBRATE_CONTAINER,
            CALIBRATE_TIMEOUT_S, POLL_INTERVAL_S,
        )  # fmt: skip
        log = cluster.log(ns, done.pod, manifests.CALIBRATE_CONTAINER)
        figure = json.loads(extract_json(log))
        return Calibration(probe=figure["probe"], score=float(figure["score"]), unit=figure["unit"])
    except (click.ClickException, ValueError, KeyError, TypeError) as exc:
        message = exc.message if isinstance(exc, click.ClickException) else str(exc)
        progress.step(f"warning: no calibration ({message}); figures will not be normalized")
        return None


def _capacity_phase(
    cluster: Cluster,
    ns: str,
    run_id: str,
    phase: str,
    phase_mesh: Mesh | None,
    mesh: Mesh,
    options: KubeOptions,
    progress: Progress,
) -> PerformanceTestResult:
    """A capacity profile's phase: the search of runner.capacity, each trial a load Job of
    its own (``smp-load-t1``, ``smp-load-t2``, ...) at the trial's rate."""
    count = [0]

    def trial(rate: float) -> PerformanceTestResult:
        count[0] += 1
        at_rate = dataclasses.replace(options, rate=rate)
        job = f"{manifests.LOAD_JOB}-t{count[0]}"
        return _load_phase(cluster, ns, run_id, phase, phase_mesh, mesh, at_rate, progress, job=job)

    return search_phase(phase, trial, SearchSettings.of(options.profile), progress.step)


def _load_phase(
    cluster: Cluster,
    ns: str,
    run_id: str,
    phase: str,
    phase_mesh: Mesh | None,
    mesh: Mesh,
    options: KubeOptions,
    progress: Progress,
    job: str = manifests.LOAD_JOB,
) -> PerformanceTestResult:
    timeout = options.duration_s + JOB_START_TIMEOUT_S
    manifest = manifests.load_job(
        options.load_generator, options.profile, run_id, phase, mesh, options.rate,
        options.duration_s, int(timeout), name=job,
    )  # fmt: skip
    cluster.create(ns, "job", manifest)
    sampler = MetricsSampler(phase_mesh, ns, cluster.pod_metrics)
    next_sample = [0.0]

    def sample() -> None:
        if options.prometheus is None and time.monotonic() >= next_sample[0]:
            sampler.sample()
            next_sample[0] = time.monotonic() + METRICS_EVERY_S

    label = f"{phase}: {options.load_generator} at {options.rate:g} rps"
    with progress.timed(label, options.duration_s):
        done = _wait_container(
            cluster, ns, job, manifests.LOAD_CONTAINER, timeout,
            options.poll_interval_s, sample,
        )  # fmt: skip
    log = cluster.log(ns, done.pod, manifests.LOAD_CONTAINER)
    if done.exit_code != 0:
        raise click.ClickException(
            f"the {phase} load generator exited with status {done.exit_code}:\n{log[-2000:]}"
        )
    try:
        text = extract_json(log)
        result = get_reader(options.load_generator).read(text.encode())[0]
    except (ValueError, ReaderError) as exc:
        raise click.ClickException(
            f"cannot read the {phase} load generator's output ({exc}); its log ends with:\n"
            f"{log[-1000:]}"
        ) from None
    result.raw = RawOutput(format=options.load_generator, content=text)
    result.connections = options.profile.connections
    if not options.profile.keepalive:
        result.labels = {**result.labels, "loadgen.keepalive": "false"}
    start, end = window(done.started, done.finished, options.warmup_s)
    blocks: dict[str, Block] = {}
    if options.prometheus:
        try:
            usage = prometheus_usage(options.prometheus, phase_mesh, ns, start, end)
        except PrometheusError as exc:
            progress.step(f"warning: no resource figures for {phase}: {exc}")
        else:
            blocks = usage.blocks
            for warning in usage.warnings:
                progress.step(f"warning: {phase}: {warning}")
    else:
        if sampler.unavailable:
            progress.step(f"warning: metrics.k8s.io unavailable ({sampler.unavailable})")
        blocks = sampler.usage(start, end)
    result.resources = _resources(blocks, phase_mesh)
    return result


def _resources(blocks: dict[str, Block], mesh: Mesh | None) -> RunResources | None:
    def usage(name: str) -> ResourceUsage | None:
        block = blocks.get(name)
        if block is None:
            return None
        return ResourceUsage(count=block.count, cpu_mcores=block.cpu_mcores, mem_mb=block.mem_mb)

    app = blocks.get("app")
    workloads = (
        [IndividualWorkload(manifests.APP, app.count, app.cpu_mcores, app.mem_mb)] if app else []
    )
    resources = RunResources(
        sidecar=usage("sidecar") if mesh is not None else None,
        mesh_control_plane=usage("control_plane") if mesh is not None else None,
        workloads=workloads,
    )
    if resources.sidecar is None and resources.mesh_control_plane is None and not workloads:
        return None
    return resources
