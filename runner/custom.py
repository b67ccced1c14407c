"""``smp-runner run --config`` and ``bundle --config``: an SMP test configuration as the profile.

The configuration is read with :func:`smp.spec.read.read_test_config` (any
SMP shape, Meshery's ``{test, mesh}`` included) and turned into a profile by
:func:`smp.custom_profiles.resolve`: the standard profile it describes
exactly, or a custom one. What the configuration says about the load
generator and the mesh is used unless the command line says otherwise, and a
contradiction is an error rather than a silent choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import click

from smp.custom_profiles import CustomProfile, resolve
from smp.errors import ReaderError
from smp.profiles import Profile

CLUSTER_MESHES = ("istio", "linkerd", "cilium", "kuma", "consul")


@dataclass
class ConfigProfile:
    """The profile a configuration file defines, and what else it asks for."""

    profile: Profile
    custom: CustomProfile | None
    load_generator: str | None
    mesh_type: str | None
    notes: list[str] = field(default_factory=list)

    def generator(self, given: str | None) -> str | None:
        """The load generator: the one given on the command line, else the configuration's."""
        if given and self.load_generator and given != self.load_generator:
            raise click.UsageError(
                f"--load-generator {given} contradicts the configuration's load_generator "
                f"{self.load_generator}; drop one of them"
            )
        return given or self.load_generator

    def mesh(self, given: str, *, local: bool) -> str:
        """The mesh to test: ``--mesh`` unless it is ``auto`` and the configuration names one."""
        wanted = self.mesh_type
        if wanted is None or wanted == "none":
            return given
        if local:
            self.notes.append(
                f"the configuration is for {wanted}; --local measures its proxies in its place"
            )
            return given
        if given not in ("auto", wanted):
            raise click.UsageError(
                f"--mesh {given} contradicts the configuration's mesh type {wanted}"
            )
        if wanted not in CLUSTER_MESHES:
            raise click.UsageError(
                f"the configuration is for {wanted}; smp-runner tests "
                f"{', '.join(CLUSTER_MESHES)} on a cluster"
            )
        return wanted


def config_profile(data: bytes, name: str) -> ConfigProfile:
    """The profile of a PerformanceTestConfig file; ClickException naming every problem."""
    from smp.spec.read import read_test_config

    try:
        read = read_test_config(data)
        assert read.test_config is not None
        resolved = resolve(read.test_config)
    except ReaderError as exc:  # ProfileError too: it is one
        raise click.ClickException(f"{name}: {exc}") from None
    mesh_type = read.mesh_config.mesh_type if read.mesh_config is not None else None
    client = read.test_config.clients[0]
    notes: list[str] = []
    if client.endpoint_url:
        notes.append(
            f"the configuration's endpoints ({', '.join(client.endpoint_url)}) are not used: "
            "smp-runner measures the workload it deploys"
        )
    if isinstance(resolved, CustomProfile):
        notes.append(f"custom profile {resolved.id}: {resolved.profile.description}")
        return ConfigProfile(resolved.profile, resolved, resolved.load_generator, mesh_type, notes)
    notes.append(f"the configuration is the standard profile {resolved.id}")
    return ConfigProfile(resolved, None, client.load_generator, mesh_type, notes)
