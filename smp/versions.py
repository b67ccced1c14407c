"""Mesh release versions: which version strings name a release, and how they order.

A mesh's ``mesh_version`` is free text in SMP (the proto's ``mesh_build``), and
the index meets every spelling of it: ``1.24.1``, ``v1.16.0``, Linkerd's
``stable-2.14.10`` and ``edge-24.1.1``, conformance reports' ``version-2.18``,
``main`` or a pull-request URL. Release trends and conformance matching only
use *releases*: one to four dot-separated numbers, optionally after ``v``,
``version-`` or ``stable-``. Anything else (pre-releases such as ``-rc.1`` or
``-pre.2``, edge builds, branches, URLs) is not a release.
"""

from __future__ import annotations

import re

_RELEASE = re.compile(r"^(?:v|version-|stable-)?(\d+(?:\.\d+){0,3})$", re.IGNORECASE)


def release_of(version: str | None) -> str | None:
    """The release a version string names, normalized (``v1.16.0`` -> ``1.16.0``), or None.

    >>> release_of("stable-2.14.10"), release_of("1.17.0-pre.1"), release_of("main")
    ('2.14.10', None, None)
    """
    if not version:
        return None
    match = _RELEASE.match(version.strip())
    return match.group(1) if match else None


def release_key(version: str | None) -> tuple[int, ...] | None:
    """A sort key for releases (numeric, part by part), None for anything that is not one.

    ``1.9`` sorts before ``1.10``; ``1.24`` before ``1.24.0`` (a shorter key is a
    prefix of the longer one and Python orders it first).
    """
    release = release_of(version)
    if release is None:
        return None
    return tuple(int(part) for part in release.split("."))


def covers(report_release: str, mesh_version: str | None) -> bool:
    """Whether a statement about release ``report_release`` applies to ``mesh_version``.

    The same release, or a minor line (``1.24``, two parts) that ``mesh_version``
    belongs to (``1.24.1``). A patch release covers only itself.
    """
    report_key, mesh_key = release_key(report_release), release_key(mesh_version)
    if report_key is None or mesh_key is None:
        return False
    if report_key == mesh_key:
        return True
    return len(report_key) == 2 and mesh_key[:2] == report_key
