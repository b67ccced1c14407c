"""What the write side derives from accepted results: MeshMark scores and leaderboard aggregates.

A Score is written in the transaction that accepts its result, together with
its LeaderboardEntry and a PendingRefresh mark for the row the entry belongs
to; the LeaderboardRow is recomputed right after that transaction commits
(:mod:`ingest.leaderboards`). The tables keep the names they had when these
models lived in the ``meshmark`` app (``db_table``), so moving them kept every
stored score.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class Score(models.Model):
    """A mesh run's MeshMark under one formula version, with its breakdown.

    A new formula version adds rows; the old ones stay, so leaderboards of the
    previous version remain readable while the new one is computed.
    """

    result = models.ForeignKey("ingest.Result", on_delete=models.CASCADE, related_name="scores")
    formula_version = models.CharField(max_length=32)
    # None when the pair cannot be scored (no p50 or p99 on one side).
    score = models.FloatField(null=True, blank=True)
    partial = models.BooleanField(default=False)
    # Bit i set when MUE i was present; only scores with equal masks are ranked together.
    mue_mask = models.PositiveIntegerField(default=0)
    classes = models.JSONField(default=dict)
    mues = models.JSONField(default=dict)
    missing = models.JSONField(default=list)
    # The absolute figures shown beside the score, on the reference machine when
    # the environment was calibrated (``normalized``), else as measured.
    cpu_mcores_per_1k_rps = models.FloatField(null=True, blank=True)
    mem_mb_per_proxy = models.FloatField(null=True, blank=True)
    added_p99_ms = models.FloatField(null=True, blank=True)
    calibration_factor = models.FloatField(null=True, blank=True)
    normalized = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "meshmark_score"
        constraints = [
            models.UniqueConstraint(
                fields=["result", "formula_version"], name="one_score_per_version"
            )
        ]
        indexes = [models.Index(fields=["formula_version", "result"], name="score_version_result")]

    def __str__(self) -> str:
        return f"{self.formula_version} {self.score} for result {self.result_id}"


class RowKeyed(models.Model):
    """The key of a leaderboard row, shared by its entries, the row and its refresh marks:
    formula version, profile, environment class, mesh configuration, and whether the
    scores are complete (complete and partial scores are ranked apart)."""

    KEY_FIELDS: ClassVar[tuple[str, ...]] = (
        "formula_version",
        "profile_id",
        "environment_class",
        "mesh_config_id",
        "complete",
    )

    formula_version = models.CharField(max_length=32)
    profile = models.ForeignKey("ingest.Profile", on_delete=models.CASCADE, related_name="+")
    environment_class = models.CharField(max_length=64)
    mesh_config = models.ForeignKey("ingest.MeshConfig", on_delete=models.CASCADE, related_name="+")
    complete = models.BooleanField()

    class Meta:
        abstract = True


class LeaderboardEntry(RowKeyed):
    """One scored mesh run as a leaderboard sees it: its group keys and figures.

    A narrow, indexed copy of what aggregation needs, so building or filtering
    a leaderboard reads only its own group's entries, never all results.
    ``complete`` is True when every MeshMark class was scored; complete and
    partial scores are ranked apart (docs/meshmark.md, missing figures).
    """

    score = models.OneToOneField(Score, on_delete=models.CASCADE, related_name="entry")
    result = models.ForeignKey("ingest.Result", on_delete=models.CASCADE, related_name="+")
    profile_version = models.PositiveIntegerField()
    protocol = models.CharField(max_length=8)
    organization_id = models.BigIntegerField()
    environment_id = models.BigIntegerField()
    submission_id = models.UUIDField()
    kubernetes_version = models.CharField(max_length=32, blank=True)
    # The environment passed smp-runner's certify (pass or warn) before the run.
    certified = models.BooleanField(default=False)
    value = models.FloatField()
    added_p99_ms = models.FloatField(null=True)
    cpu_mcores_per_1k_rps = models.FloatField(null=True)
    mem_mb_per_proxy = models.FloatField(null=True)
    normalized = models.BooleanField(default=False)
    listed = models.BooleanField(default=True)
    # Flagged by the robust z-score of its row; kept, never deleted, left out of aggregates.
    is_outlier = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "meshmark_leaderboardentry"
        indexes = [
            models.Index(
                fields=["formula_version", "profile", "environment_class", "mesh_config"],
                name="entry_group",
            )
        ]

    def __str__(self) -> str:
        return f"{self.value:.1f} for result {self.result_id} in {self.profile_id}"


class LeaderboardRow(RowKeyed):
    """The aggregate of one mesh configuration within one comparability group."""

    profile_version = models.PositiveIntegerField()
    protocol = models.CharField(max_length=8)
    results = models.PositiveIntegerField()
    submissions = models.PositiveIntegerField()
    organizations = models.PositiveIntegerField()
    environments = models.PositiveIntegerField()
    outliers = models.PositiveIntegerField()
    median = models.FloatField()
    ci_low = models.FloatField()
    ci_high = models.FloatField()
    added_p99_ms = models.FloatField(null=True)
    cpu_mcores_per_1k_rps = models.FloatField(null=True)
    mem_mb_per_proxy = models.FloatField(null=True)
    # True when every figure above came from calibrated environments.
    normalized = models.BooleanField(default=False)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "meshmark_leaderboardrow"
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "formula_version",
                    "profile",
                    "environment_class",
                    "mesh_config",
                    "complete",
                ],
                name="one_row_per_config_and_group",
            )
        ]
        indexes = [
            models.Index(
                fields=["formula_version", "profile", "environment_class"], name="row_group"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.profile_id}/{self.environment_class}: {self.mesh_config_id} {self.median:.1f}"
        )


class PendingRefresh(RowKeyed):
    """A leaderboard row whose entries changed and that awaits its refresh.

    Written in the transaction that changes the entries, deleted by the
    transaction that recomputes the row (:mod:`ingest.leaderboards`). Append-only,
    with no unique key, so concurrent writers never wait on each other here.
    """

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "meshmark_pendingrefresh"

    def __str__(self) -> str:
        return f"refresh {self.profile_id}/{self.environment_class}/{self.mesh_config_id}"
