"""Organizations and their API tokens: issue, revoke, authenticate.

A token's secret is shown once and never stored: the row keeps its public
prefix and a SHA-256 digest, compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.utils import timezone

from ingest.models import ApiToken, AuditEvent, Organization

Actor = User | AnonymousUser | None
"""Who acts: a signed-in user, or nobody (the command line, an anonymous request)."""

TOKEN_PREFIX = "mm_"  # noqa: S105 - the public prefix of every token
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
"""``last_used_at`` is written at most this often per token, not on every request."""


def organization_create(*, slug: str, name: str | None = None) -> Organization:
    return Organization.objects.create(slug=slug, name=name or slug)


def token_issue(
    *,
    organization: Organization,
    name: str = "default",
    created_by: Actor = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the secret, which is never stored or shown again."""
    for _ in range(5):
        prefix = secrets.token_hex(4)
        secret = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(30)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    organization=organization,
                    name=name,
                    prefix=prefix,
                    digest=_digest(secret),
                    created_by=actor_user(created_by),
                )
        except IntegrityError:  # prefix collision: 1 in 4 billion, try again
            continue
        AuditEvent.objects.create(
            action=AuditEvent.Action.TOKEN_ISSUED,
            actor=actor_user(created_by),
            organization=organization,
            target=str(token),
        )
        return token, secret
    raise RuntimeError("could not find a free token prefix")


def token_revoke(*, token: ApiToken, actor: Actor = None, reason: str = "") -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    AuditEvent.objects.create(
        action=AuditEvent.Action.TOKEN_REVOKED,
        actor=actor_user(actor),
        organization=token.organization,
        target=str(token),
        reason=reason,
    )


def token_authenticate(*, secret: str) -> ApiToken | None:
    """The token ``secret`` belongs to, revoked or not; None when it matches none.

    The digest comparison is constant-time, so timing says nothing about how
    much of a guess was right.
    """
    parts = secret.split("_")
    if len(parts) < 3 or not secret.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("organization", "created_by")
        .filter(prefix=parts[1])
        .first()
    )  # the request's user is the token's creator: read with it, not after it
    if token is None or not hmac.compare_digest(token.digest, _digest(secret)):
        return None
    now = timezone.now()
    if token.revoked_at is None and (
        token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def actor_user(actor: Actor) -> User | None:
    return actor if isinstance(actor, User) else None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
