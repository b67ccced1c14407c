"""Pages of API lists: at most MAX_LIMIT rows an answer, offsets the database can take."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

MAX_LIMIT = 1000
"""Rows one answer may hold (``?limit=``); larger asks get this many."""
MAX_OFFSET = 2**31 - 1
"""Offsets beyond this are refused (400): no list is that long, and SQL's bigint ends."""


class CappedPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def get_offset(self, request: Request) -> int:
        raw = request.query_params.get(self.offset_query_param, "")
        if raw.strip().isdigit() and int(raw) > MAX_OFFSET:
            raise ValidationError({self.offset_query_param: [f"at most {MAX_OFFSET}"]})
        return super().get_offset(request)
