"""The spec's enums and spellings, as tables (docs/smp.md, "Aliases and spec names").

Integers of an enum are read with the numbering of the proto the document was
written for: the current protos (package ``smp``) unless the document says
``smps_version``, the name the v0.1 proto (package ``SMP``, with ``sm.proto``'s
``ServiceMeshes``) used. The two numberings differ: ``protocol: 1`` is HTTP now
and was TCP in v0.1, ``type: 3`` is Istio now and was Kuma.
"""

from __future__ import annotations

import re

PROTOCOL_NUMBERS: dict[int, str] = {1: "http", 2: "tcp", 3: "udp", 4: "grpc"}
"""PerformanceTestConfig.Client.Protocol (0 is PROTOCOL_INVALID)."""
PROTOCOL_NUMBERS_V01: dict[int, str] = {0: "http", 1: "tcp", 2: "udp", 3: "grpc"}
"""The v0.1 proto's Protocol enum: ``http = 0`` ... ``grpc = 3``."""
PROTOCOL_NAMES: dict[str, str] = {f"PROTOCOL_{v.upper()}": v for v in PROTOCOL_NUMBERS.values()}

MESH_TYPE_NUMBERS: dict[int, str] = {
    1: "appmesh",
    2: "consul",
    3: "istio",
    4: "kuma",
    5: "linkerd",
    6: "traefik_mesh",
    7: "octarine",
    8: "networkservicemesh",
    9: "tanzu",
    10: "open_service_mesh",
    11: "nginx_service_mesh",
    12: "cilium",
}
"""ServiceMesh.Type of service_mesh.proto (0 is INVALID_MESH), as MeshMark's mesh types."""
MESH_TYPE_NAMES: dict[str, str] = {
    "APP_MESH": "appmesh",
    "CONSUL": "consul",
    "ISTIO": "istio",
    "KUMA": "kuma",
    "LINKERD": "linkerd",
    "TRAEFIK_MESH": "traefik_mesh",
    "OCTARINE": "octarine",
    "NETWORK_SERVICE_MESH": "networkservicemesh",
    "TANZU": "tanzu",
    "OPEN_SERVICE_MESH": "open_service_mesh",
    "NGINX_SERVICE_MESH": "nginx_service_mesh",
    "CILIUM_SERVICE_MESH": "cilium",
}
MESH_TYPE_NUMBERS_V01: dict[int, str] = {
    0: "appmesh",
    1: "consul",
    2: "istio",
    3: "kuma",
    4: "linkerd",
    5: "maesh",
    6: "octarine",
    7: "networkservicemesh",
    8: "tanzu",
}
"""``ServiceMeshes.Type`` of the v0.1 ``sm.proto`` (lower-case names, ``appmesh = 0``)."""

APPLICATION_PROTOCOL_NUMBERS: dict[int, str] = {1: "http", 2: "https"}
"""ApplicationMetadata.ApplicationProtocol (0 is PROTOCOL_INVALID)."""
APPLICATION_PROTOCOL_NAMES: dict[str, str] = {"PROTOCOL_HTTP": "http", "PROTOCOL_HTTPS": "https"}

ENUM_NAME_OF_MESH_TYPE: dict[str, str] = {v: k for k, v in MESH_TYPE_NAMES.items()}
ENUM_NAME_OF_PROTOCOL: dict[str, str] = {v: k for k, v in PROTOCOL_NAMES.items()}
ENUM_NAME_OF_APPLICATION_PROTOCOL: dict[str, str] = {
    v: k for k, v in APPLICATION_PROTOCOL_NAMES.items()
}

_WORD_START = re.compile(r"_([a-zA-Z0-9])")


def lower_camel(name: str) -> str:
    """protoc's JSON name of a field: ``latencies_ms`` -> ``latenciesMs``, ``cpu_mCores`` ->
    ``cpuMCores`` (the letter after an underscore is upper-cased, the rest kept)."""
    return _WORD_START.sub(lambda m: m.group(1).upper(), name)
