"""Capabilities beside overhead: which Gateway API conformance a mesh version has.

Reports are accepted ConformanceReports of listed organizations. A report for
release ``1.24`` covers every 1.24.x; one for ``1.26.1`` only that release
(:func:`smp.versions.covers`). When several cover a version, the one shown is,
in order: the exact release before a minor line, the newest Gateway API
release, the experimental channel before standard (it runs every standard test
and more), the latest report date, the latest accepted (docs/meshmark.md,
"Capabilities").
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from ingest.models import AuditEvent, ConformanceReport, Submission
from smp.conformance import MESH_PROFILES, ProfileReport, comparable_features
from smp.versions import covers, release_key


@dataclass
class Capability:
    """One report as the pages show it: its mesh profiles, in a fixed order."""

    report: ConformanceReport
    profiles: list[ProfileReport]

    @classmethod
    def of(cls, report: ConformanceReport) -> Capability:
        profiles = [ProfileReport.from_dict(p) for p in report.profiles]
        order = {name: i for i, name in enumerate(MESH_PROFILES)}
        profiles.sort(key=lambda p: order.get(p.name, len(order)))
        return cls(report, profiles)

    def profile(self, name: str) -> ProfileReport | None:
        return next((p for p in self.profiles if p.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        r = self.report
        return {
            "mesh_type": r.mesh_type,
            "mesh_version": r.mesh_version,
            "reported_version": r.reported_version,
            "project": r.project,
            "gateway_api_version": r.gateway_api_version,
            "gateway_api_channel": r.gateway_api_channel,
            "mode": r.mode,
            "date": r.report_date,
            "submission": str(r.submission_id),
            "profiles": [{**p.to_dict(), "passed": p.passed} for p in self.profiles],
            "other_profiles": r.other_profiles,
        }


def public_reports(mesh_types: Iterable[str] | None = None) -> list[ConformanceReport]:
    reports = ConformanceReport.objects.filter(
        submission__status=Submission.Status.ACCEPTED, organization__is_listed=True
    )
    if mesh_types is not None:
        reports = reports.filter(mesh_type__in=list(mesh_types))
    return list(reports.order_by("mesh_type", "-created_at"))


def _preference(report: ConformanceReport, version: str) -> tuple[Any, ...]:
    return (
        release_key(report.mesh_version) == release_key(version),
        release_key(report.gateway_api_version) or (),
        report.gateway_api_channel == "experimental",
        report.report_date,
        report.created_at,
    )


def capability_for(
    reports: Iterable[ConformanceReport], mesh_type: str, version: str
) -> Capability | None:
    """The report shown for ``mesh_type`` at ``version`` (see the module's rule), or None."""
    covering = [r for r in reports if r.mesh_type == mesh_type and covers(r.mesh_version, version)]
    if not covering:
        return None
    return Capability.of(max(covering, key=lambda r: _preference(r, version)))


def capabilities(configs: Iterable[tuple[int, str, str]]) -> dict[int, Capability]:
    """For ``(config id, mesh type, version)`` triples: the capability of each that has one,
    from one query."""
    configs = list(configs)
    reports = public_reports({mesh for _, mesh, _ in configs})
    found = {}
    for config_id, mesh, version in configs:
        capability = capability_for(reports, mesh, version)
        if capability is not None:
            found[config_id] = capability
    return found


def reports_state() -> str:
    """Changes whenever a report is added, replaced or removed, or an organization's listing
    changes (a page cache's key part): one indexed query, in plain SQL because pages that
    serve a cached body run it on every request and the ORM's compiling cost more."""
    with connection.cursor() as cursor:
        cursor.execute(_reports_state_sql())
        count, last, moderated = cursor.fetchone()
    return f"{count}-{last}-{moderated}"


@functools.cache
def _reports_state_sql() -> str:
    reports = connection.ops.quote_name(ConformanceReport._meta.db_table)
    events = connection.ops.quote_name(AuditEvent._meta.db_table)
    # Table names come from the models; nothing from a request is in the statement.
    return (
        f"SELECT (SELECT COUNT(*) FROM {reports}), (SELECT MAX(id) FROM {reports}), "  # noqa: S608
        f"(SELECT MAX(id) FROM {events})"
    )


@dataclass
class FeatureDiff:
    """What two configurations' reports say differently, profile by profile."""

    profile: str
    a: ProfileReport | None
    b: ProfileReport | None
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    shared: int = 0
    note: str = ""


def feature_diff(a: Capability | None, b: Capability | None) -> list[FeatureDiff]:
    """Profile by profile: passed or not on each side, and the extended features only one
    side supports. Lists are compared as far as their Gateway API versions allow
    (:func:`smp.conformance.comparable_features`)."""
    if a is None or b is None:
        return []
    mesh_only, note = comparable_features(
        a.report.gateway_api_version, b.report.gateway_api_version
    )
    out = []
    for name in MESH_PROFILES:
        pa, pb = a.profile(name), b.profile(name)
        if pa is None and pb is None:
            continue
        fa = set(pa.supported_features if pa else [])
        fb = set(pb.supported_features if pb else [])
        if mesh_only:
            fa = {f for f in fa if f.startswith("Mesh")}
            fb = {f for f in fb if f.startswith("Mesh")}
        out.append(
            FeatureDiff(
                profile=name,
                a=pa,
                b=pb,
                only_a=sorted(fa - fb),
                only_b=sorted(fb - fa),
                shared=len(fa & fb),
                note=note,
            )
        )
    return out
