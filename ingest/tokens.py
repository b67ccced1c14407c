"""Organizations and their API tokens: issue, revoke, authenticate.

A token's secret is shown once and never stored: the row keeps its public
prefix and a SHA-256 digest, compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
from typing import Any, NamedTuple

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
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
    # The request's user is the token's creator: read with it, not after it.
    token = _token_with_owners(parts[1])
    if token is None or not hmac.compare_digest(token.digest, _digest(secret)):
        return None
    now = timezone.now()
    if token.revoked_at is None and (
        token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def _token_with_owners(prefix: str) -> ApiToken | None:
    """The token of this prefix with its organization and its issuer, as
    ``ApiToken.objects.select_related("organization", "created_by").filter(prefix=...)``
    gives them, from SQL built once per database (:func:`_owners_query`).

    Every authenticated request asks this; compiling that queryset and building three
    model instances through the ORM took 0.9 ms, most of a request's own work (the
    query itself, 0.26 ms). tests/ingest/test_token_lookup.py holds the two equal.
    """
    query = _owners_query(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(query.sql, [prefix])
        row = cursor.fetchone()
    return None if row is None else query.build(row)


class _OwnersQuery(NamedTuple):
    sql: str
    parts: tuple[tuple[type[Model], list[str], list[list[Any]]], ...]
    """Per model (token, organization, user): its columns' attribute names in order, and
    each column's converters from what the driver returns to what the model holds."""

    def build(self, row: tuple[Any, ...]) -> ApiToken:
        made: list[Model | None] = []
        at = 0
        for model, names, converters in self.parts:
            values = list(row[at : at + len(names)])
            at += len(names)
            if values[0] is None:  # the issuer's primary key: a token from the command line
                made.append(None)
                continue
            for i, funcs in enumerate(converters):
                for convert in funcs:
                    values[i] = convert(values[i], None, connection)
            made.append(model.from_db(connection.alias, names, values))
        token, organization, user = made
        assert isinstance(token, ApiToken)
        ApiToken._meta.get_field("organization").set_cached_value(token, organization)
        ApiToken._meta.get_field("created_by").set_cached_value(token, user)
        return token


@functools.cache
def _owners_query(vendor: str) -> _OwnersQuery:
    quote = connection.ops.quote_name
    models: list[tuple[type[Model], str]] = [(ApiToken, "t"), (Organization, "o"), (User, "u")]
    columns, parts = [], []
    for model, alias in models:
        fields = model._meta.concrete_fields
        columns += [f"{alias}.{quote(str(f.column))}" for f in fields]
        parts.append(
            (
                model,
                [f.attname for f in fields],
                [
                    connection.ops.get_db_converters(f.get_col(alias))
                    + f.get_db_converters(connection)
                    for f in fields
                ],
            )
        )
    token, org, user = (m._meta for m, _ in models)
    on_org = f"o.{quote(str(org.pk.column))} = t.{quote('organization_id')}"
    on_user = f"u.{quote(str(user.pk.column))} = t.{quote('created_by_id')}"
    sql = (  # names come from the models; the prefix is a parameter
        f"SELECT {', '.join(columns)} FROM {quote(token.db_table)} t"  # noqa: S608
        f" JOIN {quote(org.db_table)} o ON {on_org}"
        f" LEFT JOIN {quote(user.db_table)} u ON {on_user}"
        " WHERE t.prefix = %s"
    )
    return _OwnersQuery(sql, tuple(parts))


def actor_user(actor: Actor) -> User | None:
    return actor if isinstance(actor, User) else None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
