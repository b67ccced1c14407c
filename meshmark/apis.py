"""Public reads of results with their MeshMark, and the scoring preview."""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ingest import selectors
from ingest.apis import read_body
from ingest.models import Result, Score
from ingest.normalize import RESOURCE_COLUMNS
from ingest.reading import read_fully
from meshmark import exports, pagecache
from meshmark.exports import results_csv
from meshmark.pagination import CappedPagination
from meshmark.problems import problem_response
from meshmark.throttling import AnonReadThrottle
from scoring import FORMULA_VERSION
from scoring.preview import bundle_scores
from smp.errors import Problem
from smp.spec.export import SmpExport, export_run, to_yaml
from smp.submission import read_submission

PREVIEW_MAX_BYTES = 5 * 1024 * 1024
CSV_LIMIT = 10_000
"""Most rows one CSV export of results holds (newest first; filter to narrow it)."""


def score_dict(score: Score) -> dict[str, Any]:
    return {
        "version": score.formula_version,
        "score": score.score,
        "partial": score.partial,
        "classes": score.classes,
        "mues": score.mues,
        "missing": score.missing,
        "mue_mask": score.mue_mask,
        "figures": {
            "cpu_mcores_per_1k_rps": score.cpu_mcores_per_1k_rps,
            "mem_mb_per_proxy": score.mem_mb_per_proxy,
            "added_p99_ms": score.added_p99_ms,
            "calibration_factor": score.calibration_factor,
            "normalized": score.normalized,
        },
    }


def with_current_scores(qs: QuerySet[Result], *, listing: bool = False) -> QuerySet[Result]:
    """Prefetch each result's score of the current formula version (one extra query).

    ``listing`` is for pages that list results (a score and its partial flag each): the
    stored SMP documents, histograms and breakdowns, parsed JSON for every row, are left
    in the database (LISTING_DEFERRED).
    """
    scores = Score.objects.filter(formula_version=FORMULA_VERSION)
    if listing:
        qs = qs.defer(*LISTING_DEFERRED)
        scores = scores.only("id", "result_id", "formula_version", "score", "partial")
    return qs.prefetch_related(Prefetch("scores", queryset=scores, to_attr="current_scores"))


LISTING_DEFERRED = ("smp", "histogram", "status_codes", "environment__nodes")
"""JSON columns a list of results never shows (they are the bulk of a row's bytes)."""


class ResultOutputSerializer(serializers.ModelSerializer):
    """A public result with its current MeshMark (``meshmark`` is null for baselines
    and for mesh runs that are unranked or not yet scored)."""

    profile = serializers.CharField(source="profile_id")
    organization = serializers.CharField(source="organization.slug")
    submission = serializers.UUIDField(source="submission_id")
    baseline = serializers.IntegerField(source="baseline_id", allow_null=True)
    mesh = serializers.SerializerMethodField()
    environment = serializers.SerializerMethodField()
    latencies_ms = serializers.SerializerMethodField()
    added_latency_ms = serializers.SerializerMethodField()
    meshmark = serializers.SerializerMethodField()

    class Meta:
        model = Result
        fields = [
            "id",
            "submission",
            "organization",
            "role",
            "profile",
            "mesh",
            "environment",
            "baseline",
            "ranked",
            "unranked_reason",
            "admission",
            "certification",
            "certification_checks",
            "load_generator",
            "load_generator_version",
            "protocol",
            "start_time",
            "duration_s",
            "latencies_ms",
            "added_latency_ms",
            "actual_qps",
            "requested_qps",
            "request_count",
            "error_count",
            "error_rate",
            "status_codes",
            *RESOURCE_COLUMNS,
            "meshmark",
            "created_at",
        ]

    def get_mesh(self, obj: Result) -> dict[str, Any]:
        m = obj.mesh_config
        return {
            "type": m.mesh_type,
            "version": m.version,
            "mtls": m.mtls,
            "telemetry": m.telemetry,
            "policy": m.policy,
            "proxy_concurrency": m.proxy_concurrency,
        }

    def get_environment(self, obj: Result) -> dict[str, Any]:
        e = obj.environment
        return {
            "id": e.pk,
            "class": e.environment_class,
            "kubernetes_version": e.kubernetes_version,
            "node_count": e.node_count,
            "total_cores": e.total_cores,
        }

    def get_meshmark(self, obj: Result) -> dict[str, Any] | None:
        scores = getattr(obj, "current_scores", None)
        if scores is None:
            scores = list(obj.scores.filter(formula_version=FORMULA_VERSION))
        if not scores:
            return None
        return score_dict(scores[0])

    @extend_schema_field(
        serializers.DictField(child=serializers.FloatField(allow_null=True), allow_null=True)
    )
    def get_added_latency_ms(self, obj: Result) -> dict[str, float | None] | None:
        """What the mesh added at each percentile, mesh run minus its baseline, in ms as
        measured (all requests, not normalized); null for baselines and unpaired runs."""
        base = obj.baseline
        if base is None:
            return None
        added: dict[str, float | None] = {}
        for name in ("p50", "p90", "p99", "p999"):
            mesh_ms, base_ms = getattr(obj, f"{name}_ms"), getattr(base, f"{name}_ms")
            added[name] = None if mesh_ms is None or base_ms is None else mesh_ms - base_ms
        return added

    def get_latencies_ms(self, obj: Result) -> dict[str, float | None]:
        return {
            "min": obj.latency_min_ms,
            "average": obj.latency_avg_ms,
            "p50": obj.p50_ms,
            "p90": obj.p90_ms,
            "p95": obj.p95_ms,
            "p99": obj.p99_ms,
            "p999": obj.p999_ms,
            "max": obj.latency_max_ms,
        }


