"""Leaderboards and comparisons as JSON (and CSV)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseNotModified
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from meshmark import exports, selectors
from meshmark.problems import problem_response
from meshmark.throttling import AnonReadThrottle
from smp.errors import Problem

LEADERBOARD_PARAMETERS = [
    OpenApiParameter(name, str, description=text)
    for name, text in [
        (
            "environment_class",
            "comparability group, e.g. k8s/x86_64/16-31 cores (default: largest)",
        ),
        ("mesh", "mesh type, e.g. istio"),
        ("mtls", "true or false"),
        ("min_version", "lowest mesh version, e.g. 1.22"),
        ("max_version", "highest mesh version"),
        ("kubernetes_version", "Kubernetes minor version, e.g. 1.30"),
        ("since", "first day, YYYY-MM-DD"),
        ("until", "last day, YYYY-MM-DD"),
        ("certified", "true: only runs whose environment passed smp-runner certify"),
        ("format", "csv for a CSV download"),
    ]
]


RECENT_BODIES = 128
"""Rendered leaderboards each process keeps in memory (a few KB each)."""
_recent: OrderedDict[str, bytes] = OrderedDict()


def _error(exc: selectors.SelectorError) -> Response:
    return problem_response(exc.status, str(exc), [Problem(exc.field, "filter", str(exc))])


def leaderboard_dict(board: selectors.Leaderboard) -> dict[str, Any]:
    return {
        "profile": {
            "id": board.profile.pk,
            "version": board.profile.version,
            "protocol": board.profile.protocol,
            "name": board.profile.name,
        },
        "environment_class": board.environment_class,
        "formula_version": board.formula_version,
        "groups": board.groups,
        "filters": board.filters,
        "rows": [r.as_dict() for r in board.rows],
        "partial_rows": [r.as_dict() for r in board.partial_rows],
        "figures_label": "normalized to the reference machine where the environment was calibrated",
    }


class LeaderboardApi(APIView):
    """A profile's leaderboard in one comparability group: ranked rows with 95% CIs."""

    throttle_classes = [AnonReadThrottle]

    @extend_schema(
        parameters=LEADERBOARD_PARAMETERS,
        responses={200: OpenApiTypes.OBJECT, 304: None},
    )
    def get(self, request: Request, profile: str) -> Any:
        """Served from the cache while the profile's rows are unchanged, with an ETag;
        ``If-None-Match`` with that ETag answers 304 without a body."""
        params = request.query_params
        if params.get("format") == "csv":
            try:
                return exports.leaderboard_csv(selectors.leaderboard_cached(profile, params))
            except selectors.SelectorError as exc:
                return _error(exc)
        etag = f'"{selectors.leaderboard_state(profile, params)}"'
        if request.headers.get("If-None-Match") == etag:
            response: HttpResponse = HttpResponseNotModified()
        else:
            key = f"meshmark:leaderboard-json:{etag}"
            # This process's own copy first (the key names the content, so it can
            # never be stale), then the shared cache, then the database.
            body = _recent.get(key) or cache.get(key)
            if body is None:
                try:
                    board = selectors.leaderboard(profile, params)
                except selectors.SelectorError as exc:
                    return _error(exc)
                body = JSONRenderer().render(leaderboard_dict(board))
                cache.set(key, body, settings.LEADERBOARD_CACHE_S)
            _recent[key] = body
            _recent.move_to_end(key)
            while len(_recent) > RECENT_BODIES:
                _recent.popitem(last=False)
            response = HttpResponse(body, content_type="application/json")
        response["ETag"] = etag
        response["Cache-Control"] = "public, no-cache"  # may be stored; revalidate with the ETag
        return response


class CompareApi(APIView):
    """Two or more configurations side by side, with a significance test and effect size."""

    throttle_classes = [AnonReadThrottle]

    @extend_schema(
        parameters=[
            OpenApiParameter("profile", str, required=True),
            OpenApiParameter("configs", str, required=True, description="mesh config ids: 3,7"),
            OpenApiParameter("environment_class", str),
        ],
        responses={
            200: OpenApiTypes.OBJECT,
            404: OpenApiResponse(description="an unknown profile or configuration"),
            409: OpenApiResponse(description="the configurations share no comparability group"),
        },
    )
    def get(self, request: Request) -> Response:
        try:
            comparison = selectors.compare(request.query_params)
        except selectors.SelectorError as exc:
            return _error(exc)
        return Response(
            {
                "profile": comparison.profile.pk,
                "environment_class": comparison.environment_class,
                "rows": [r.as_dict() for r in comparison.rows],
                "tests": comparison.tests,
                "latency_curves_ms": {str(k): v for k, v in comparison.curves.items()},
            }
        )
