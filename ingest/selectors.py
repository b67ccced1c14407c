"""Reads for the ingest API: what is public, and who may see a submission."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from ingest.models import ApiToken, Environment, MeshConfig, Result, Submission


class FilterError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def submissions_stuck(*, older_than_s: int | None = None) -> Iterator[Any]:
    """Ids of submissions still ``received``, or ``processing``, for longer than
    ``older_than_s`` seconds (SUBMISSION_STALE_AFTER_S by default)."""
    age = older_than_s if older_than_s is not None else settings.SUBMISSION_STALE_AFTER_S
    cutoff = timezone.now() - dt.timedelta(seconds=age)
    return (
        Submission.objects.filter(
            Q(status=Submission.Status.RECEIVED, received_at__lt=cutoff)
            | Q(status=Submission.Status.PROCESSING, processing_started_at__lt=cutoff)
        )
        .values_list("pk", flat=True)
        .iterator()
    )


def public_results() -> QuerySet[Result]:
    """Results anyone may see: accepted, listed, from a listed organization."""
    return Result.objects.filter(
        submission__status=Submission.Status.ACCEPTED,
        is_listed=True,
        organization__is_listed=True,
    ).select_related("profile", "environment", "mesh_config", "organization", "baseline")


def _date(field: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError(field, f"{field} must be a date like 2026-01-31, got {value!r}") from None


def _bool(field: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise FilterError(field, f"{field} must be true or false, got {value!r}")


def result_list(filters: Mapping[str, str]) -> QuerySet[Result]:
    """Public results filtered by the API's query parameters."""
    qs = public_results()
    if value := filters.get("mesh"):
        qs = qs.filter(mesh_config__mesh_type=value.lower())
    if value := filters.get("version"):
        qs = qs.filter(mesh_config__version=value)
    if value := filters.get("mtls"):
        qs = qs.filter(mesh_config__mtls=_bool("mtls", value))
    if value := filters.get("profile"):
        qs = qs.filter(profile_id=value)
    if value := filters.get("environment_class"):
        qs = qs.filter(environment__environment_class=value)
    if value := filters.get("organization"):
        qs = qs.filter(organization__slug=value)
    if value := filters.get("ranked"):
        qs = qs.filter(ranked=_bool("ranked", value))
    if value := filters.get("role"):
        if value not in Result.Role.values:
            raise FilterError("role", f"role must be baseline or mesh, got {value!r}")
        qs = qs.filter(role=value)
    if value := filters.get("since"):
        qs = qs.filter(created_at__date__gte=_date("since", value))
    if value := filters.get("until"):
        qs = qs.filter(created_at__date__lte=_date("until", value))
    return qs.order_by("-created_at", "-id")


def submission_visible_to(submission: Submission, *, user: Any, token: Any) -> bool:
    """Organizations see their own submissions; staff see all."""
    if isinstance(token, ApiToken):
        return token.organization_id == submission.organization_id
    if user is not None and getattr(user, "is_authenticated", False):
        if user.is_staff:
            return True
        return bool(submission.organization.members.filter(pk=user.pk).exists())
    return False


def mesh_list() -> QuerySet[MeshConfig]:
    return (
        MeshConfig.objects.annotate(
            result_count=Count("results", filter=Q(results__in=public_results()))
        )
        .filter(result_count__gt=0)
        .order_by("mesh_type", "version", "mtls")
    )


def environment_list() -> QuerySet[Environment]:
    return (
        Environment.objects.annotate(
            result_count=Count("results", filter=Q(results__in=public_results()))
        )
        .filter(result_count__gt=0)
        .order_by("environment_class", "id")
    )