RESULT_FILTERS = [
    OpenApiParameter(name, str, description=text)
    for name, text in [
        ("mesh", "mesh type, e.g. istio"),
        ("version", "mesh version, e.g. 1.24.1"),
        ("mtls", "true or false"),
        ("profile", "standard profile id, e.g. http-1k"),
        ("environment_class", "e.g. k8s/x86_64/8-15 cores"),
        ("organization", "organization slug"),
        ("role", "baseline or mesh"),
        ("ranked", "true: runs that can be ranked; false: those kept unranked, with a reason"),
        ("since", "first day, YYYY-MM-DD"),
        ("until", "last day, YYYY-MM-DD"),
    ]
] + [
    OpenApiParameter(
        "format",
        str,
        enum=["csv"],
        description="a CSV download (at most 10,000 rows, newest first)",
    ),
    OpenApiParameter("limit", int, description="results per page (CSV: rows, at most 10,000)"),
    OpenApiParameter("offset", int, description="results to skip"),
]


LIST_COLUMNS = (
    *(
        name
        for name in ResultOutputSerializer.Meta.fields
        if name not in {"mesh", "environment", "latencies_ms", "added_latency_ms", "meshmark"}
        and name not in {"profile", "organization", "submission", "baseline"}
    ),
    "profile_id", "submission_id", "baseline_id", "organization__slug",
    "latency_min_ms", "latency_avg_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms",
    "latency_max_ms",
    *(f"baseline__{name}_ms" for name in ("p50", "p90", "p99", "p999")),
    *(f"mesh_config__{name}" for name in (
        "mesh_type", "version", "mtls", "telemetry", "policy", "proxy_concurrency"
    )),
    *(f"environment__{name}" for name in (
        "environment_class", "kubernetes_version", "node_count", "total_cores"
    )),
)  # fmt: skip
"""What the list and its CSV show: a run's document, its histogram and its baseline's
are most of a row's bytes and none of the list's, so they are not read."""


@extend_schema_serializer(component_name="PaginatedResultList")
class ResultPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ResultOutputSerializer(many=True)


