"""Django admin for moderation: unlist results or organizations, with a reason on record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from ingest import moderation, tokens
from ingest.models import (
    ApiToken,
    AuditEvent,
    ConformanceReport,
    Environment,
    Membership,
    MeshConfig,
    Organization,
    Profile,
    Result,
    Submission,
)


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, min_length=3, help_text="Kept on record.")


def _with_reason(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    title: str,
    apply: Any,
) -> HttpResponse | None:
    """An admin action that asks for a reason on an intermediate page, then applies it."""
    if "apply" in request.POST:
        form = ReasonForm(request.POST)
        if form.is_valid():
            for obj in queryset:
                apply(obj, form.cleaned_data["reason"])
            modeladmin.message_user(request, f"{title}: {queryset.count()} done", messages.SUCCESS)
            return None
    else:
        form = ReasonForm()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "queryset": queryset,
        "action": request.POST.get("action"),
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/ingest/reason.html", context)


def listing_actions(what: str, keyword: str, set_listed: Callable[..., None]) -> tuple[Any, Any]:
    """The ``unlist`` (asking for a reason) and ``relist`` actions of an admin whose objects
    ``set_listed(<keyword>=obj, listed=..., reason=..., actor=...)`` moderates."""

    @admin.action(description=f"Unlist the selected {what} (with a reason)")
    def unlist(
        modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        return _with_reason(
            modeladmin,
            request,
            queryset,
            f"Unlist {what}",
            lambda obj, reason: set_listed(
                **{keyword: obj}, listed=False, reason=reason, actor=request.user
            ),
        )

    @admin.action(description=f"List the selected {what} again")
    def relist(
        modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
    ) -> None:
        for obj in queryset:
            set_listed(**{keyword: obj}, listed=True, reason="relisted", actor=request.user)

    return unlist, relist


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "is_listed", "unlisted_reason", "created_at"]
    list_filter = ["is_listed"]
    search_fields = ["slug", "name"]
    readonly_fields = ["is_listed", "unlisted_reason"]
    inlines = [MembershipInline]
    actions = ["unlist", "relist"]

    unlist, relist = listing_actions(
        "organizations", "organization", moderation.organization_set_listed
    )


@admin.register(Result)
class ResultAdmin(admin.ModelAdmin):
    list_display = ["id", "organization", "role", "profile", "mesh_config", "p99_ms", "is_listed"]
    list_filter = ["is_listed", "role", "profile", "mesh_config__mesh_type"]
    list_select_related = ["organization", "profile", "mesh_config"]
    readonly_fields = [f.name for f in Result._meta.fields]
    actions = ["unlist", "relist"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    unlist, relist = listing_actions("results", "result", moderation.result_set_listed)


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["id", "organization", "status", "detected_format", "size", "received_at"]
    list_filter = ["status", "detected_format", "source"]
    exclude = ["raw"]
    readonly_fields = [f.name for f in Submission._meta.fields if f.name != "raw"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "organization", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["organization"]
    readonly_fields = ["prefix", "digest", "created_at", "last_used_at", "revoked_at", "created_by"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are issued with `issue_token`, which shows the secret once

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            tokens.token_revoke(token=token, actor=request.user, reason="revoked in admin")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "actor", "organization", "target", "reason"]
    list_filter = ["action"]
    readonly_fields = ["created_at", "action", "actor", "organization", "target", "reason"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.register(Profile)
admin.site.register(Environment)
admin.site.register(MeshConfig)


@admin.register(ConformanceReport)
class ConformanceReportAdmin(admin.ModelAdmin):
    """Read-only: a report is derived from its submission (reprocess to change it)."""

    list_display = [
        "mesh_type",
        "mesh_version",
        "gateway_api_version",
        "organization",
        "created_at",
    ]
    list_filter = ["mesh_type", "gateway_api_version"]
    readonly_fields = [f.name for f in ConformanceReport._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
