"""An organization's API tokens, managed by its members on the web: issue, see, revoke.

No shell on the server is needed to start submitting: a signed-in member names a
token, sees its secret once (the response is never cached), and can see each
token's prefix and last use and revoke it; every issue and revocation goes to
the audit log through the same services the command line uses.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ingest import tokens
from ingest.forms import TokenCreateForm
from ingest.models import ApiToken, AuditEvent, Organization

ISSUED_KEY = "meshmark:issued-token"
HISTORY = 20
"""Audit events of the organization's tokens shown on the page (newest first)."""


def _organization_for(request: HttpRequest, slug: str) -> Organization:
    """The organization, if the signed-in user belongs to it (staff see all); 404 otherwise,
    so the page does not tell strangers which organizations exist."""
    user = request.user
    assert isinstance(user, User)  # login_required let the request in
    if user.is_staff:
        return get_object_or_404(Organization, slug=slug)
    organization = Organization.objects.filter(slug=slug, membership__user=user).first()
    if organization is None:
        raise Http404("no such organization")
    return organization


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization_for(request, slug)
    form = TokenCreateForm()
    status = 200
    if request.method == "POST":
        form = TokenCreateForm(request.POST)
        if form.is_valid():
            token, secret = tokens.token_issue(
                organization=organization,
                name=form.cleaned_data["name"],
                created_by=request.user,
            )
            # Post/redirect/get: reloading the page must not issue a second token. The
            # secret waits in the session only until the page that shows it once.
            request.session[ISSUED_KEY] = {"id": token.pk, "secret": secret}
            return redirect("token-list", slug=organization.slug)
        status = 400
    issued: tuple[ApiToken, str] | None = None
    waiting = request.session.pop(ISSUED_KEY, None)
    if waiting is not None:
        shown = organization.tokens.filter(pk=waiting["id"]).first()
        issued = (shown, waiting["secret"]) if shown is not None else None
    context = {
        "organization": organization,
        "tokens": organization.tokens.select_related("created_by").order_by(
            "revoked_at", "-created_at"
        ),
        "form": form,
        "issued": issued,
        "history": AuditEvent.objects.filter(
            organization=organization,
            action__in=[AuditEvent.Action.TOKEN_ISSUED, AuditEvent.Action.TOKEN_REVOKED],
        ).select_related("actor")[:HISTORY],
        "prefix": tokens.TOKEN_PREFIX,
    }
    return render(request, "ingest/tokens.html", context, status=status)


@login_required
@require_http_methods(["POST"])
def token_revoke(request: HttpRequest, slug: str, token_id: int) -> HttpResponse:
    organization = _organization_for(request, slug)
    token = get_object_or_404(ApiToken, pk=token_id, organization=organization)
    if token.revoked_at is None:
        tokens.token_revoke(
            token=token,
            actor=request.user,
            reason=f"revoked on the web by {request.user}",
        )
    return redirect("token-list", slug=organization.slug)
