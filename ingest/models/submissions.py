"""What the index stores: organizations, tokens, submissions and the results they produce.

A Submission holds the bytes exactly as received and is written before any
parsing; Results are derived from it and can always be rebuilt by reprocessing.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from smp.model import MESH_TYPES


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    website = models.URLField(blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="organizations"
    )
    # Moderation: an unlisted organization's results leave every public list and
    # aggregate; nothing is deleted and the reason stays on record.
    is_listed = models.BooleanField(default=True)
    unlisted_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member"
        ADMIN = "admin"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization}"


class ApiToken(models.Model):
    """An organization's upload token.

    The secret is shown once, when issued; only its SHA-256 is kept. Tokens are
    long random strings, so a fast hash is enough (no dictionary to attack), and
    the ``prefix`` lets a lookup find the row without scanning.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Profile(models.Model):
    """A standard test (seeded from smp/data/profiles.yaml), or a custom one: an SMP
    PerformanceTestConfig a bundle carried (smp.custom_profiles), added when first seen
    and ranked only on its own board."""

    id = models.CharField(max_length=64, primary_key=True)
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    protocol = models.CharField(max_length=8)
    rps = models.PositiveIntegerField(null=True, blank=True)
    connections = models.PositiveIntegerField()
    payload_bytes = models.PositiveIntegerField(default=0)
    duration_s = models.PositiveIntegerField()
    warmup_s = models.PositiveIntegerField(default=0)
    services = models.PositiveIntegerField(default=2)
    # The share of requests a mesh run may fail beyond its baseline and still be ranked.
    error_budget = models.FloatField(default=0.01)
    # fixed (scored by MeshMark) or capacity (a search under objective_p99_ms, shown as
    # the capacity a mesh keeps); smp.profiles.Profile says what each field means.
    kind = models.CharField(max_length=16, default="fixed")
    objective_p99_ms = models.FloatField(null=True, blank=True)
    search = models.JSONField(null=True, blank=True)
    keepalive = models.BooleanField(default=True)
    # None: not a real-world profile (as smp.profiles.Profile writes it).
    real_world_of = models.CharField(max_length=64, blank=True, null=True)  # noqa: DJ001
    custom = models.BooleanField(default=False)
    # For a custom profile: what defines it (its id is derived from this) and its config.
    fingerprint = models.CharField(max_length=64, blank=True)
    config = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.id} v{self.version}"


class Environment(models.Model):
    """Where runs were made, unique by what makes runs comparable."""

    fingerprint = models.CharField(max_length=64, unique=True)
    kubernetes_version = models.CharField(max_length=32, blank=True)
    node_count = models.PositiveIntegerField(default=0)
    total_cores = models.FloatField(null=True, blank=True)
    total_mem_mb = models.FloatField(null=True, blank=True)
    arch = models.CharField(max_length=32, blank=True)
    nodes = models.JSONField(default=list)
    cni = models.CharField(max_length=64, blank=True)
    kernel_version = models.CharField(max_length=64, blank=True)
    provider = models.CharField(max_length=64, blank=True)
    environment_class = models.CharField(max_length=64, db_index=True)
    # The latest calibration figure reported for this environment; each Result
    # also keeps the figure measured with it.
    calibration_probe = models.CharField(max_length=64, blank=True)
    calibration_score = models.FloatField(null=True, blank=True)
    first_seen = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.environment_class} ({self.fingerprint[:10]})"


class MeshConfig(models.Model):
    MESH_TYPE_CHOICES = [(t, t) for t in MESH_TYPES]

    mesh_type = models.CharField(max_length=32, choices=MESH_TYPE_CHOICES)
    version = models.CharField(max_length=64, blank=True)
    mtls = models.BooleanField(null=True)
    telemetry = models.BooleanField(null=True)
    policy = models.BooleanField(null=True)
    proxy_concurrency = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mesh_type", "version", "mtls", "telemetry", "policy", "proxy_concurrency"],
                name="unique_mesh_config",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        mtls = {True: "mTLS", False: "no mTLS", None: "mTLS ?"}[self.mtls]
        return f"{self.mesh_type} {self.version} ({mtls})".replace("  ", " ")


class Submission(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received"
        PROCESSING = "processing"
        ACCEPTED = "accepted"
        REJECTED = "rejected"

    class Source(models.TextChoices):
        API = "api"
        UPLOAD = "upload"

    class Kind(models.TextChoices):
        """What the bytes are meant to be: SMP results, or a Gateway API conformance report."""

        SMP = "smp"
        CONFORMANCE = "conformance"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="submissions"
    )
    token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SMP)
    # Exactly what arrived. Never modified, so any submission can be reprocessed.
    raw = models.BinaryField()
    content_type = models.CharField(max_length=255)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    # What duplicates are judged by: the sha256 of the body for a single
    # document; for multipart uploads, of the parts themselves (the boundary
    # string changes on every upload of the same files).
    content_digest = models.CharField(max_length=64)
    # NULL, not "", when absent: the unique constraint must only bind real keys.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    detected_format = models.CharField(max_length=32, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    errors = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "content_digest"], name="one_submission_per_content"
            ),
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="one_submission_per_idempotency_key",
            ),
        ]
        # The same content under any organization: duplicates and replays are one lookup.
        indexes = [models.Index(fields=["content_digest"], name="submission_content")]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


