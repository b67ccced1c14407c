"""Moderation: unlisting (and relisting) results and organizations. Nothing is deleted.

An unlisted result leaves public lists and leaderboard aggregates at once:
its entries are marked unlisted and its rows refreshed, in the same call.
"""

from __future__ import annotations

from ingest import leaderboards
from ingest.models import AuditEvent, Organization, Result
from ingest.tokens import Actor, actor_user


def result_set_listed(*, result: Result, listed: bool, reason: str, actor: Actor) -> None:
    """Unlist (or relist) a result: it leaves public lists and aggregates, nothing is deleted."""
    if not listed and not reason.strip():
        raise ValueError("unlisting a result needs a reason")
    Result.objects.filter(pk=result.pk).update(
        is_listed=listed, unlisted_reason="" if listed else reason
    )
    leaderboards.leaderboards_update_for_results(result_ids=[result.pk])
    AuditEvent.objects.create(
        action=AuditEvent.Action.RESULT_RELISTED if listed else AuditEvent.Action.RESULT_UNLISTED,
        actor=actor_user(actor),
        organization_id=result.organization_id,
        target=f"result {result.pk}",
        reason=reason,
    )


def organization_set_listed(
    *, organization: Organization, listed: bool, reason: str, actor: Actor
) -> None:
    """Unlist (or relist) an organization and with it all of its results."""
    if not listed and not reason.strip():
        raise ValueError("unlisting an organization needs a reason")
    Organization.objects.filter(pk=organization.pk).update(
        is_listed=listed, unlisted_reason="" if listed else reason
    )
    result_ids = organization.submissions.values_list("results__pk", flat=True)
    leaderboards.leaderboards_update_for_results(result_ids=[i for i in result_ids if i])
    AuditEvent.objects.create(
        action=(
            AuditEvent.Action.ORGANIZATION_RELISTED
            if listed
            else AuditEvent.Action.ORGANIZATION_UNLISTED
        ),
        actor=actor_user(actor),
        organization=organization,
        target=f"organization {organization.slug}",
        reason=reason,
    )
