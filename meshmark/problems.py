"""Errors as ``application/problem+json`` (RFC 9457), listing every problem by path."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ingest.errors import Refusal
from smp.errors import Problem

PROBLEM_CONTENT_TYPE = "application/problem+json"
TITLES = {
    400: "The submission is not valid",
    401: "Authentication required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    413: "The body is too large",
    415: "Unsupported format",
    429: "Too many requests",
    503: "Service unavailable",
}


class ProblemJSONRenderer(JSONRenderer):
    media_type = PROBLEM_CONTENT_TYPE


class ProblemResponse(Response):
    """Rendered as JSON whatever the view renders otherwise (the YAML schema, CSV)."""

    @property
    def rendered_content(self) -> Any:
        self.accepted_renderer = ProblemJSONRenderer()
        self.accepted_media_type = PROBLEM_CONTENT_TYPE
        return super().rendered_content


def problem_response(
    status_code: int,
    detail: str,
    problems: Iterable[Problem] = (),
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "errors": [p.as_dict() for p in problems],
        **extra,
    }
    response = ProblemResponse(body, status=status_code, headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 (``handler404``), as a problem for the API: no route matched the path,
    e.g. ``/api/v1/results/abc``. Pages keep the HTML page."""
    if not request.path.startswith("/api/"):
        return defaults.page_not_found(request, exception)
    body = {
        "type": "about:blank",
        "title": TITLES[404],
        "status": 404,
        "detail": f"no such resource: {request.path}",
        "errors": [],
    }
    return JsonResponse(body, status=404, content_type=PROBLEM_CONTENT_TYPE)


def _flatten(detail: Any, path: str = "") -> list[Problem]:
    if isinstance(detail, dict):
        out: list[Problem] = []
        for key, value in detail.items():
            out.extend(_flatten(value, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(detail, list):
        out = []
        for value in detail:
            out.extend(_flatten(value, path))
        return out
    code = getattr(detail, "code", "invalid")
    return [Problem(path, str(code), str(detail))]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``): every API error
    as a problem document, a view's :class:`~ingest.errors.Refusal` with its problems."""
    if isinstance(exc, Refusal):
        return problem_response(
            exc.status_code, str(exc.detail), exc.problems, headers=exc.headers, **exc.extra
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    problems: list[Problem] = []
    if isinstance(exc, exceptions.ValidationError):
        problems = _flatten(exc.detail)
        detail = "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in problems)
    elif isinstance(exc, exceptions.APIException):
        detail = str(exc.detail)
    else:
        detail = str(exc)
    headers = {
        k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")
    }
    problem = problem_response(response.status_code, detail, problems, headers=headers)
    if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in headers:
        problem["WWW-Authenticate"] = 'Bearer realm="meshmark"'
    return problem
