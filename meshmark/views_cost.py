"""The cost page: ``/cost``, a fleet in the query string, every configuration of a board priced."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode

from ingest.models import Profile
from meshmark import cost, pagecache, selectors
from meshmark.apis_cost import read_input
from meshmark.views import _error_page, _params
from scoring import NORMALIZED_LABEL

FIELDS = (
    ("rps", "Requests per second", "through the mesh, all services together", "1"),
    ("pods", "Meshed pods", "pods with a sidecar", "1"),
    ("clusters", "Clusters", "each runs a control plane", "1"),
    ("usd_per_vcpu_hour", "$ per vCPU-hour", "", "0.0001"),
    ("usd_per_gib_hour", "$ per GiB-hour", "", "0.0001"),
    ("calibration_score", "Your calibration (optional)", "meshmark-cpu/1 ops/s", "1"),
)


def cost_page(request: HttpRequest) -> HttpResponse:
    params = _params(request)
    values, problems = read_input(params)
    if values is None:
        context = {
            "problems": problems,
            "fields": _fields(params, None),
            "profiles": Profile.objects.all(),
            "selected_profile": params.get("profile"),
        }
        body = render_to_string("meshmark/_cost_body.html", context, request)
        return render(request, "meshmark/cost.html", {"body": body}, status=400)
    # The same figures against the same boards give the same page body: cached under both.
    key = cost.answer_key("cost-page", {**values, "query": sorted(params.items())})
    try:
        body = pagecache.cached_body(
            key, settings.LEADERBOARD_CACHE_S, lambda: _cost_body(request, params, values)
        )
    except selectors.SelectorError as exc:
        return _error_page(request, exc)
    return render(request, "meshmark/cost.html", {"body": body})


def _cost_body(request: HttpRequest, params: dict[str, str], values: dict[str, Any]) -> str:
    board = cost.cost_board_for(values)
    kept = {k: v for k, v in params.items() if k not in ("profile", "environment_class")}
    suggestion = None
    if board.suggested_profile and board.suggested_profile != board.profile.pk:
        suggestion = {
            "profile": board.suggested_profile,
            "url": f"{reverse('cost')}?{urlencode({**kept, 'profile': board.suggested_profile})}",
        }
    context = {
        "board": board,
        "fields": _fields(params, board),
        "profiles": Profile.objects.all(),
        "suggestion": suggestion,
        "narrowed": bool(values.get("configs") or values.get("mesh")),
        "all_url": f"{reverse('cost')}?"
        + urlencode({k: v for k, v in params.items() if k not in ("configs", "mesh")}),
        "board_url": reverse("leaderboard", args=[board.profile.pk])
        + "?"
        + urlencode({"environment_class": board.environment_class or ""}),
        "api_url": f"{reverse('api-cost')}?{urlencode(params)}",
        "normalized_label": NORMALIZED_LABEL,
        "selected_profile": params.get("profile"),
        "hidden": {k: params[k] for k in ("configs", "mesh") if k in params},
    }
    return render_to_string("meshmark/_cost_body.html", context, request)


def _fields(params: dict[str, str], board: cost.CostBoard | None) -> list[dict[str, Any]]:
    """The form's inputs: what the user typed, else the example value, marked as one."""
    out = []
    for name, label, help_text, step in FIELDS:
        example = getattr(cost.DEFAULT_FLEET, name)
        given = params.get(name)
        out.append(
            {
                "name": name,
                "label": label,
                "help": help_text,
                "step": step,
                "value": given if given is not None else ("" if example is None else example),
                "example": given is None and example is not None,
            }
        )
    return out
