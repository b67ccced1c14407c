"""Public pages, rendered on the server from the same selectors as the API.

Charts read their numbers from JSON embedded in the page (``json_script``), so a
page is one request plus static files and shows exactly what the API answers.
Tables work without JavaScript; ``?sort=`` sorts on the server, and
``static/meshmark/tables.js`` sorts in the browser when JavaScript is on.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from ingest.models import (
    Environment,
    LeaderboardEntry,
    LeaderboardRow,
    Organization,
    Profile,
    Result,
    Score,
    Submission,
)
from ingest.selectors import public_results
from meshmark import conformance, exports, pagecache, selectors
from meshmark.apis import with_current_scores
from meshmark.capacity import capacity_board, capacity_chart
from meshmark.cost import cost_url
from meshmark.presentation import (
    LATENCY_POINTS,
    SORT_COLUMNS,
    board_chart,
    breakdown,
    calibration_factor,
    cliffs_delta_words,
    figures_label,
    histogram_points,
    latencies,
    methodology_html,
    p_value_text,
    resources,
    sorted_rows,
)
from meshmark.standing import standings
from scoring import FORMULA_VERSION, NORMALIZED_LABEL
from scoring.admission import SEED_LABEL
from scoring.engine import MUE_NAMES
from scoring.normalize import RAW_LABEL
from smp.conformance import MESH_PROFILES
from smp.model import MESH_TYPES
from smp.profiles import CAPACITY

HOME_TOP = 3
"""Rows of each leaderboard shown on the home page."""
RECENT = 10
"""Recent mesh runs on the home page."""
LIST_LIMIT = 100
"""Results listed on an organization or environment page (newest first)."""

FILTER_PARAMS = (
    "environment_class",
    "formula_version",
    *selectors.ROW_FILTERS,
    *selectors.ENTRY_FILTERS,
)
# The direction a first click sorts in: best or biggest first.
DESCENDING_FIRST = {"median", "results", "submissions", "organizations", "environments"}
RAW_TYPES = {
    "application/json": "json",
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
    "multipart/form-data": "multipart",
}
"""Stored content types served as they are; anything else is served as octet-stream."""


def _params(request: HttpRequest) -> dict[str, str]:
    """The query string's non-empty parameters (the last value of a repeated one)."""
    params = {key: (request.GET.get(key) or "").strip() for key in request.GET}
    return {key: value for key, value in params.items() if value}


def _error_page(request: HttpRequest, exc: selectors.SelectorError) -> HttpResponse:
    titles = {404: "Not found", 409: "Not comparable"}
    context = {
        "title": titles.get(exc.status, "Bad request"),
        "message": str(exc),
        "field": exc.field,
        "status": exc.status,
    }
    return render(request, "meshmark/error.html", context, status=exc.status)


# Home


def home(request: HttpRequest) -> HttpResponse:
    ranked = set(
        LeaderboardRow.objects.filter(formula_version=FORMULA_VERSION)
        .values_list("profile_id", flat=True)
        .distinct()
    )
    # One board per standard profile with results: bounded by the profile list, not the data.
    boards = [
        (
            profile,
            selectors.leaderboard(profile.pk, {}) if profile.pk in ranked else None,
            capacity_board(profile, {}) if profile.kind == CAPACITY else None,
        )
        for profile in Profile.objects.filter(custom=False)
    ]

    def busy(entry: tuple[Profile, Any, Any]) -> int:
        _, board, capacity = entry
        if capacity is not None:
            return -sum(n for _, n in capacity.groups)
        return -sum(g["results"] for g in board.groups) if board else 0

    # Profiles with results first, the busiest first; the rest in id order.
    boards.sort(key=busy)
    recent = with_current_scores(
        public_results().filter(role=Result.Role.MESH).order_by("-created_at", "-id"),
        listing=True,
    )[:RECENT]
    context = {
        "boards": boards,
        "recent": list(recent),
        "top": HOME_TOP,
        "formula_version": FORMULA_VERSION,
    }
    return render(request, "home.html", context)


# Leaderboard


