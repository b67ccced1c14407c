"""Mesh pages: a mesh's releases trend by trend, and its feed of regressions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.core.cache import cache
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.http import urlencode

from ingest.models import LeaderboardRow
from meshmark import conformance, pagecache, trends
from meshmark.selectors import SelectorError
from meshmark.views import _error_page, _params
from scoring import FORMULA_VERSION, NORMALIZED_LABEL
from scoring.normalize import RAW_LABEL
from scoring.trends import MIN_CLIFFS_DELTA, MIN_EFFECT_POINTS, MIN_RUNS, TREND_ALPHA
from smp.profiles import standard_profiles
from smp.versions import release_key

FEED_ITEMS = 50
"""Regressions a feed lists (newest first)."""


def mesh_index(request: HttpRequest) -> HttpResponse:
    """Every mesh with ranked runs, busiest first."""
    meshes = (
        LeaderboardRow.objects.filter(formula_version=FORMULA_VERSION, complete=True)
        .values("mesh_config__mesh_type")
        .annotate(results=Sum("results"), configurations=Count("mesh_config", distinct=True))
        .order_by("-results", "mesh_config__mesh_type")
    )
    context = {"meshes": [{"mesh_type": m["mesh_config__mesh_type"], **m} for m in meshes]}
    return render(request, "meshmark/mesh_index.html", context)


def mesh_detail(request: HttpRequest, mesh_type: str) -> HttpResponse:
    params = _params(request)
    try:
        mesh = trends.check_mesh(mesh_type)
    except SelectorError as exc:
        return _error_page(request, exc)
    if mesh != mesh_type:
        raise Http404("mesh names are lower case")
    # The body is the same for everyone while the mesh's rows and the reports are
    # unchanged: cached under their state, the trend built and judged only on a miss.
    key = pagecache.page_key(
        "mesh",
        mesh,
        params.get("profile", ""),
        trends.mesh_state(mesh),
        conformance.reports_state(),
    )
    try:
        body = pagecache.cached_body(
            key, settings.TREND_CACHE_S, lambda: _mesh_body(request, mesh, params.get("profile"))
        )
    except SelectorError as exc:
        return _error_page(request, exc)
    context = {
        "mesh_type": mesh,
        "body": body,
        "feed_url": reverse("mesh-regressions-feed", args=[mesh]),
    }
    return render(request, "meshmark/mesh.html", context)


def _mesh_body(request: HttpRequest, mesh: str, profile: str | None) -> str:
    trend = trends.mesh_trend(mesh, profile_id=profile)
    reports = conformance.public_reports([mesh])
    sections = [
        {
            "group": group,
            "chart": group.chart(),
            "data_id": f"{group.anchor}-data",
            "rows": _table(group, reports),
        }
        for group in trend.groups
    ]
    capabilities = sorted(
        (conformance.Capability.of(r) for r in reports),
        key=lambda c: (
            release_key(c.report.mesh_version) or (),
            release_key(c.report.gateway_api_version) or (),
            c.report.created_at,
        ),
        reverse=True,
    )
    page = reverse("mesh-detail", args=[mesh])
    context = {
        "trend": trend,
        "sections": sections,
        "profile_links": [
            {
                "id": p,
                "url": f"{page}?{urlencode({'profile': p})}",
                "current": p == trend.profile_id,
            }
            for p in trend.profiles
        ],
        "page_url": page,
        "feed_url": reverse("mesh-regressions-feed", args=[mesh]),
        "api_url": reverse("api-mesh-trend", args=[mesh])
        + (f"?{urlencode({'profile': trend.profile_id})}" if trend.profile_id else ""),
        "rule": {
            "alpha": TREND_ALPHA,
            "min_runs": MIN_RUNS,
            "min_delta": MIN_CLIFFS_DELTA,
            "min_points": MIN_EFFECT_POINTS,
        },
        "normalized_label": NORMALIZED_LABEL,
        "raw_label": RAW_LABEL,
        "capabilities": capabilities,
        "real_world": real_world_comparison(mesh),
    }
    return render_to_string("meshmark/_mesh_body.html", context, request)


def real_world_comparison(mesh: str) -> list[dict[str, Any]]:
    """For each real-world profile, this mesh's configurations on its board beside the
    same configurations on the fixed profile's board (same environment class): does the
    mesh keep its MeshMark when the workload is not the one it could be tuned for?"""
    out = []
    # The standard profiles come from smp/data/profiles.yaml: one query in all, for the rows.
    variants = {p.id: p for p in standard_profiles() if p.real_world_of}
    wanted = [*variants, *(p.real_world_of or "" for p in variants.values())]
    all_rows = LeaderboardRow.objects.filter(
        formula_version=FORMULA_VERSION,
        profile_id__in=wanted,
        mesh_config__mesh_type=mesh,
        complete=True,
    ).select_related("mesh_config")
    by_profile: dict[str, list[LeaderboardRow]] = {}
    for row in all_rows:
        by_profile.setdefault(row.profile_id, []).append(row)
    for profile in variants.values():
        fixed_id = profile.real_world_of or ""
        rows = [*by_profile.get(profile.id, []), *by_profile.get(fixed_id, [])]
        if not by_profile.get(profile.id):
            continue
        pairs: dict[tuple[int, str], dict[str, Any]] = {}
        for row in rows:
            entry = pairs.setdefault(
                (row.mesh_config_id, row.environment_class),
                {"config": row.mesh_config, "environment_class": row.environment_class},
            )
            entry["real_world" if row.profile_id == profile.id else "fixed"] = row
        lines = sorted(
            (e for e in pairs.values() if "real_world" in e),
            key=lambda e: (str(e["config"]), e["environment_class"]),
        )
        for line in lines:
            fixed, real = line.get("fixed"), line["real_world"]
            line["delta"] = real.median - fixed.median if fixed is not None else None
        if lines:
            out.append({"profile": profile, "fixed_id": fixed_id, "lines": lines})
    return out


def _table(group: trends.Group, reports: list[Any]) -> list[dict[str, Any]]:
    """One line per released version and series, with the step that led to it and the
    conformance report that covers the version."""
    rows = []
    for series in group.series:
        steps_into = {step.after.mesh_config_id: step for step in series.steps}
        for point in series.points:
            rows.append(
                {
                    "series": series,
                    "point": point,
                    "step": steps_into.get(point.mesh_config_id),
                    "capability": conformance.capability_for(
                        reports, group.mesh_type, point.version
                    ),
                }
            )
    return rows


Item = tuple[trends.Group, trends.Series, trends.Step]


class RegressionFeed(Feed):
    """``/meshes/{mesh}/regressions.atom``: every release step judged a regression."""

    feed_type = Atom1Feed

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """The feed, from the cache while the mesh's rows are unchanged (their state is the key)."""
        mesh = self.get_object(request, *args, **kwargs)
        key = pagecache.page_key("feed", mesh, trends.mesh_state(mesh), request.get_host())
        cached = cache.get(key)
        if cached is not None:
            return HttpResponse(cached, content_type=f"{self.feed_type.content_type}")
        response = super().__call__(request, *args, **kwargs)
        cache.set(key, response.content, settings.TREND_CACHE_S)
        return response

    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> str:
        try:
            return trends.check_mesh(kwargs["mesh_type"])
        except SelectorError as exc:
            raise Http404(str(exc)) from None

    def title(self, mesh: str) -> str:
        return f"MeshMark: regressions of {mesh}"

    def subtitle(self, mesh: str) -> str:
        return (
            f"Releases of {mesh} whose MeshMark fell from the previous release's by a "
            f"significant (p < {TREND_ALPHA}) and material (at least {MIN_EFFECT_POINTS:g} point, "
            f"Cliff's delta at least {MIN_CLIFFS_DELTA}) margin, on any profile and "
            f"environment class; formula {FORMULA_VERSION}."
        )

    def link(self, mesh: str) -> str:
        return reverse("mesh-detail", args=[mesh])

    def items(self, mesh: str) -> list[Item]:
        return trends.regressions(mesh)[:FEED_ITEMS]

    def item_title(self, item: Item) -> str:
        group, series, step = item
        assert step.change is not None and step.change.median_diff is not None
        return (
            f"{step.after.version} ({series.label}): MeshMark {step.change.median_diff:+.2f} "
            f"vs {step.before.version} on {group.profile_id}, {group.environment_class}"
        )

    def item_description(self, item: Item) -> str:
        group, series, step = item
        change = step.change
        assert change is not None
        return (
            f"Median MeshMark {change.median_before:.2f} (n={change.n_before}) in "
            f"{step.before.version} and {change.median_after:.2f} (n={change.n_after}) in "
            f"{step.after.version}, difference {change.median_diff:+.2f} points "
            f"(95% CI {change.diff_low:+.2f} to {change.diff_high:+.2f}); "
            f"Mann-Whitney p = {change.p_value:.3g}, Cliff's delta {change.cliffs_delta:+.2f}. "
            f"Profile {group.profile_id} v{group.profile_version} on {group.environment_class}, "
            f"{series.label}."
        )

    def item_link(self, item: Item) -> str:
        group, _, _ = item
        query = urlencode({"profile": group.profile_id})
        return f"{reverse('mesh-detail', args=[self._mesh(item)])}?{query}#{group.anchor}"

    def item_guid(self, item: Item) -> str:
        group, series, step = item
        key = ",".join(str(v) for v in series.key)
        return (
            f"tag:meshmark,2026:regression/{self._mesh(item)}/{group.profile_id}/"
            f"{group.environment_class}/{key}/{step.before.version}..{step.after.version}/"
            f"{FORMULA_VERSION}"
        )

    item_guid_is_permalink = False

    def item_updateddate(self, item: Item) -> Any:
        return item[2].after.last_at

    def item_pubdate(self, item: Item) -> Any:
        return item[2].after.last_at

    @staticmethod
    def _mesh(item: Item) -> str:
        return item[0].mesh_type
