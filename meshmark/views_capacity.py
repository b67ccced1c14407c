"""The capacity board as a page and as JSON (meshmark.capacity)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from meshmark import capacity, selectors
from meshmark.problems import problem_response
from meshmark.throttling import AnonReadThrottle
from smp.errors import Problem


def capacity_page(request: HttpRequest, profile: str) -> HttpResponse:
    try:
        board = capacity.capacity_board(profile, request.GET)
    except selectors.SelectorError as exc:
        from meshmark.views import _error_page

        return _error_page(request, exc)
    context: dict[str, Any] = {"board": board, "search": board.profile.search or {}}
    return render(request, "meshmark/capacity.html", context)


class CapacityApi(APIView):
    """A capacity profile's board: the share of the baseline's capacity each configuration
    keeps (median and 95% CI over its ranked runs), with the rates behind it."""

    throttle_classes = [AnonReadThrottle]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "environment_class", str, description="comparability group (default: largest)"
            )
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, profile: str) -> Any:
        try:
            board = capacity.capacity_board(profile, request.query_params)
        except selectors.SelectorError as exc:
            return problem_response(exc.status, str(exc), [Problem(exc.field, "filter", str(exc))])
        return Response(board.as_dict())