def _partial_missing(board: selectors.Leaderboard) -> dict[int, list[str]]:
    """What each partial row's scores lack (MUE names), in one query."""
    if not board.partial_rows:
        return {}
    entries = LeaderboardEntry.objects.filter(
        formula_version=board.formula_version,
        profile=board.profile,
        environment_class=board.environment_class,
        mesh_config_id__in=[r.mesh_config_id for r in board.partial_rows],
        complete=False,
        listed=True,
    ).values_list("mesh_config_id", "score__missing")
    missing: dict[int, set[str]] = {}
    for config_id, names in entries:
        missing.setdefault(config_id, set()).update(names or [])
    return {
        config_id: [name for name in MUE_NAMES if name in names]
        for config_id, names in missing.items()
    }


def leaderboard(request: HttpRequest, profile: str) -> HttpResponse:
    params = _params(request)
    try:
        board = selectors.leaderboard_cached(profile, params)
    except selectors.SelectorError as exc:
        return _error_page(request, exc)
    if board.profile.kind == CAPACITY:
        # A capacity profile ranks the capacity kept, not MeshMark: its own board.
        target = reverse("capacity-board", args=[profile])
        return redirect(f"{target}?{request.GET.urlencode()}" if request.GET else target)
    rows, sort, descending = sorted_rows(board.rows, params.get("sort", "rank"))
    kept = {k: v for k, v in params.items() if k in FILTER_PARAMS}
    if board.environment_class:
        kept["environment_class"] = board.environment_class
    headers = []
    for column in SORT_COLUMNS:
        if column == sort:
            target = column if descending else f"-{column}"
        else:
            target = f"-{column}" if column in DESCENDING_FIRST else column
        direction = ("descending" if descending else "ascending") if column == sort else "none"
        headers.append(
            {
                "column": column,
                "url": "?" + urlencode({**kept, "sort": target}),
                "aria_sort": direction,
            }
        )
    api = reverse("api-leaderboard", args=[board.profile.pk])
    missing = _partial_missing(board)
    reports = conformance.reports_state()
    context = {
        "board": board,
        "rows": rows,
        "headers": {h["column"]: h for h in headers},
        "sort": sort,
        "partial_rows": [
            {"row": row, "missing": missing.get(row.mesh_config_id, [])}
            for row in board.partial_rows
        ],
        "chart": board_chart(board.rows),
        "csv_url": f"{api}?{urlencode({**kept, 'format': 'csv'})}",
        "api_url": f"{api}?{urlencode(kept)}",
        "filters": params,
        "mesh_types": [t for t in MESH_TYPES if t != "none"],
        "normalized_label": NORMALIZED_LABEL,
        "raw_label": RAW_LABEL,
        "cache_seconds": settings.LEADERBOARD_CACHE_S,
        "current_version": FORMULA_VERSION,
        "page_key": f"{board.profile.pk}:{board.state}:{sort}:{descending}:{reports}",
        # Read once, and only when the cached page is stale and renders.
        "capabilities": SimpleLazyObject(
            lambda: conformance.capabilities(
                (r.mesh_config_id, r.mesh_type, r.mesh_version)
                for r in [*board.rows, *board.partial_rows]
            )
        ),
    }
    return render(request, "meshmark/leaderboard.html", context)


# Result


def _current_score(result: Result) -> Score | None:
    scores = getattr(result, "current_scores", [])
    return scores[0] if scores else None


def result_detail(request: HttpRequest, result_id: int) -> HttpResponse:
    # A result's page changes only when results, scores or moderation do (its standing
    # moves with its group's new runs): rendered once per such state, for everyone.
    key = pagecache.page_key("result", result_id, pagecache.listing_state())
    parts = pagecache.cached_parts(
        key, settings.LEADERBOARD_CACHE_S, lambda: _result_parts(request, result_id)
    )
    context = {**parts, "body": mark_safe(parts["body"])}  # noqa: S308 - our rendered HTML
    return render(request, "meshmark/result.html", context)


