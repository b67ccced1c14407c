"""Cost projection as JSON: ``GET /api/v1/cost?rps=...`` or ``POST /api/v1/cost`` (a JSON body).

The page (:mod:`meshmark.views_cost`) reads its query string through the same
:class:`CostInputSerializer`, so a bad figure gets the same error on both.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from meshmark import cost, selectors
from meshmark.problems import problem_response
from meshmark.throttling import AnonReadThrottle
from scoring.cost import HOURS_PER_MONTH, Fleet, check_fleet
from smp.errors import Problem

BAD_REQUEST_TITLE = "The request is not valid"


@extend_schema_serializer(component_name="CostInput")
class CostInputSerializer(serializers.Serializer):
    """The fleet; every figure left out takes the example value (and is listed in ``defaults``)."""

    profile = serializers.CharField(
        required=False, help_text="board profile (default: the one nearest your rate per pod)"
    )
    environment_class = serializers.CharField(
        required=False, help_text="board group (default: the profile's largest)"
    )
    rps = serializers.FloatField(
        required=False, min_value=0, max_value=1e9, help_text="requests/s through the mesh"
    )
    pods = serializers.FloatField(
        required=False, min_value=0, max_value=1e8, help_text="meshed pods (sidecars)"
    )
    clusters = serializers.FloatField(required=False, min_value=0, max_value=1e5)
    usd_per_vcpu_hour = serializers.FloatField(required=False, min_value=0, max_value=1000)
    usd_per_gib_hour = serializers.FloatField(required=False, min_value=0, max_value=1000)
    calibration_score = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=1e-6,
        max_value=1e9,
        help_text="your machines' meshmark-cpu/1 score (ops/s) from smp-runner calibrate",
    )
    configs = serializers.CharField(
        required=False, help_text="only these configuration ids, comma-separated: 3,7"
    )
    mesh = serializers.CharField(required=False, help_text="only this mesh type")

    def validate_configs(self, value: str) -> list[int]:
        try:
            ids = [int(part) for part in value.split(",") if part.strip()]
        except ValueError:
            raise serializers.ValidationError(
                f"configs must be comma-separated ids, e.g. 3,7; got {value!r}"
            ) from None
        return ids


def read_input(data: Any) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The validated input (with the fleet built and its defaults named), or every problem.

    A query string's empty fields (a form's blank inputs) count as left out.
    """
    if hasattr(data, "getlist"):
        data = {key: data.get(key) for key in data if data.get(key, "").strip()}
    serializer = CostInputSerializer(data=data)
    if not serializer.is_valid():
        problems = []
        for name, errors in serializer.errors.items():
            path = "" if name == "non_field_errors" else name
            for error in errors:
                rule = getattr(error, "code", "invalid").replace("_", "-")
                problems.append(Problem(path, rule, f"{path or 'body'}: {error}"))
        return None, problems
    values: dict[str, Any] = dict(serializer.validated_data)
    defaults = [
        name
        for name in cost.FLEET_FIELDS
        if name != "calibration_score" and values.get(name) is None
    ]
    fleet = Fleet(
        **{
            name: values[name]
            if values.get(name) is not None
            else getattr(cost.DEFAULT_FLEET, name)
            for name in cost.FLEET_FIELDS
        }
    )
    problems = [Problem(name, "finite", message) for name, message in check_fleet(fleet)]
    if problems:
        return None, problems
    values.update(fleet=fleet, defaults=defaults)
    return values, []


def cost_dict(board: cost.CostBoard) -> dict[str, Any]:
    fleet = board.fleet
    return {
        "profile": {
            "id": board.profile.pk,
            "version": board.profile.version,
            "protocol": board.profile.protocol,
            "rps": board.profile.rps,
        },
        "environment_class": board.environment_class,
        "groups": board.groups,
        "fleet": {
            "rps": fleet.rps,
            "pods": fleet.pods,
            "clusters": fleet.clusters,
            "usd_per_vcpu_hour": fleet.usd_per_vcpu_hour,
            "usd_per_gib_hour": fleet.usd_per_gib_hour,
            "calibration_score": fleet.calibration_score,
            "speed_factor": fleet.speed_factor,
        },
        "defaults": board.defaults,
        "hours_per_month": HOURS_PER_MONTH,
        "rate_per_pod": board.rate_per_pod,
        "suggested_profile": board.suggested_profile,
        "assumptions": board.assumptions,
        "configurations": [
            {
                "mesh_config_id": c.row.mesh_config_id,
                "label": c.row.label,
                "mesh_type": c.row.mesh_type,
                "mesh_version": c.row.mesh_version,
                "mtls": c.row.mtls,
                "meshmark": {
                    "median": c.row.median,
                    "ci_low": c.row.ci_low if c.row.results > 1 else None,
                    "ci_high": c.row.ci_high if c.row.results > 1 else None,
                    "results": c.row.results,
                },
                **c.projection.to_dict(),
            }
            for c in board.rows
        ],
    }