class Result(models.Model):
    """One normalized run: a baseline or a mesh run of one submission."""

    class Role(models.TextChoices):
        BASELINE = "baseline"
        MESH = "mesh"

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="results")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    run_index = models.PositiveIntegerField()
    role = models.CharField(max_length=16, choices=Role.choices)
    profile = models.ForeignKey(Profile, on_delete=models.PROTECT, related_name="results")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="results")
    # What smp-runner's `certify` said of the environment before the run (the bundle's
    # `certify.status` label): pass, warn, skipped, or "" when the bundle does not say.
    certification = models.CharField(max_length=8, blank=True, default="")
    certification_checks = models.JSONField(default=list, blank=True)
    mesh_config = models.ForeignKey(MeshConfig, on_delete=models.PROTECT, related_name="results")
    baseline = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="mesh_runs"
    )
    # A mesh run is ranked only when it passes the admission rules (docs/meshmark.md,
    # "Admission"); otherwise it is kept, scored and shown with every reason in
    # ``admission`` (field path, rule, message), the first of them in ``unranked_reason``.
    ranked = models.BooleanField(default=True)
    unranked_reason = models.TextField(blank=True)
    admission = models.JSONField(default=list, blank=True)
    is_listed = models.BooleanField(default=True)
    unlisted_reason = models.TextField(blank=True)

    load_generator = models.CharField(max_length=32, blank=True)
    load_generator_version = models.CharField(max_length=64, blank=True)
    protocol = models.CharField(max_length=8, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    latency_min_ms = models.FloatField(null=True, blank=True)
    latency_avg_ms = models.FloatField(null=True, blank=True)
    p50_ms = models.FloatField(null=True, blank=True)
    p90_ms = models.FloatField(null=True, blank=True)
    p95_ms = models.FloatField(null=True, blank=True)
    p99_ms = models.FloatField(null=True, blank=True)
    p999_ms = models.FloatField(null=True, blank=True)
    latency_max_ms = models.FloatField(null=True, blank=True)
    actual_qps = models.FloatField(null=True, blank=True)
    requested_qps = models.FloatField(null=True, blank=True)
    # Capacity profiles: the highest requested rate that met the objective (the run's
    # ``capacity.rps``); its trials stay in ``smp``.
    capacity_rps = models.FloatField(null=True, blank=True)
    request_count = models.BigIntegerField(null=True, blank=True)
    error_count = models.BigIntegerField(null=True, blank=True)
    error_rate = models.FloatField(null=True, blank=True)
    # The successful requests alone (MeshMark 2): their count and their latencies, from
    # the tool when it separates them, else bounded from the histogram, else unknown.
    ok_count = models.FloatField(null=True, blank=True)
    ok_p50_ms = models.FloatField(null=True, blank=True)
    ok_p90_ms = models.FloatField(null=True, blank=True)
    ok_p99_ms = models.FloatField(null=True, blank=True)
    ok_p999_ms = models.FloatField(null=True, blank=True)
    status_codes = models.JSONField(default=dict, blank=True)
    histogram = models.JSONField(default=list, blank=True)
    # Resources during this run, in millicores and MiB: the mesh's (sidecars,
    # gateways, control plane with telemetry and policy) and the application's.
    sidecar_count = models.PositiveIntegerField(null=True, blank=True)
    sidecar_cpu_mcores = models.FloatField(null=True, blank=True)
    sidecar_mem_mb = models.FloatField(null=True, blank=True)
    gateway_cpu_mcores = models.FloatField(null=True, blank=True)
    gateway_mem_mb = models.FloatField(null=True, blank=True)
    control_plane_cpu_mcores = models.FloatField(null=True, blank=True)
    control_plane_mem_mb = models.FloatField(null=True, blank=True)
    app_cpu_mcores = models.FloatField(null=True, blank=True)
    app_mem_mb = models.FloatField(null=True, blank=True)
    calibration_score = models.FloatField(null=True, blank=True)
    # The SMP result exactly as normalized, for exports.
    smp = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "run_index"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "run_index"], name="one_result_per_run")
        ]
        indexes = [
            models.Index(fields=["profile", "mesh_config"], name="result_profile_mesh"),
        ]

    def __str__(self) -> str:
        return f"{self.role} run {self.run_index} of {self.submission_id}"


class AuditEvent(models.Model):
    """Who did what to whom, and why: moderation and token actions, kept for good."""

    class Action(models.TextChoices):
        TOKEN_ISSUED = "token-issued"  # noqa: S105 - an action name, not a secret
        TOKEN_REVOKED = "token-revoked"  # noqa: S105
        RESULT_UNLISTED = "result-unlisted"
        RESULT_RELISTED = "result-relisted"
        ORGANIZATION_UNLISTED = "organization-unlisted"
        ORGANIZATION_RELISTED = "organization-relisted"

    action = models.CharField(max_length=32, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target = models.CharField(max_length=200)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} {self.target}"
