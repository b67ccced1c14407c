"""A thin layer over the ``kubernetes`` client: the calls the runner makes, as JSON.

Every call goes through the client's typed API methods (``CoreV1Api``, ...)
with ``_preload_content=False`` and the response body is decoded here, so the
runner does not depend on the client's model classes (which differ between
client versions); errors become :class:`click.ClickException` naming the call.
Also reads the cluster into an SMP EnvironmentConfig and finds the installed
meshes.

Environment: ``kubernetes_version`` from ``/version`` (``gitVersion``); one
``node`` entry per group of identical nodes (instance type from the label
``node.kubernetes.io/instance-type``, cores and memory from
``status.capacity``, architecture from ``kubernetes.io/arch``), with
``count``; ``kernel_version`` when every node runs the same kernel;
``provider`` from the scheme of ``spec.providerID`` (``gce``, ``aws``,
``azure``, ``kind``...).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import click

from runner.meshes import MESH_NAMES, MESHES, Mesh, image_version
from runner.prom import cpu_mcores, mem_mib
from smp.model import EnvironmentConfig, Node


class Cluster:
    def __init__(self, api_client: Any) -> None:
        from kubernetes import client

        # Typed as Any: the client's own annotations differ between its versions.
        self.core: Any = client.CoreV1Api(api_client)
        self.apps: Any = client.AppsV1Api(api_client)
        self.batch: Any = client.BatchV1Api(api_client)
        self.custom: Any = client.CustomObjectsApi(api_client)
        self.version: Any = client.VersionApi(api_client)

    @classmethod
    def connect(cls, kubeconfig: str, context: str | None) -> Cluster:
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        new_client: Callable[..., Any] = config.new_client_from_config
        try:
            api_client = new_client(config_file=kubeconfig, context=context)
        except (ConfigException, OSError, ValueError) as exc:
            raise click.ClickException(f"cannot use kubeconfig {kubeconfig}: {exc}") from None
        return cls(api_client)

    def _call(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        """Call a typed API method, returning the raw response body."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            response = method(*args, _preload_content=False, **kwargs)
        except ApiException as exc:
            raise ClusterError(what, exc.status, _reason(exc)) from None
        except HTTPError as exc:
            raise click.ClickException(f"cannot reach the cluster ({what}): {exc}") from None
        data = getattr(response, "data", None)
        if data is None:
            data = response.read()
        return bytes(data)

    def _json(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return json.loads(self._call(what, method, *args, **kwargs))
        except ValueError:
            raise click.ClickException(f"{what}: the cluster's answer is not JSON") from None

    def server_version(self) -> str | None:
        version = self._json("GET /version", self.version.get_code).get("gitVersion")
        return str(version) if version else None

    def nodes(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._json("list nodes", self.core.list_node).get("items", [])
        return items

    def find_workload(self, kind: str, ns: str, name: str) -> dict[str, Any] | None:
        """A Deployment, DaemonSet or StatefulSet as JSON; None when it does not exist."""
        method: Callable[..., Any] = {
            "deployment": self.apps.read_namespaced_deployment,
            "daemonset": self.apps.read_namespaced_daemon_set,
            "statefulset": self.apps.read_namespaced_stateful_set,
        }[kind]
        try:
            found: dict[str, Any] = self._json(f"read {kind} {ns}/{name}", method, name, ns)
        except ClusterError as exc:
            if exc.status == 404:
                return None
            raise
        return found

    def create_namespace(self, manifest: dict[str, Any]) -> None:
        name = manifest["metadata"]["name"]
        self._call(f"create namespace {name}", self.core.create_namespace, manifest)

    def delete_namespace(self, name: str) -> None:
        try:
            self._call(
                f"delete namespace {name}",
                self.core.delete_namespace,
                name,
                propagation_policy="Background",
            )
        except ClusterError as exc:
            if exc.status != 404:
                raise

    def create(self, ns: str, kind: str, manifest: dict[str, Any]) -> None:
        method: Callable[..., Any] = {
            "deployment": self.apps.create_namespaced_deployment,
            "service": self.core.create_namespaced_service,
            "job": self.batch.create_namespaced_job,
        }[kind]
        self._call(f"create {kind} {ns}/{manifest['metadata']['name']}", method, ns, manifest)

    def deployment(self, ns: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._json(
            f"read deployment {ns}/{name}", self.apps.read_namespaced_deployment, name, ns
        )
        return found

    def pods(self, ns: str, label_selector: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._json(
            f"list pods in {ns}", self.core.list_namespaced_pod, ns, label_selector=label_selector
        ).get("items", [])
        return items

    def log(self, ns: str, pod: str, container: str) -> str:
        data = self._call(
            f"read log of {ns}/{pod}", self.core.read_namespaced_pod_log, pod, ns,
            container=container,
        )  # fmt: skip
        return data.decode("utf-8", "replace")

    def pod_metrics(self, ns: str) -> dict[str, Any]:
        found: dict[str, Any] = self._json(
            f"pod metrics of {ns}",
            self.custom.list_namespaced_custom_object,
            "metrics.k8s.io",
            "v1beta1",
            ns,
            "pods",
        )
        return found


class ClusterError(click.ClickException):
    def __init__(self, what: str, status: int | None, reason: str) -> None:
        super().__init__(f"the cluster refused to {what} ({status}): {reason}")
        self.status = status


def _reason(exc: Any) -> str:
    try:
        body = json.loads(exc.body)
        return str(body.get("message") or exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)


def _node(item: dict[str, Any]) -> Node:
    labels = (item.get("metadata") or {}).get("labels") or {}
    status = item.get("status") or {}
    capacity = status.get("capacity") or {}
    info = status.get("nodeInfo") or {}
    cores = cpu_mcores(str(capacity["cpu"])) / 1000 if "cpu" in capacity else None
    mem = round(mem_mib(str(capacity["memory"])), 1) if "memory" in capacity else None
    return Node(
        type=labels.get("node.kubernetes.io/instance-type")
        or labels.get("beta.kubernetes.io/instance-type"),
        cores=cores,
        mem_mb=mem,
        arch=labels.get("kubernetes.io/arch") or info.get("architecture"),
    )


def capture_environment(cluster: Cluster) -> EnvironmentConfig:
    version = cluster.server_version()
    items = cluster.nodes()
    groups = Counter((n.type, n.cores, n.mem_mb, n.arch) for n in map(_node, items))
    nodes = [
        Node(type=t, cores=c, mem_mb=m, arch=a, count=count)
        for (t, c, m, a), count in groups.items()
    ]
    kernels = {((i.get("status") or {}).get("nodeInfo") or {}).get("kernelVersion") for i in items}
    providers = {str((i.get("spec") or {}).get("providerID", "")).split("://", 1)[0] for i in items}
    return EnvironmentConfig(
        kubernetes_version=version,
        node=nodes,
        kernel_version=kernels.pop() if len(kernels) == 1 else None,
        provider=(providers.pop() or None) if len(providers) == 1 else None,
    )


def detect_mesh(cluster: Cluster, mesh: Mesh) -> tuple[bool, str | None]:
    """(installed, version) of one mesh, from its control plane's object and image."""
    for kind, name in mesh.workloads:
        found = cluster.find_workload(kind, mesh.namespace, name)
        if found is None:
            continue
        containers = (((found.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
            "containers"
        ) or []
        image = containers[0].get("image", "") if containers else ""
        return True, image_version(image) if image else None
    return False, None


def resolve_mesh(cluster: Cluster, requested: str) -> tuple[Mesh, str | None]:
    """The mesh to test: the one asked for (it must be installed) or, for ``auto``, the only one."""
    if requested != "auto":
        mesh = MESHES[requested]
        installed, version = detect_mesh(cluster, mesh)
        if not installed:
            what = " or ".join(f"{kind} {name}" for kind, name in mesh.workloads)
            raise click.ClickException(
                f"{requested} is not installed on this cluster: no {what} in namespace "
                f"{mesh.namespace}"
            )
        return mesh, version
    found = [
        (MESHES[n], v) for n in MESH_NAMES for ok, v in [detect_mesh(cluster, MESHES[n])] if ok
    ]
    if len(found) == 1:
        return found[0]
    if not found:
        raise click.ClickException(
            "no service mesh found on this cluster (looked for " + ", ".join(MESH_NAMES) + ")"
        )
    names = ", ".join(f"{m.name} {v or ''}".strip() for m, v in found)
    raise click.ClickException(f"several meshes are installed ({names}); choose one with --mesh")
