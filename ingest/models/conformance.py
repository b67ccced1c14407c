"""Gateway API conformance reports of meshes: what a mesh version supports.

A report arrives as a Submission of kind ``conformance`` (bytes kept verbatim);
processing reads it (:mod:`smp.conformance`) and, when it is accepted, writes one
ConformanceReport, replaced whenever the submission is processed again.
"""

from __future__ import annotations

from django.db import models


class ConformanceReport(models.Model):
    """The mesh profiles of one accepted report, for one mesh type and release.

    ``mesh_version`` is a release (``1.24`` covers every 1.24.x, ``1.26.1`` only
    itself: :func:`smp.versions.covers`); ``reported_version`` is what the report
    says. ``profiles`` holds :class:`smp.conformance.ProfileReport` dicts.
    """

    submission = models.OneToOneField(
        "ingest.Submission", on_delete=models.CASCADE, related_name="conformance_report"
    )
    organization = models.ForeignKey(
        "ingest.Organization", on_delete=models.PROTECT, related_name="+"
    )
    mesh_type = models.CharField(max_length=32)
    mesh_version = models.CharField(max_length=64)
    reported_version = models.CharField(max_length=255, blank=True)
    project = models.CharField(max_length=255, blank=True)
    implementation_organization = models.CharField(max_length=255, blank=True)
    url = models.CharField(max_length=1024, blank=True)
    api_version = models.CharField(max_length=128, blank=True)
    gateway_api_version = models.CharField(max_length=128, blank=True)
    gateway_api_channel = models.CharField(max_length=32, blank=True)
    mode = models.CharField(max_length=64, blank=True)
    report_date = models.CharField(max_length=64, blank=True)
    profiles = models.JSONField(default=list)
    other_profiles = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["mesh_type", "-created_at"]
        indexes = [models.Index(fields=["mesh_type", "mesh_version"], name="conformance_mesh")]

    def __str__(self) -> str:
        return f"{self.mesh_type} {self.mesh_version} (Gateway API {self.gateway_api_version})"
