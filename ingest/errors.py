"""How the submission API refuses a request: a status, a sentence, and every problem by path.

Views raise :class:`Refusal`; the project's exception handler
(``meshmark.problems``) renders it as ``application/problem+json``, like every
other API error, so this app states what is wrong and not how errors look.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import APIException

from smp.errors import Problem


class Refusal(APIException):
    """A refused request. ``extra`` adds members to the problem document (e.g. the
    stored, rejected ``submission`` and its ``url``); ``headers`` go on the answer."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        problems: Iterable[Problem] = (),
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.problems = list(problems)
        self.headers = headers or {}
        self.extra = extra


@extend_schema_serializer(component_name="ProblemDetail")
class ProblemDetailSerializer(serializers.Serializer):
    """One problem: where (field path), which rule, and why."""

    path = serializers.CharField(allow_blank=True)
    rule = serializers.CharField()
    message = serializers.CharField()
