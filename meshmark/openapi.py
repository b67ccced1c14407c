"""The OpenAPI schema documents every problem response an operation can give.

Views describe their successful answers with ``extend_schema``; the error answers
(``application/problem+json``, see ``meshmark.problems``) follow from what the view
is, so they are added here rather than repeated on every view:

| status | documented when the operation |
|---|---|
| 400 | always (a path or query with a control character), a bad filter, a bad body |
| 401 | accepts a bearer token (a wrong or revoked one is refused) |
| 403 | accepts a session on an unsafe method (CSRF) |
| 404 | has path parameters (an unknown id) |
| 413 | takes a body (``SUBMISSION_MAX_BYTES``) |
| 429 | is throttled; the answer carries ``Retry-After`` |

A view adds the others it answers (415, 409, ...) in ``extend_schema(responses=...)``,
for instance as ``OpenApiResponse(description=...)``; any 4xx documented without a
body gets the problem body here.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import authentication, serializers

from ingest.errors import ProblemDetailSerializer
from meshmark.problems import PROBLEM_CONTENT_TYPE, TITLES

DESCRIPTIONS = {
    400: "The request is not valid; `errors` lists every problem by field path and rule.",
    401: "No token, a wrong token or a revoked token.",
    403: "Not allowed (for a signed-in session: a missing CSRF token).",
    404: "No such object (or one the caller may not see).",
    409: "The request conflicts with the data (e.g. configurations with no common group).",
    413: "The body is larger than the limit.",
    415: "The content type or the document is not accepted.",
    429: "Too many requests; retry after `Retry-After` seconds.",
}
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@extend_schema_serializer(component_name="ProblemSubmission")
class ProblemSubmissionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()


@extend_schema_serializer(component_name="ProblemResponse")
class ProblemResponseSerializer(serializers.Serializer):
    """An error answer (RFC 9457 ``application/problem+json``)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField(allow_blank=True)
    errors = ProblemDetailSerializer(many=True)  # type: ignore[assignment]
    submission = ProblemSubmissionSerializer(
        required=False, help_text="the stored, rejected submission, for a refused body"
    )
    url = serializers.URLField(required=False)


class ProblemAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus the problem responses the view can give."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses: dict[str, Any] = operation["responses"]
        for status in sorted(self._problem_statuses(operation)):
            responses.setdefault(str(status), {"description": DESCRIPTIONS.get(status, "")})
        for code, response in responses.items():
            if code.startswith("4") and not response.get("content"):
                self._fill_problem(int(code), response)
        return operation

    def _problem_statuses(self, operation: dict[str, Any]) -> set[int]:
        # Every operation: a path or query holding a control character is refused
        # (meshmark.middleware.QueryPolicyMiddleware), besides bad filters and bodies.
        statuses: set[int] = {400}
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation
        if has_body:
            statuses.add(413)
        if any(p.get("in") == "path" for p in parameters):
            statuses.add(404)
        authenticators = self.view.get_authenticators()
        if any(not isinstance(a, authentication.SessionAuthentication) for a in authenticators):
            statuses.add(401)
        if self.method in UNSAFE_METHODS and any(
            isinstance(a, authentication.SessionAuthentication) for a in authenticators
        ):
            statuses.add(403)
        if self.view.get_throttles():
            statuses.add(429)
        return statuses

    def _fill_problem(self, status: int, response: dict[str, Any]) -> None:
        component = self.resolve_serializer(ProblemResponseSerializer(), "response")
        response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": component.ref}}
        if not response.get("description"):
            response["description"] = DESCRIPTIONS.get(status, TITLES.get(status, ""))
        headers = response.setdefault("headers", {})
        if status == 429:
            headers["Retry-After"] = {
                "schema": {"type": "integer", "minimum": 0},
                "required": True,
                "description": "seconds until the next request is allowed",
            }
        if status == 401:
            headers["WWW-Authenticate"] = {
                "schema": {"type": "string"},
                "required": True,
                "description": 'Bearer realm="meshmark"',
            }
        if not headers:
            del response["headers"]
