"""Gateway API conformance reports: what a mesh supports, read and checked.

A ``ConformanceReport`` (kubernetes-sigs/gateway-api, ``conformance/reports/``)
says which conformance profiles an implementation ran, whether their *core*
tests passed, and which *extended* features it supports. The index keeps the
mesh profiles: ``MESH-HTTP`` and ``MESH-GRPC`` (Gateway API v1.1 on), and
``MESH``, their name before v1.1, read as ``MESH-HTTP``.

:func:`read_conformance` is the one reader, at the door (``check=False``: it
parses and names what the bytes are) and in the worker (everything). Two shapes
arrive: the report's YAML (or JSON) as the body, or a ``multipart/form-data``
form with the report as the ``report`` file and optional ``mesh_type`` and
``mesh_version`` fields, for reports whose project or version does not name a
mesh release. Real reports have traps, each handled here and tested on the
upstream files: unquoted versions (``version: 1.20`` is the number 1.2 to YAML:
read as the text ``1.20``, with a warning); pre-v1.1 profile names; versions
that are no release (``main``, a pull-request URL, ``1.17.0-pre.1``); and feature
lists that shrink from Gateway API v1.4 (only ``Mesh*`` features are listed in
mesh profiles), which :func:`comparable_features` accounts for.

Meshery's export of SMI conformance results is recognised and refused with the
reason. Pure: no Django.
"""

from __future__ import annotations

from smp.conformance.model import (
    FORMAT,
    LEGACY_PROFILES,
    MESH_PROFILES,
    ConformanceDocument,
    ConformanceReading,
    ProfileReport,
    comparable_features,
)
from smp.conformance.reading import read_conformance

__all__ = [
    "FORMAT",
    "LEGACY_PROFILES",
    "MESH_PROFILES",
    "ConformanceDocument",
    "ConformanceReading",
    "ProfileReport",
    "comparable_features",
    "read_conformance",
]
