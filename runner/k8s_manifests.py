"""The Kubernetes objects the Kubernetes mode creates, as plain manifests (dicts).

Per phase (``baseline``, ``mesh``) one namespace ``smp-<run id>-<phase>``
holding: the workload ``smp-app`` (a fortio server Deployment + Service; its
``/echo?size=N`` answers with the profile's payload), the load generator Job
``smp-load`` (fortio or nighthawk, in the same namespace so that in the mesh
phase both ends get a sidecar: the sidecar pair), and, in the baseline
namespace only, the calibration Job ``smp-calibrate`` (the probe of
:mod:`runner.calibrate` run with ``python -c`` on a cluster node).

A chain profile (``services`` > 2, e.g. ``http-chain-1k``) deploys one fortio
server per service, ``smp-app-1`` to ``smp-app-N``, and the load generator asks the
first to fetch from the second, which fetches from the third (fortio's
``/fortio/fetch/HOST:PORT/PATH`` proxy endpoint, nested), so every request crosses
each application's outbound and the next one's inbound sidecar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.meshes import Mesh
from smp.profiles import Profile

FORTIO_IMAGE = "fortio/fortio:1.57.3"
NIGHTHAWK_IMAGE = "envoyproxy/nighthawk-dev:latest"
PYTHON_IMAGE = "python:3.11-slim"
"""The probe's figures are comparable between machines for one Python version; the
reference machine ran CPython 3.11."""
APP = "smp-app"
LOAD_JOB = "smp-load"
CALIBRATE_JOB = "smp-calibrate"
LOAD_CONTAINER = "load"
CALIBRATE_CONTAINER = "probe"
HTTP_PORT = 8080
GRPC_PORT = 8079
MANAGED_BY = {"app.kubernetes.io/managed-by": "smp-runner"}
RUN_ID_LABEL = "meshmark.io/run-id"
PHASE_LABEL = "meshmark.io/phase"
LOAD_GENERATORS: tuple[str, ...] = ("fortio", "nighthawk")


def namespace_name(run_id: str, phase: str) -> str:
    return f"smp-{run_id}-{phase}"


def _injection(mesh: Mesh | None, phase: str) -> tuple[dict[str, str], dict[str, str]]:
    if mesh is None:
        return {}, {}
    if phase == "mesh":
        return dict(mesh.mesh_labels), dict(mesh.mesh_annotations)
    return dict(mesh.baseline_labels), dict(mesh.baseline_annotations)


def namespace(run_id: str, phase: str, mesh: Mesh | None) -> dict[str, Any]:
    labels, annotations = _injection(mesh, phase)
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace_name(run_id, phase),
            "labels": {**MANAGED_BY, RUN_ID_LABEL: run_id, PHASE_LABEL: phase, **labels},
            "annotations": annotations,
        },
    }


def app_names(profile: Profile) -> list[str]:
    """The workload's Deployments (and Services): ``smp-app``, or one per service of a chain."""
    apps = profile.services - 1  # the load generator is the first service
    return [APP] if apps <= 1 else [f"{APP}-{i}" for i in range(1, apps + 1)]


def app_deployment(run_id: str, phase: str, mesh: Mesh | None, name: str = APP) -> dict[str, Any]:
    _, annotations = _injection(mesh, phase)
    labels = {"app": name, RUN_ID_LABEL: run_id}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {**MANAGED_BY, **labels}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": FORTIO_IMAGE,
                            "args": ["server"],
                            "ports": [
                                {"name": "http", "containerPort": HTTP_PORT},
                                {"name": "grpc", "containerPort": GRPC_PORT},
                            ],
                            "readinessProbe": {
                                "tcpSocket": {"port": HTTP_PORT},
                                "periodSeconds": 2,
                            },
                        }
                    ]
                },
            },
        },
    }


def app_service(run_id: str, name: str = APP) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {**MANAGED_BY, RUN_ID_LABEL: run_id}},
        "spec": {
            "selector": {"app": name},
            "ports": [
                {"name": "http", "port": HTTP_PORT, "targetPort": HTTP_PORT, "appProtocol": "http"},
                {"name": "grpc", "port": GRPC_PORT, "targetPort": GRPC_PORT, "appProtocol": "grpc"},
            ],
        },
    }


def target_url(profile: Profile, ns: str) -> str:
    hosts = [f"{name}.{ns}.svc.cluster.local" for name in app_names(profile)]
    if profile.protocol == "grpc":
        return f"{hosts[0]}:{GRPC_PORT}"
    # Each application but the last fetches the rest of the path from the next one.
    fetches = "".join(f"{host}:{HTTP_PORT}/fortio/fetch/" for host in hosts[:-1])
    return f"http://{fetches}{hosts[-1]}:{HTTP_PORT}/echo?size={profile.payload_bytes}"


def load_args(
    generator: str, profile: Profile, ns: str, rate: float, duration_s: float
) -> tuple[str, list[str], list[str]]:
    """(image, command, args) of the load generator container."""
    url = target_url(profile, ns)
    seconds = f"{max(1, round(duration_s))}"
    if generator == "fortio":
        args = ["load", "-json", "-", "-qps", f"{rate:g}", "-c", str(profile.connections)]
        args += ["-t", f"{seconds}s"]
        if profile.protocol == "grpc":
            args += ["-grpc", "-ping"]
        if not profile.keepalive:  # churn: a new connection for every request
            args += ["-keepalive=false"]
        return FORTIO_IMAGE, [], [*args, url]
    if generator == "nighthawk":
        args = ["--rps", f"{rate:g}", "--connections", str(profile.connections)]
        args += ["--duration", seconds, "--output-format", "json"]
        if not profile.keepalive:
            args += ["--max-requests-per-connection", "1"]
        args += [url]
        return NIGHTHAWK_IMAGE, ["nighthawk_client"], args
    raise ValueError(f"unknown load generator {generator!r}; known: {', '.join(LOAD_GENERATORS)}")


def _job(
    name: str,
    run_id: str,
    container: dict[str, Any],
    annotations: dict[str, str],
    active_deadline_s: int,
) -> dict[str, Any]:
    labels = {RUN_ID_LABEL: run_id, "app": name}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {**MANAGED_BY, **labels}},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": active_deadline_s,
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {"restartPolicy": "Never", "containers": [container]},
            },
        },
    }


def load_job(
    generator: str,
    profile: Profile,
    run_id: str,
    phase: str,
    mesh: Mesh | None,
    rate: float,
    duration_s: float,
    deadline_s: int,
    name: str = LOAD_JOB,
) -> dict[str, Any]:
    ns = namespace_name(run_id, phase)
    image, command, args = load_args(generator, profile, ns, rate, duration_s)
    container: dict[str, Any] = {"name": LOAD_CONTAINER, "image": image, "args": args}
    if command:
        container["command"] = command
    _, annotations = _injection(mesh, phase)
    if mesh is not None and phase == "mesh":
        annotations = {**annotations, **mesh.load_pod_annotations}
    return _job(name, run_id, container, annotations, deadline_s)


def calibrate_job(run_id: str, mesh: Mesh | None, deadline_s: int) -> dict[str, Any]:
    source = (Path(__file__).parent / "calibrate.py").read_text()
    container = {
        "name": CALIBRATE_CONTAINER,
        "image": PYTHON_IMAGE,
        "command": ["python", "-I", "-c", source],
    }
    _, annotations = _injection(mesh, "baseline")
    return _job(CALIBRATE_JOB, run_id, container, annotations, deadline_s)
