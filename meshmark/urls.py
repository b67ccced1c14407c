from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from ingest import views as ingest_views
from ingest import views_tokens
from meshmark import accounts, views, views_capacity, views_cost, views_meshes, views_results
from meshmark.badges import badge
from meshmark.health import healthz
from meshmark.metrics import metrics_view
from meshmark.middleware import allow_template_styles

# A database error outside any view (a session save) answers 503, not 500.
handler500 = "meshmark.middleware.server_error"
# An unknown path under /api/ answers a problem (JSON), like every other API error.
handler404 = "meshmark.problems.not_found"

urlpatterns = [
    path("", views.home, name="home"),
    path("leaderboards/<str:profile>", views.leaderboard, name="leaderboard"),
    path("capacity/<str:profile>", views_capacity.capacity_page, name="capacity-board"),
    path("results", views_results.result_browser, name="result-browser"),
    path("results/<int:result_id>", views.result_detail, name="result-detail"),
    path("compare", views.compare, name="compare"),
    path("organizations/<slug:slug>", views.organization_detail, name="organization-detail"),
    path("environments/<int:environment_id>", views.environment_detail, name="environment-detail"),
    path("methodology", views.methodology, name="methodology"),
    path("cost", views_cost.cost_page, name="cost"),
    path("meshes", views_meshes.mesh_index, name="mesh-index"),
    path("meshes/<str:mesh_type>", views_meshes.mesh_detail, name="mesh-detail"),
    path(
        "meshes/<str:mesh_type>/regressions.atom",
        views_meshes.RegressionFeed(),
        name="mesh-regressions-feed",
    ),
    path("submissions/<uuid:submission_id>/raw", views.submission_raw, name="submission-raw"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("badge/<str:mesh>/<str:version>/<str:profile>.svg", badge, name="badge"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("ingest.urls")),
    path("api/v1/", include("meshmark.api_urls")),
    path("accounts/", include(accounts.urlpatterns())),
    path("upload", ingest_views.upload, name="upload"),
    path("organizations/<slug:slug>/tokens", views_tokens.token_list, name="token-list"),
    path(
        "organizations/<slug:slug>/tokens/<int:token_id>/revoke",
        views_tokens.token_revoke,
        name="token-revoke",
    ),
    path(
        "submissions/<uuid:submission_id>", ingest_views.submission_detail, name="submission-detail"
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI under the CSP: the split view serves its init script as a file, and
    # the page's one static <style> block is allowed by its hash.
    path(
        "api/docs/",
        allow_template_styles("drf_spectacular/swagger_ui.html")(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
]