def _result_parts(request: HttpRequest, result_id: int) -> dict[str, Any]:
    # The stored SMP documents are for exports; the page reads the columns.
    results = public_results().select_related("baseline").defer("smp", "baseline__smp")
    result = get_object_or_404(with_current_scores(results), pk=result_id)
    baseline = result.baseline if result.role == Result.Role.MESH else None
    mesh_runs: list[Result] = []
    if result.role == Result.Role.BASELINE:
        mesh_runs = list(with_current_scores(public_results().filter(baseline=result)))
    score = _current_score(result)
    charts: dict[str, Any] = {}
    if baseline is not None:
        charts["latency"] = {
            "labels": [label for label, _ in LATENCY_POINTS],
            "baseline": [getattr(baseline, field) for _, field in LATENCY_POINTS],
            "mesh": [getattr(result, field) for _, field in LATENCY_POINTS],
        }
        histogram = {
            "baseline": histogram_points(baseline.histogram),
            "mesh": histogram_points(result.histogram),
        }
        if histogram["baseline"] or histogram["mesh"]:
            charts["histogram"] = histogram
    capacity = capacity_chart(result)
    capacity_view = None
    if capacity is not None:
        charts["capacity"] = capacity
        base_rps, mesh_rps = capacity["baseline_rps"], capacity["mesh_rps"]
        capacity_view = {
            **capacity,
            "kept": mesh_rps / base_rps if base_rps and mesh_rps is not None else None,
            "phases": [("baseline", capacity["baseline"]), ("mesh", capacity["mesh"])],
        }
    labels: dict[str, Any] = {}
    if result.profile.real_world_of:  # the seed is in the stored run's labels
        found = Result.objects.filter(pk=result.pk).values_list("smp__labels", flat=True).first()
        labels = found if isinstance(found, dict) else {}
    context = {
        "capacity": capacity_view,
        "real_world_seed": labels.get(SEED_LABEL) if result.profile.real_world_of else None,
        "real_world_model": labels.get("realworld.model", ""),
        "result": result,
        "baseline": baseline,
        "mesh_runs": mesh_runs,
        "score": score,
        "breakdown": breakdown(score) if score else [],
        "figures_label": figures_label(score.normalized) if score else "",
        "latencies": latencies(result, baseline),
        "resources": resources(result, baseline),
        "charts": charts,
        "api_url": reverse("api-result-detail", args=[result.pk]),
        "raw_url": reverse("submission-raw", args=[result.submission_id]),
        "cost_url": _result_cost_url(result, score),
        "standing": standings([result.pk]).get(result.pk) if score else None,
        "board_url": reverse("leaderboard", args=[result.profile_id])
        + "?"
        + urlencode({"environment_class": result.environment.environment_class}),
    }
    return {
        "title": f"Result {result.pk}: {result.mesh_config} on {result.profile_id}",
        "charts": bool(charts),
        "body": render_to_string("meshmark/_result_body.html", context, request),
    }


def _result_cost_url(result: Result, score: Score | None) -> str | None:
    """The cost page pre-filled with this run's configuration and group (ranked mesh runs)."""
    if result.role != Result.Role.MESH or score is None or score.score is None:
        return None
    return cost_url(
        profile=result.profile_id,
        environment_class=result.environment.environment_class,
        configs=[result.mesh_config_id],
    )


