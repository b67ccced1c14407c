"""Bearer-token authentication and throttling for the API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from ingest import services
from ingest.models import ApiToken


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer mm_…``: an organization's token.

    ``request.auth`` is the ApiToken; ``request.user`` the user who issued it,
    or an anonymous user for tokens issued from the command line.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        secret = secret.strip()
        if not secret:
            raise exceptions.AuthenticationFailed("the Authorization header has no token")
        token = services.token_authenticate(secret=secret)
        if token is None:
            raise exceptions.AuthenticationFailed("the token is not valid")
        if not token.is_active:
            raise exceptions.AuthenticationFailed("the token was revoked")
        return token.created_by or AnonymousUser(), token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="meshmark"'


class HasOrganizationToken(permissions.BasePermission):
    message = "an organization's API token is required (Authorization: Bearer <token>)"

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiToken)


class SubmissionRateThrottle(throttling.SimpleRateThrottle):
    """Per token when there is one, per client address otherwise."""

    scope = "submissions"

    def get_cache_key(self, request: Request, view: Any) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return str(self.cache_format % {"scope": self.scope, "ident": ident})


class AnonReadThrottle(throttling.AnonRateThrottle):
    scope = "anon"


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Describes the bearer token in the OpenAPI schema (drf-spectacular finds it by target)."""

    target_class = "ingest.auth.BearerTokenAuthentication"
    name = "organizationToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organization's API token: Authorization: Bearer mm_…",
        }
