"""A mesh's release trend as JSON: ``GET /api/v1/meshes/{mesh}/trend?profile=...``."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from meshmark import conformance, pagecache, trends
from meshmark.apis_leaderboards import _error
from meshmark.selectors import SelectorError
from meshmark.throttling import AnonReadThrottle
from scoring.trends import (
    MIN_CLIFFS_DELTA,
    MIN_EFFECT_POINTS,
    MIN_RUNS,
    RULE_VERSION,
    TREND_ALPHA,
)
from smp.versions import release_key


@extend_schema_serializer(component_name="TrendPoint")
class PointSerializer(serializers.Serializer):
    mesh_config_id = serializers.IntegerField()
    version = serializers.CharField()
    median = serializers.FloatField()
    ci_low = serializers.FloatField(allow_null=True, help_text="null for one run")
    ci_high = serializers.FloatField(allow_null=True, help_text="null for one run")
    results = serializers.IntegerField()
    added_p99_ms = serializers.FloatField(allow_null=True)
    cpu_mcores_per_1k_rps = serializers.FloatField(allow_null=True)
    mem_mb_per_proxy = serializers.FloatField(allow_null=True)
    normalized = serializers.BooleanField()
    last_at = serializers.DateTimeField()
    board_url = serializers.CharField()


@extend_schema_serializer(component_name="TrendStep")
class StepSerializer(serializers.Serializer):
    from_version = serializers.CharField()
    to_version = serializers.CharField()
    from_config = serializers.IntegerField()
    to_config = serializers.IntegerField()
    verdict = serializers.ChoiceField(
        choices=["regression", "improvement", "no-change", "not-enough-runs"]
    )
    n_before = serializers.IntegerField()
    n_after = serializers.IntegerField()
    median_before = serializers.FloatField(allow_null=True)
    median_after = serializers.FloatField(allow_null=True)
    median_diff = serializers.FloatField(allow_null=True)
    diff_low = serializers.FloatField(allow_null=True)
    diff_high = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    cliffs_delta = serializers.FloatField(allow_null=True)
    reason = serializers.CharField()


@extend_schema_serializer(component_name="TrendSeries")
class SeriesSerializer(serializers.Serializer):
    mtls = serializers.BooleanField(allow_null=True)
    telemetry = serializers.BooleanField(allow_null=True)
    policy = serializers.BooleanField(allow_null=True)
    proxy_concurrency = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()  # type: ignore[assignment]  # a field named "label"
    points = PointSerializer(many=True)
    steps = StepSerializer(many=True)


@extend_schema_serializer(component_name="TrendGroup")
class GroupSerializer(serializers.Serializer):
    profile = serializers.CharField()
    profile_version = serializers.IntegerField()
    protocol = serializers.CharField()
    environment_class = serializers.CharField()
    results = serializers.IntegerField()
    versions = serializers.ListField(child=serializers.CharField())
    unreleased_versions = serializers.ListField(child=serializers.CharField())
    series = SeriesSerializer(many=True)


@extend_schema_serializer(component_name="MeshTrend")
class MeshTrendSerializer(serializers.Serializer):
    mesh = serializers.CharField()
    formula_version = serializers.CharField()
    profile = serializers.CharField(allow_null=True)
    profiles = serializers.ListField(child=serializers.CharField())
    rule = serializers.DictField()
    groups = GroupSerializer(many=True)


class MeshTrendApi(APIView):
    """Median MeshMark per released version with its 95% interval, the figures beside it,
    and a change verdict between consecutive releases, for each environment class of one
    profile (docs/meshmark.md, "Release trends")."""

    throttle_classes = [AnonReadThrottle]

    OutputSerializer = MeshTrendSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "profile", str, description="standard profile id (default: the mesh's busiest)"
            ),
            OpenApiParameter("environment_class", str, description="narrow to one group"),
        ],
        responses={200: OutputSerializer},
    )
    def get(self, request: Request, mesh: str) -> Response | HttpResponse:
        params = request.query_params
        profile, env = params.get("profile") or None, params.get("environment_class") or None
        try:
            mesh_type = trends.check_mesh(mesh)
        except SelectorError as exc:
            return _error(exc)
        # Served from the cache while the mesh's rows are unchanged (their state is the key):
        # the trend is read and judged only on a miss.
        key = pagecache.page_key("trend-api", mesh_type, profile, env, trends.mesh_state(mesh_type))
        cached = cache.get(key)
        if cached is not None:
            return HttpResponse(cached, content_type="application/json")
        try:
            trend = trends.mesh_trend(mesh_type, profile_id=profile, environment_class=env)
        except SelectorError as exc:
            return _error(exc)
        body = {
            "mesh": trend.mesh_type,
            "formula_version": trend.formula_version,
            "profile": trend.profile_id,
            "profiles": trend.profiles,
            "rule": {
                "version": RULE_VERSION,
                "alpha": TREND_ALPHA,
                "min_runs": MIN_RUNS,
                "min_cliffs_delta": MIN_CLIFFS_DELTA,
                "min_effect_points": MIN_EFFECT_POINTS,
            },
            "groups": [g.as_dict() for g in trend.groups],
        }
        rendered = JSONRenderer().render(self.OutputSerializer(body).data)
        cache.set(key, rendered, settings.TREND_CACHE_S)
        return HttpResponse(rendered, content_type="application/json")


@extend_schema_serializer(component_name="ConformanceProfile")
class ConformanceProfileSerializer(serializers.Serializer):
    name = serializers.CharField(
        help_text="MESH-HTTP or MESH-GRPC (MESH before v1.1 reads MESH-HTTP)"
    )
    reported_name = serializers.CharField()
    passed = serializers.BooleanField(help_text="every core test passed")
    core_result = serializers.CharField()
    core_passed = serializers.IntegerField()
    core_failed = serializers.IntegerField()
    core_skipped = serializers.IntegerField()
    extended_result = serializers.CharField(allow_null=True)
    extended_passed = serializers.IntegerField(allow_null=True)
    extended_failed = serializers.IntegerField(allow_null=True)
    extended_skipped = serializers.IntegerField(allow_null=True)
    supported_features = serializers.ListField(child=serializers.CharField())
    unsupported_features = serializers.ListField(child=serializers.CharField())
    skipped_tests = serializers.ListField(child=serializers.CharField())
    failed_tests = serializers.ListField(child=serializers.CharField())


@extend_schema_serializer(component_name="ConformanceReport")
class ConformanceReportSerializer(serializers.Serializer):
    mesh_type = serializers.CharField()
    mesh_version = serializers.CharField(help_text="1.24 covers every 1.24.x")
    reported_version = serializers.CharField(allow_blank=True)
    project = serializers.CharField(allow_blank=True)
    gateway_api_version = serializers.CharField(allow_blank=True)
    gateway_api_channel = serializers.CharField(allow_blank=True)
    mode = serializers.CharField(allow_blank=True)
    date = serializers.CharField(allow_blank=True)
    submission = serializers.UUIDField()
    profiles = ConformanceProfileSerializer(many=True)
    other_profiles = serializers.ListField(child=serializers.CharField())


@extend_schema_serializer(component_name="MeshConformance")
class MeshConformanceSerializer(serializers.Serializer):
    mesh = serializers.CharField()
    reports = ConformanceReportSerializer(many=True)


class MeshConformanceApi(APIView):
    """The accepted Gateway API conformance reports of a mesh, newest release first; with
    ``version``, only the one shown for that version (docs/meshmark.md, "Capabilities")."""

    throttle_classes = [AnonReadThrottle]

    @extend_schema(
        parameters=[OpenApiParameter("version", str, description="a mesh version, e.g. 1.24.1")],
        responses={200: MeshConformanceSerializer},
    )
    def get(self, request: Request, mesh: str) -> Response | HttpResponse:
        try:
            mesh_type = trends.check_mesh(mesh)
        except SelectorError as exc:
            return _error(exc)
        version = request.query_params.get("version")
        key = pagecache.page_key("conformance-api", mesh_type, version, conformance.reports_state())
        cached = cache.get(key)
        if cached is not None:
            return HttpResponse(cached, content_type="application/json")
        reports = conformance.public_reports([mesh_type])
        if version:
            found = conformance.capability_for(reports, mesh_type, version)
            shown = [found] if found else []
        else:
            shown = [conformance.Capability.of(r) for r in reports]
            shown.sort(key=lambda c: release_key(c.report.mesh_version) or (), reverse=True)
        body = {"mesh": mesh_type, "reports": [c.as_dict() for c in shown]}
        rendered = JSONRenderer().render(MeshConformanceSerializer(body).data)
        cache.set(key, rendered, settings.TREND_CACHE_S)
        return HttpResponse(rendered, content_type="application/json")
