"""What the read side stores: MeshMark scores of mesh runs, one per formula version."""

from __future__ import annotations

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
        constraints = [
            models.UniqueConstraint(
                fields=["result", "formula_version"], name="one_score_per_version"
            )
        ]
        indexes = [models.Index(fields=["formula_version", "result"], name="score_version_result")]

    def __str__(self) -> str:
        return f"{self.formula_version} {self.score} for result {self.result_id}"
