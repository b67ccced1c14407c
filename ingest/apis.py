"""The submission API (``/api/v1/``): thin views over services and selectors."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import authentication, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ingest import selectors, submissions
from ingest.auth import (
    SUBMISSION_THROTTLES,
    BearerTokenAuthentication,
    HasOrganizationToken,
)
from ingest.errors import ProblemDetailSerializer, Refusal
from ingest.models import ApiToken, Environment, MeshConfig, Profile, Submission
from smp.errors import Problem

IDEMPOTENCY_HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_IDEMPOTENCY_KEY = 255


def _absolute(request: Request, path: str) -> str:
    return str(request.build_absolute_uri(path))


def _submission_url(request: Request, submission: Submission) -> str:
    return _absolute(request, reverse("api-submission-detail", args=[submission.pk]))


def read_body(request: Request, limit: int, hint: str) -> bytes:
    """The raw body; a 413 Refusal naming ``limit`` (``hint`` may use ``{limit}``).

    The declared length is checked before anything is read; Django itself
    refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE while reading.
    """
    too_big = Refusal(
        413,
        f"the body is larger than the limit of {limit} bytes",
        [Problem("", "max-size", hint.format(limit=limit))],
    )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_big
    try:
        body: bytes = request._request.body
    except RequestDataTooBig:
        raise too_big from None
    if len(body) > limit:
        raise too_big
    return body


class SubmissionCreateApi(APIView):
    """Accept a submission: store it verbatim, queue it, answer 202."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasOrganizationToken]
    throttle_classes = SUBMISSION_THROTTLES
    parser_classes: list[Any] = []  # the body is read raw and kept byte for byte
    kind: str = Submission.Kind.SMP
    what = "an SMP bundle"

    @extend_schema_serializer(component_name="SubmissionCreated")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        status = serializers.CharField()
        url = serializers.URLField()
        duplicate = serializers.BooleanField()

    @extend_schema(
        request={
            "application/json": OpenApiTypes.OBJECT,
            "application/yaml": OpenApiTypes.STR,
            "multipart/form-data": OpenApiTypes.OBJECT,
        },
        responses={
            202: OutputSerializer,
            200: OutputSerializer,
            415: OpenApiResponse(description="not a submission (a hint names native outputs)"),
        },
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def post(self, request: Request) -> Response:
        body = read_body(
            request, settings.SUBMISSION_MAX_BYTES, "bodies are limited to {limit} bytes"
        )
        if not body.strip():
            raise Refusal(400, "the body is empty", [Problem("", "required", f"send {self.what}")])
        key = request.META.get(IDEMPOTENCY_HEADER, "").strip() or None
        if key and len(key) > MAX_IDEMPOTENCY_KEY:
            raise Refusal(
                400,
                "the Idempotency-Key header is too long",
                [Problem("Idempotency-Key", "max-length", f"at most {MAX_IDEMPOTENCY_KEY} chars")],
            )
        token = request.auth
        assert isinstance(token, ApiToken)  # HasOrganizationToken let the request in
        try:
            submission, created = submissions.submission_create(
                organization=token.organization,
                body=body,
                content_type=request.META.get("CONTENT_TYPE", ""),
                token=token,
                idempotency_key=key,
                kind=self.kind,
            )
        except submissions.SubmissionRefused as refused:
            sub = refused.submission
            problems = [Problem(**e) for e in sub.errors]
            raise Refusal(
                refused.status,
                "; ".join(p.message for p in problems),
                problems,
                submission={"id": str(sub.pk), "status": sub.status},
                url=_submission_url(request, sub),
            ) from None
        body_out = {
            "id": submission.pk,
            "status": submission.status,
            "url": _submission_url(request, submission),
            "duplicate": not created,
        }
        response = Response(self.OutputSerializer(body_out).data, status=202 if created else 200)
        response["Location"] = _submission_url(request, submission)
        return response


class ConformanceCreateApi(SubmissionCreateApi):
    """Accept a Gateway API ConformanceReport of a mesh: stored verbatim, queued, answered 202.

    The body is the report's YAML (or JSON), or a ``multipart/form-data`` form with the
    report as the ``report`` file and ``mesh_type`` / ``mesh_version`` fields when its
    project or version does not name a mesh release. Follow it at the returned URL,
    like any submission: accepted, or rejected with every problem by path.
    """

    kind = Submission.Kind.CONFORMANCE
    what = "a Gateway API ConformanceReport (YAML)"

    @extend_schema(
        operation_id="v1_conformance_create",
        request={
            "application/yaml": OpenApiTypes.STR,
            "application/json": OpenApiTypes.OBJECT,
            "multipart/form-data": OpenApiTypes.OBJECT,
        },
        responses={
            202: SubmissionCreateApi.OutputSerializer,
            200: SubmissionCreateApi.OutputSerializer,
            415: OpenApiResponse(description="not a ConformanceReport (SMI exports are refused)"),
        },
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class SubmissionDetailApi(APIView):
    """A submission's status, every error, and the results it produced."""

    authentication_classes = [BearerTokenAuthentication, authentication.SessionAuthentication]

    @extend_schema_serializer(component_name="SubmissionStatus")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="ResultRef")
        class ResultRefSerializer(serializers.Serializer):
            id = serializers.IntegerField()
            role = serializers.CharField()
            ranked = serializers.BooleanField()
            unranked_reason = serializers.CharField(allow_blank=True)
            url = serializers.URLField()

        id = serializers.UUIDField()
        status = serializers.CharField()
        kind = serializers.ChoiceField(choices=Submission.Kind.values)
        organization = serializers.CharField()
        detected_format = serializers.CharField(allow_blank=True)
        size = serializers.IntegerField()
        sha256 = serializers.CharField()
        received_at = serializers.DateTimeField()
        processed_at = serializers.DateTimeField(allow_null=True)
        errors = ProblemDetailSerializer(many=True)  # type: ignore[assignment]
        warnings = ProblemDetailSerializer(many=True)
        results = ResultRefSerializer(many=True)

    @extend_schema(responses={200: OutputSerializer, 404: OpenApiResponse(description="unknown")})
    def get(self, request: Request, submission_id: str) -> Response:
        submission = get_object_or_404(
            Submission.objects.select_related("organization"), pk=submission_id
        )
        # Someone else's submission answers 404, not 403: its existence is private too.
        if not selectors.submission_visible_to(submission, user=request.user, token=request.auth):
            raise Refusal(404, "no such submission")
        results = [
            {
                "id": r.pk,
                "role": r.role,
                "ranked": r.ranked,
                "unranked_reason": r.unranked_reason,
                "url": _absolute(request, reverse("api-result-detail", args=[r.pk])),
            }
            for r in submission.results.order_by("run_index")
        ]
        data = {
            "id": submission.pk,
            "status": submission.status,
            "kind": submission.kind,
            "organization": submission.organization.slug,
            "detected_format": submission.detected_format,
            "size": submission.size,
            "sha256": submission.sha256,
            "received_at": submission.received_at,
            "processed_at": submission.processed_at,
            "errors": submission.errors,
            "warnings": submission.warnings,
            "results": results,
        }
        return Response(self.OutputSerializer(data).data)


class ProfileListApi(APIView):
    """The standard test profiles."""

    @extend_schema_serializer(component_name="Profile")
    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = Profile
            fields = [
                "id",
                "version",
                "name",
                "description",
                "protocol",
                "rps",
                "connections",
                "payload_bytes",
                "duration_s",
                "warmup_s",
                "services",
                "error_budget",
            ]

    @extend_schema(responses={200: OutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(Profile.objects.filter(custom=False), many=True).data)


class MeshListApi(APIView):
    """Mesh configurations that have public results."""

    @extend_schema_serializer(component_name="MeshConfiguration")
    class OutputSerializer(serializers.ModelSerializer):
        result_count = serializers.IntegerField()

        class Meta:
            model = MeshConfig
            fields = [
                "id",
                "mesh_type",
                "version",
                "mtls",
                "telemetry",
                "policy",
                "proxy_concurrency",
                "result_count",
            ]

    @extend_schema(responses={200: OutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(selectors.mesh_list(), many=True).data)


class EnvironmentListApi(APIView):
    """Environments that have public results."""

    @extend_schema_serializer(component_name="Environment")
    class OutputSerializer(serializers.ModelSerializer):
        result_count = serializers.IntegerField()

        class Meta:
            model = Environment
            fields = [
                "id",
                "environment_class",
                "kubernetes_version",
                "node_count",
                "total_cores",
                "total_mem_mb",
                "arch",
                "cni",
                "kernel_version",
                "provider",
                "calibration_probe",
                "calibration_score",
                "result_count",
            ]

    @extend_schema(responses={200: OutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(selectors.environment_list(), many=True).data)
