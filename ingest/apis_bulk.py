"""``POST /api/v1/submissions/bulk``: many bundles in one call, each answered on its own."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ingest import bulk, submissions
from ingest.apis import read_body
from ingest.auth import SUBMISSION_THROTTLES, BearerTokenAuthentication, HasOrganizationToken
from ingest.errors import Refusal
from ingest.models import ApiToken

# Declared with inline_serializer: a field named "errors" cannot be a class
# attribute of a Serializer (it would hide Serializer.errors).
BULK_ITEM = inline_serializer(
    name="BulkItem",
    fields={
        "index": serializers.IntegerField(),
        "status": serializers.IntegerField(help_text="HTTP status a single upload would get"),
        "id": serializers.UUIDField(),
        "submission_status": serializers.CharField(),
        "url": serializers.URLField(),
        "duplicate": serializers.BooleanField(),
        "errors": serializers.ListField(child=serializers.DictField(), required=False),
    },
)


class SubmissionBulkApi(APIView):
    """Accept up to SUBMISSION_BULK_MAX_ITEMS bundles as NDJSON or a JSON array.

    Every bundle becomes its own submission, stored verbatim (its own bytes
    out of the envelope) and judged on its own: ``items[i]`` answers bundle i
    with the status a single upload would have had (202 queued, 200 duplicate,
    400/415 refused with its errors). The call answers 202 when it
    queued anything, else 200; a broken envelope is refused whole (400).
    """

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasOrganizationToken]
    throttle_classes = SUBMISSION_THROTTLES
    parser_classes: list[Any] = []  # read raw: each item is stored byte for byte

    @extend_schema_serializer(component_name="BulkCreated")
    class OutputSerializer(serializers.Serializer):
        accepted = serializers.IntegerField(help_text="bundles queued for processing")
        duplicates = serializers.IntegerField()
        refused = serializers.IntegerField()
        items = serializers.ListField(child=BULK_ITEM)

    @extend_schema(
        request={"application/x-ndjson": OpenApiTypes.STR, "application/json": OpenApiTypes.OBJECT},
        responses={
            202: OutputSerializer,
            200: OutputSerializer,
            415: OpenApiResponse(description="a content type other than NDJSON or JSON"),
        },
    )
    def post(self, request: Request) -> Response:
        body = read_body(
            request,
            settings.SUBMISSION_BULK_MAX_BYTES,
            "bulk bodies are limited to {limit} bytes; split them",
        )
        try:
            items = bulk.split(
                body, request.META.get("CONTENT_TYPE", ""), settings.SUBMISSION_BULK_MAX_ITEMS
            )
        except bulk.EnvelopeError as exc:
            raise Refusal(
                415 if exc.unsupported else 400,
                "; ".join(p.message for p in exc.problems),
                exc.problems,
            ) from None
        token = request.auth
        assert isinstance(token, ApiToken)  # HasOrganizationToken let the request in
        outcomes = submissions.submissions_create_bulk(
            organization=token.organization, items=items, token=token
        )
        out = [self._item(request, outcome) for outcome in outcomes]
        accepted = sum(1 for item in out if item["status"] == 202)
        duplicates = sum(1 for item in out if item["status"] == 200)
        body_out = {
            "accepted": accepted,
            "duplicates": duplicates,
            "refused": len(out) - accepted - duplicates,
            "items": out,
        }
        return Response(body_out, status=202 if accepted else 200)

    @staticmethod
    def _item(request: Request, outcome: submissions.BulkOutcome) -> dict[str, Any]:
        submission = outcome.submission
        item: dict[str, Any] = {
            "index": outcome.index,
            "status": 202 if outcome.created else 200,
            "id": str(submission.pk),
            "submission_status": submission.status,
            "url": request.build_absolute_uri(
                reverse("api-submission-detail", args=[submission.pk])
            ),
            "duplicate": not outcome.created,
        }
        if outcome.refusal is not None:
            item["status"] = outcome.refusal.status
            item["errors"] = [p.as_dict() for p in outcome.refusal.problems]
        return item
