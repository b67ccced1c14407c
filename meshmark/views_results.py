"""``/results``: every public result, filtered and paged newest first.

Pages are cut by a key (the last result shown), not an offset, so page 1,000 of a
million results costs what page 1 does, and a total is never counted.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode

from ingest import selectors as ingest_selectors
from ingest.models import Environment, Profile, Result
from meshmark import pagecache
from meshmark.apis import with_current_scores
from meshmark.selectors import SelectorError
from meshmark.views import _error_page, _params
from smp.model import MESH_TYPES

PAGE_SIZE = 50
FILTERS = (
    "mesh",
    "version",
    "mtls",
    "profile",
    "organization",
    "environment_class",
    "ranked",
    "role",
    "since",
    "until",
)


def result_browser(request: HttpRequest) -> HttpResponse:
    params = _params(request)
    filters = {k: v for k, v in params.items() if k in FILTERS}
    role = filters.get("role", "mesh")
    query = {**filters, "role": role}
    if role == "all":
        query.pop("role")
    try:
        results = ingest_selectors.result_list(query)  # built, not run: bad filters raise here
        results = _after(results, params.get("before"))
    except ingest_selectors.FilterError as exc:
        return _error_page(request, SelectorError(exc.field, str(exc)))
    # The same page for everyone until a result, a score or a moderation decision is added:
    # the rendered body is cached under that state and these parameters.
    key = pagecache.page_key(
        "results", json.dumps(sorted(params.items())), pagecache.listing_state()
    )

    def build() -> str:
        page = list(with_current_scores(results, listing=True)[: PAGE_SIZE + 1])
        more, page = len(page) > PAGE_SIZE, page[:PAGE_SIZE]
        base = reverse("result-browser")
        context = {
            "results": page,
            "filters": {**filters, "role": role},
            "next_url": f"{base}?{urlencode({**filters, 'before': str(page[-1].pk)})}"
            if more
            else None,
            "first_url": f"{base}?{urlencode(filters)}" if "before" in params else None,
            "api_url": f"{reverse('api-result-list')}?{urlencode(query)}",
            "csv_url": f"{reverse('api-result-list')}?{urlencode({**query, 'format': 'csv'})}",
            "mesh_types": [t for t in MESH_TYPES if t != "none"],
            "profiles": Profile.objects.values_list("id", flat=True),
            "environment_classes": Environment.objects.order_by("environment_class")
            .values_list("environment_class", flat=True)
            .distinct(),
            "page_size": PAGE_SIZE,
            "show_org": True,
            "show_env": True,
            "show_role": role != "mesh",
        }
        return render_to_string("meshmark/_results_body.html", context, request)

    body = pagecache.cached_body(key, settings.LEADERBOARD_CACHE_S, build)
    return render(request, "meshmark/results.html", {"body": body})


def _after(results: Any, before: str | None) -> Any:
    """The results older than result ``before`` in the listing's order (newest first)."""
    if not before:
        return results
    if not before.isdigit():
        raise ingest_selectors.FilterError("before", f"before must be a result id, got {before!r}")
    found = Result.objects.filter(pk=int(before)).values_list("created_at", flat=True).first()
    if found is None:
        raise ingest_selectors.FilterError("before", f"before: no result with id {before}")
    return results.filter(Q(created_at__lt=found) | Q(created_at=found, pk__lt=int(before)))
