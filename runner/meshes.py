"""What smp-runner knows about each mesh: how to find it, how to inject it, what to measure.

=========  ==============================  ===============================================
mesh       detected by (control plane)     sidecar injection in the mesh namespace
=========  ==============================  ===============================================
istio      Deployment istiod, istio-system label ``istio-injection=enabled``
linkerd    Deployment linkerd-destination, annotation ``linkerd.io/inject=enabled``
           linkerd                         (namespace and pod template)
cilium     DaemonSet cilium, kube-system   none: Cilium is sidecarless (eBPF + a per-node
                                           Envoy), so there is no sidecar block
kuma       Deployment kuma-control-plane,  label ``kuma.io/sidecar-injection=enabled``
           kuma-system
consul     StatefulSet (or Deployment)     pod annotation
           consul-server, consul           ``consul.hashicorp.com/connect-inject=true``
=========  ==============================  ===============================================

The baseline namespace gets the opposite setting (``disabled`` / ``false``), so
that a mesh which injects by default still leaves the baseline alone. The
mesh's version is the tag of the control plane's first container image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MESH_NAMES: tuple[str, ...] = ("istio", "linkerd", "cilium", "kuma", "consul")


@dataclass(frozen=True)
class Mesh:
    name: str
    namespace: str
    """The control plane's namespace."""
    workloads: tuple[tuple[str, str], ...]
    """(kind, name) of the control-plane object whose presence means "installed"."""
    control_plane_pods: str
    """Regex of the control plane's pod names in ``namespace`` (for CPU and memory)."""
    sidecar_containers: tuple[str, ...] = ()
    mesh_labels: dict[str, str] = field(default_factory=dict)
    baseline_labels: dict[str, str] = field(default_factory=dict)
    mesh_annotations: dict[str, str] = field(default_factory=dict)
    """Set on the mesh namespace and on the pod templates."""
    baseline_annotations: dict[str, str] = field(default_factory=dict)
    load_pod_annotations: dict[str, str] = field(default_factory=dict)
    """Extra annotations on the load generator's pod in the mesh phase."""

    @property
    def sidecar_regex(self) -> str:
        # Container names are DNS labels ([a-z0-9-]): nothing to escape, and a
        # backslash would be an invalid escape inside a PromQL string.
        return "|".join(self.sidecar_containers)


MESHES: dict[str, Mesh] = {
    "istio": Mesh(
        name="istio",
        namespace="istio-system",
        workloads=(("deployment", "istiod"),),
        control_plane_pods="istiod-.*",
        sidecar_containers=("istio-proxy",),
        mesh_labels={"istio-injection": "enabled"},
        baseline_labels={"istio-injection": "disabled"},
        # Start the load only once the sidecar is ready, or the first requests fail.
        load_pod_annotations={"proxy.istio.io/config": '{"holdApplicationUntilProxyStarts": true}'},
    ),
    "linkerd": Mesh(
        name="linkerd",
        namespace="linkerd",
        workloads=(("deployment", "linkerd-destination"),),
        control_plane_pods=".*",
        sidecar_containers=("linkerd-proxy",),
        mesh_annotations={"linkerd.io/inject": "enabled"},
        baseline_annotations={"linkerd.io/inject": "disabled"},
    ),
    "cilium": Mesh(
        name="cilium",
        namespace="kube-system",
        workloads=(("daemonset", "cilium"),),
        control_plane_pods="cilium-.*",
    ),
    "kuma": Mesh(
        name="kuma",
        namespace="kuma-system",
        workloads=(("deployment", "kuma-control-plane"),),
        control_plane_pods="kuma-control-plane-.*",
        sidecar_containers=("kuma-sidecar",),
        mesh_labels={"kuma.io/sidecar-injection": "enabled"},
        baseline_labels={"kuma.io/sidecar-injection": "disabled"},
    ),
    "consul": Mesh(
        name="consul",
        namespace="consul",
        workloads=(("statefulset", "consul-server"), ("deployment", "consul-server")),
        control_plane_pods=".*",
        sidecar_containers=("consul-dataplane", "envoy-sidecar"),
        mesh_annotations={"consul.hashicorp.com/connect-inject": "true"},
        baseline_annotations={"consul.hashicorp.com/connect-inject": "false"},
    ),
}


def image_version(image: str) -> str | None:
    """``1.24.1`` from ``docker.io/istio/pilot:1.24.1``; ``v`` prefixes and digests dropped."""
    image = image.split("@", 1)[0]
    name = image.rsplit("/", 1)[-1]
    if ":" not in name:
        return None
    tag = name.rsplit(":", 1)[1]
    if re.fullmatch(r"v\d.*", tag):
        tag = tag[1:]
    return tag or None