@extend_schema_serializer(component_name="CostEstimate")
class EstimateSerializer(serializers.Serializer):
    median = serializers.FloatField()
    low = serializers.FloatField(allow_null=True, help_text="null for one run")
    high = serializers.FloatField(allow_null=True, help_text="null for one run")
    n = serializers.IntegerField()


@extend_schema_serializer(component_name="CostConfiguration")
class CostConfigurationSerializer(serializers.Serializer):
    mesh_config_id = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named "label"
    mesh_type = serializers.CharField()
    mesh_version = serializers.CharField(allow_blank=True)
    mtls = serializers.BooleanField(allow_null=True)
    meshmark = serializers.DictField()
    vcpu = EstimateSerializer(allow_null=True)
    gib = EstimateSerializer(allow_null=True)
    usd_per_month = EstimateSerializer(allow_null=True)
    added_p99_ms = EstimateSerializer(allow_null=True)
    runs = serializers.IntegerField()
    runs_without_control_plane = serializers.IntegerField()


@extend_schema_serializer(component_name="CostProjection")
class CostOutputSerializer(serializers.Serializer):
    profile = serializers.DictField()
    environment_class = serializers.CharField(allow_null=True)
    groups = serializers.ListField(child=serializers.DictField())
    fleet = serializers.DictField()
    defaults = serializers.ListField(
        child=serializers.CharField(), help_text="fields that took the example value"
    )
    hours_per_month = serializers.FloatField()
    rate_per_pod = serializers.FloatField(allow_null=True)
    suggested_profile = serializers.CharField(allow_null=True)
    assumptions = serializers.ListField(child=serializers.CharField())
    configurations = CostConfigurationSerializer(many=True)


UNKNOWN_PROFILE = OpenApiResponse(description="an unknown profile")
COST_PARAMETERS = [
    OpenApiParameter(
        name,
        float if isinstance(field, serializers.FloatField) else str,
        description=str(field.help_text or ""),
    )
    for name, field in CostInputSerializer().fields.items()
]


class CostApi(APIView):
    """What each configuration of a board would cost your fleet: extra vCPU, GiB, $ per
    month (median of the runs' projections with a 95% interval) and added p99, cheapest
    first, with the assumptions written out (docs/meshmark.md, "Cost projection")."""

    throttle_classes = [AnonReadThrottle]

    def _answer(self, data: Any) -> Response | HttpResponse:
        values, problems = read_input(data)
        if values is None:
            return problem_response(
                400, "; ".join(p.message for p in problems), problems, title=BAD_REQUEST_TITLE
            )
        # The same figures against the same boards give the same answer: cached under both.
        key = cost.answer_key("cost-api", values)
        body = cache.get(key)
        if body is None:
            try:
                board = cost.cost_board_for(values)
            except selectors.SelectorError as exc:
                problem = Problem(exc.field, "filter", str(exc))
                return problem_response(exc.status, str(exc), [problem])
            body = JSONRenderer().render(CostOutputSerializer(cost_dict(board)).data)
            cache.set(key, body, settings.LEADERBOARD_CACHE_S)
        return HttpResponse(body, content_type="application/json")

    @extend_schema(
        operation_id="v1_cost_retrieve",
        parameters=COST_PARAMETERS,
        responses={200: CostOutputSerializer, 404: UNKNOWN_PROFILE},
    )
    def get(self, request: Request) -> Response | HttpResponse:
        return self._answer(request.query_params)

    @extend_schema(
        operation_id="v1_cost_create",
        request=CostInputSerializer,
        responses={200: CostOutputSerializer, 404: UNKNOWN_PROFILE},
    )
    def post(self, request: Request) -> Response | HttpResponse:
        return self._answer(request.data)
