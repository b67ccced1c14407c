"""A token is read with its organization and issuer from SQL built once
(ingest.tokens._token_with_owners); what it gives must be what the ORM's
``select_related`` gives, with nothing left to load later."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import Model

from ingest import tokens
from ingest.models import ApiToken, Organization

pytestmark = pytest.mark.django_db


def fields(obj: Model | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


@pytest.mark.parametrize("issuer", ["user", "command line"])
def test_the_token_its_organization_and_issuer_are_what_the_orm_reads(
    org: Organization, issuer: str, django_assert_num_queries: Any
) -> None:
    user = None
    if issuer == "user":
        user = User.objects.create_user("ana", "ana@example.org", "pw", first_name="Ana")
    token, secret = tokens.token_issue(organization=org, name="ci", created_by=user)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=None)
    expected = ApiToken.objects.select_related("organization", "created_by").get(pk=token.pk)

    with django_assert_num_queries(1):
        found = tokens._token_with_owners(token.prefix)
        assert found is not None
        organization, created_by = found.organization, found.created_by  # no query

    assert fields(found) == fields(expected)
    assert fields(organization) == fields(expected.organization)
    assert fields(created_by) == fields(expected.created_by)
    assert (created_by is None) is (issuer == "command line")
    assert found._state.adding is False and found._state.db == "default"

    authenticated = tokens.token_authenticate(secret=secret)
    assert authenticated is not None and authenticated.pk == token.pk
    assert authenticated.last_used_at is not None  # written on first use, as before


def test_an_unknown_prefix_or_a_wrong_secret_finds_nothing(org: Organization) -> None:
    _, secret = tokens.token_issue(organization=org, name="ci")
    assert tokens._token_with_owners("nosuch00") is None
    assert tokens.token_authenticate(secret=secret[:-2] + "xx") is None
    assert tokens.token_authenticate(secret=f"mm_nosuch00_{secret.split('_', 2)[2]}") is None