def submission_raw(request: HttpRequest, submission_id: UUID) -> HttpResponse:
    """The submission's bytes exactly as received, for accepted submissions with public results."""
    if not public_results().filter(submission_id=submission_id).exists():
        raise Http404("no public submission with this id")
    submission = get_object_or_404(
        Submission.objects.only("id", "raw", "content_type"),
        pk=submission_id,
        status=Submission.Status.ACCEPTED,
    )
    content_type = submission.content_type
    kind = RAW_TYPES.get(content_type.split(";")[0].strip().lower())
    if kind is None:
        content_type, kind = "application/octet-stream", "bin"
    response = HttpResponse(bytes(submission.raw), content_type=content_type)
    suffix = {"multipart": "multipart.txt"}.get(kind, kind)
    response["Content-Disposition"] = exports.attachment(
        f"meshmark-submission-{submission.pk}.{suffix}"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# Compare


def compare(request: HttpRequest) -> HttpResponse:
    configs = [part for raw in request.GET.getlist("configs") for part in raw.split(",")]
    params = {**_params(request), "configs": ",".join(p.strip() for p in configs if p.strip())}
    if not params.get("configs") and not params.get("profile"):
        return render(
            request,
            "meshmark/compare_start.html",
            {"profiles": Profile.objects.filter(custom=False)},
        )
    try:
        comparison = selectors.compare(params)
    except selectors.SelectorError as exc:
        return _error_page(request, exc)
    labels = {row.mesh_config_id: row.label for row in comparison.rows}
    tests = [
        {
            **test,
            "a_label": labels[test["a"]],
            "b_label": labels[test["b"]],
            "p_text": p_value_text(test["p_value"]),
            "delta_words": cliffs_delta_words(
                test["cliffs_delta"], labels[test["a"]], labels[test["b"]]
            ),
        }
        for test in comparison.tests
    ]
    chart = {
        "labels": [name.replace("p999", "p99.9") for name in selectors.PERCENTILES],
        "series": [
            {
                "label": labels[config_id],
                "mesh": [curves["mesh"].get(p) for p in selectors.PERCENTILES],
                "baseline": [curves["baseline"].get(p) for p in selectors.PERCENTILES],
            }
            for config_id, curves in comparison.curves.items()
        ],
    }
    board_url = (
        reverse("leaderboard", args=[comparison.profile.pk])
        + "?"
        + urlencode({"environment_class": comparison.environment_class})
    )
    api_params = {
        "profile": comparison.profile.pk,
        "configs": params["configs"],
        "environment_class": comparison.environment_class,
    }
    found = conformance.capabilities(
        (row.mesh_config_id, row.mesh_type, row.mesh_version) for row in comparison.rows
    )
    first = comparison.rows[0]
    capability_rows = []
    for row in comparison.rows:
        capability = found.get(row.mesh_config_id)
        profiles = [capability.profile(n) if capability else None for n in MESH_PROFILES]
        capability_rows.append({"row": row, "capability": capability, "profiles": profiles})
    diffs = [
        {
            "a": first,
            "b": row,
            "profiles": conformance.feature_diff(
                found.get(first.mesh_config_id), found.get(row.mesh_config_id)
            ),
        }
        for row in comparison.rows[1:]
    ]
    context = {
        "comparison": comparison,
        "capability_rows": capability_rows if found else [],
        "diffs": diffs,
        "tests": tests,
        "chart": chart,
        "board_url": board_url,
        "api_url": reverse("api-compare") + "?" + urlencode(api_params),
        "cost_url": cost_url(
            profile=comparison.profile.pk,
            environment_class=comparison.environment_class,
            configs=[row.mesh_config_id for row in comparison.rows],
        ),
        "normalized_label": NORMALIZED_LABEL,
        "raw_label": RAW_LABEL,
    }
    return render(request, "meshmark/compare.html", context)


# Organizations and environments


def _listing(results: QuerySet[Result]) -> list[Result]:
    ordered = results.order_by("-created_at", "-id")
    return list(with_current_scores(ordered, listing=True)[:LIST_LIMIT])


def organization_detail(request: HttpRequest, slug: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=slug, is_listed=True)
    results = public_results().filter(organization=organization)
    counts = results.aggregate(
        results=Count("id"),
        mesh_runs=Count("id", filter=Q(role=Result.Role.MESH)),
        submissions=Count("submission", distinct=True),
        environments=Count("environment", distinct=True),
        configurations=Count("mesh_config", distinct=True, filter=Q(role=Result.Role.MESH)),
    )
    listed = _listing(results.filter(role=Result.Role.MESH))
    found = standings([r.pk for r in listed])
    for result in listed:
        result.standing = found.get(result.pk)  # type: ignore[attr-defined]
    context = {
        "organization": organization,
        "counts": counts,
        "results": listed,
        "limit": LIST_LIMIT,
        "show_standing": True,
        "is_member": request.user.is_authenticated
        and (request.user.is_staff or organization.members.filter(pk=request.user.pk).exists()),
    }
    return render(request, "meshmark/organization.html", context)


def environment_detail(request: HttpRequest, environment_id: int) -> HttpResponse:
    environment = get_object_or_404(Environment, pk=environment_id)
    results = public_results().filter(environment=environment)
    if not results.exists():
        raise Http404("no public results in this environment")
    total = results.filter(role=Result.Role.MESH).count()
    listed = _listing(results.filter(role=Result.Role.MESH))
    factor = calibration_factor(environment)
    context = {
        "environment": environment,
        "results": listed,
        "total": total,
        "limit": LIST_LIMIT,
        "factor": factor,
        "figures_label": figures_label(factor is not None),
    }
    return render(request, "meshmark/environment.html", context)


# Methodology


def methodology(request: HttpRequest) -> HttpResponse:
    context = {"html": methodology_html(), "formula_version": FORMULA_VERSION}
    return render(request, "meshmark/methodology.html", context)
