"""Where the demo organizations run their tests: clusters and organizations.

Made up, but shaped like real clusters: machine types, Kubernetes and kernel
releases, network plugins and regions that exist. The machines' speed on the
calibration probe is an ASSUMPTION per machine type (see ``EnvironmentSpec``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EnvironmentSpec:
    """A cluster the demo organizations run on (SMP EnvironmentConfig fields).

    ``speed`` is the machine's calibration score on ``meshmark-cpu/1`` divided
    by the reference machine's 1000 (ASSUMPTION per machine type: the probe was
    sized so that an EPYC Zen 5 core at 2.6 GHz scores about 1000,
    runner/calibrate.py; older server cores and Arm cores score lower, a desktop
    Zen 4 at 5+ GHz higher).
    ``jitter`` is the run-to-run spread of the cluster (cloud networks wander).
    """

    key: str
    provider: str
    node_type: str
    cores: int
    mem_mb: int
    arch: str
    count: int
    kubernetes_version: str
    cni: str
    kernel_version: str
    speed: float
    jitter: float
    region: str


ENVIRONMENTS: tuple[EnvironmentSpec, ...] = (
    EnvironmentSpec(
        "gke-n2",
        "gke",
        "n2-standard-8",
        8,
        32768,
        "amd64",
        3,
        "v1.30.5-gke.1014001",
        "calico",
        "6.1.100+",
        0.80,
        0.06,
        "europe-west4",
    ),
    EnvironmentSpec(
        "eks-graviton",
        "eks",
        "m7g.2xlarge",
        8,
        32768,
        "arm64",
        3,
        "v1.30.4-eks-a737599",
        "cilium",
        "6.1.109-118.189.amzn2023.aarch64",
        0.84,
        0.05,
        "us-east-1",
    ),
    EnvironmentSpec(
        "aks-d8",
        "aks",
        "Standard_D8ds_v5",
        8,
        32768,
        "amd64",
        3,
        "v1.31.1",
        "cilium",
        "5.15.0-1073-azure",
        0.78,
        0.07,
        "westeurope",
    ),
    EnvironmentSpec(
        "metal-epyc",
        "equinix-metal",
        "m3.large.x86",
        64,
        262144,
        "amd64",
        2,
        "v1.31.2",
        "cilium",
        "6.8.0-45-generic",
        0.76,
        0.02,
        "da11",
    ),
    EnvironmentSpec(
        "hetzner-arm",
        "hetzner",
        "cax41",
        16,
        32768,
        "arm64",
        2,
        "v1.29.9+k3s1",
        "cilium",
        "6.1.0-25-arm64",
        0.72,
        0.05,
        "fsn1",
    ),
    EnvironmentSpec(
        "kind-workstation",
        "local",
        "ryzen-9-7950x",
        16,
        65536,
        "amd64",
        1,
        "v1.28.13",
        "kindnet",
        "6.8.0-45-generic",
        1.38,
        0.04,
        "lab",
    ),
)


@dataclass(frozen=True)
class OrgSpec:
    slug: str
    name: str
    environments: tuple[str, ...]


ORGANIZATIONS: tuple[OrgSpec, ...] = (
    OrgSpec("acme-platform", "Acme Platform Team (demo)", ("gke-n2",)),
    OrgSpec("globex-sre", "Globex SRE (demo)", ("eks-graviton",)),
    OrgSpec("initech-infra", "Initech Infrastructure (demo)", ("aks-d8",)),
    OrgSpec(
        "hooli-netperf", "Hooli Network Performance (demo)", ("metal-epyc", "kind-workstation")
    ),
    OrgSpec("umbrella-labs", "Umbrella Labs (demo)", ("hetzner-arm",)),
    OrgSpec("wayne-oss", "Wayne OSS Contributors (demo)", ("kind-workstation", "gke-n2")),
)