class ResultListApi(APIView):
    """Public results, newest first, with filters."""

    throttle_classes = [AnonReadThrottle]

    @extend_schema(
        operation_id="v1_results_list",
        parameters=RESULT_FILTERS,
        responses={200: ResultPageSerializer, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request: Request) -> Response | HttpResponse:
        try:
            qs = with_current_scores(selectors.result_list(request.query_params))
            qs = (
                qs.select_related(None)
                .select_related("organization", "mesh_config", "environment", "baseline")
                .only(*LIST_COLUMNS)
            )
        except selectors.FilterError as exc:
            return problem_response(400, str(exc), [Problem(exc.field, "filter", str(exc))])
        if request.query_params.get("format") == "csv":
            text = request.query_params.get("limit") or str(CSV_LIMIT)
            if not text.isdigit():
                message = f"limit must be a whole number, got {text!r}"
                return problem_response(400, message, [Problem("limit", "filter", message)])
            limit = min(int(text), CSV_LIMIT)
            return results_csv(ResultOutputSerializer(qs[:limit], many=True).data)

        def page() -> Any:
            paginator = CappedPagination()
            rows = paginator.paginate_queryset(qs, request, view=self)
            return paginator.get_paginated_response(
                ResultOutputSerializer(rows, many=True).data
            ).data

        # The same page for everyone until a result, a score or a moderation decision is
        # added (as /results): served from the cache under that state and the full URL.
        state = pagecache.listing_state()
        key = pagecache.page_key("api-results", request.build_absolute_uri(), state)
        return pagecache.cached_json(key, settings.LEADERBOARD_CACHE_S, page)


EXPORT_FORMATS = {"smp-json", "smp-yaml"}
EXPORT_PARTS = ("result", "mesh_config", "environment", "test_config", "extensions")
"""``?part=``: the spec's four messages of a run, and MeshMark's extension document."""


class SmpResultExportSerializer(serializers.Serializer):
    """Schema only: ``?format=smp-json``, one SMP message of the run (docs/api.md)."""


class SmpResultExportScheme(OpenApiSerializerExtension):
    """An object that is one of the spec's messages (proto3 JSON), never a ResultOutput."""

    target_class = SmpResultExportSerializer

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {
            "type": "object",
            "description": "an smp.PerformanceTestResult, ServiceMeshConfig, EnvironmentConfig "
            "or PerformanceTestConfig in the proto3 JSON mapping, or MeshMark's extension "
            "document beside the result (docs/smp.md)",
            "properties": {"smp_version": {"type": "string"}, "extends": {"type": "string"}},
            # Every message carries smp_version, the extension document its "extends"; a
            # ResultOutput has neither, and has a submission, which no SMP message does.
            "anyOf": [{"required": ["smp_version"]}, {"required": ["extends"]}],
            "not": {"required": ["submission"]},
            "additionalProperties": True,
        }


class ResultDetailApi(APIView):
    """One public result; ``?format=smp-json`` or ``smp-yaml`` exports it as SMP: the spec's
    ``PerformanceTestResult`` (``?part=`` for its mesh, environment and test configuration,
    or MeshMark's extension document)."""

    throttle_classes = [AnonReadThrottle]

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=sorted(EXPORT_FORMATS)),
            OpenApiParameter("part", str, enum=list(EXPORT_PARTS)),
        ],
        responses={
            200: PolymorphicProxySerializer(
                component_name="ResultOrSmpExport",
                serializers=[ResultOutputSerializer, SmpResultExportSerializer],
                resource_type_field_name=None,
            ),
            (200, "application/yaml"): SmpResultExportSerializer,
        },
    )
    def get(self, request: Request, result_id: int) -> Response | HttpResponse:
        result = get_object_or_404(with_current_scores(selectors.public_results()), pk=result_id)
        export = request.query_params.get("format")
        if export is None:
            return Response(ResultOutputSerializer(result).data)
        if export not in EXPORT_FORMATS:
            message = f"format must be one of {', '.join(sorted(EXPORT_FORMATS))}, got {export!r}"
            return problem_response(400, message, [Problem("format", "enum", message)])
        part = request.query_params.get("part", "result")
        if part not in EXPORT_PARTS:
            message = f"part must be one of {', '.join(EXPORT_PARTS)}, got {part!r}"
            return problem_response(400, message, [Problem("part", "enum", message)])
        doc = smp_export(request, result).documents().get(part)
        if doc is None:
            return problem_response(404, f"this run has no {part} document")
        if export == "smp-json":
            response = HttpResponse(json.dumps(doc, indent=2), content_type="application/json")
            suffix = "json"
        else:
            response = HttpResponse(to_yaml(doc), content_type="application/yaml")
            suffix = "yaml"
        response["Content-Disposition"] = exports.attachment(
            f"meshmark-result-{result.pk}-{part}.{suffix}"
        )
        return response


def smp_export(request: Request, result: Result) -> SmpExport:
    """The run as the spec's messages, from its submission's stored bytes read again (the
    bundle as sent, not the index's normalized rows), named by the index's ids."""
    submission = result.submission
    reading = read_fully(body=bytes(submission.raw), content_type=submission.content_type)
    assert reading.bundle is not None  # an accepted submission reads back
    return export_run(
        reading.bundle,
        result.run_index,
        result_id=str(result.pk),
        mesh_config_id=f"meshmark-mesh-config-{result.mesh_config_id}",
        env_id=f"meshmark-environment-{result.environment_id}",
        details_uri=str(request.build_absolute_uri(reverse("api-result-detail", args=[result.pk]))),
    )


def finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None: JSON has no infinity, and
    extreme but valid figures (a rate of 1e-300) can divide into one."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


class ScorePreviewApi(APIView):
    """Score an SMP bundle without storing it: what MeshMark would it get?"""

    throttle_classes = [AnonReadThrottle]
    parser_classes: list[Any] = []

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT, "application/yaml": OpenApiTypes.STR},
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        body = read_body(request, PREVIEW_MAX_BYTES, "bodies are limited to {limit} bytes")
        # Read as an SMP document whatever the content type says, like the index reads it.
        report = read_submission(body, format="smp")
        if not report.ok or report.kind != "bundle" or report.bundle is None:
            problems = report.errors or [
                Problem("", "bundle", "send an SMP bundle (environment, mesh_config, runs)")
            ]
            return problem_response(400, "; ".join(p.message for p in problems), problems)
        return Response(
            {
                "formula_version": FORMULA_VERSION,
                "profile": report.bundle.profile,
                "runs": finite(bundle_scores(report.bundle)),
                "warnings": [w.as_dict() for w in report.warnings],
            }
        )
