from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ingest import views as ingest_views
from meshmark.badges import badge
from meshmark.health import healthz

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("badge/<str:mesh>/<str:version>/<str:profile>.svg", badge, name="badge"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("ingest.urls")),
    path("api/v1/", include("meshmark.api_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("upload", ingest_views.upload, name="upload"),
    path(
        "submissions/<uuid:submission_id>", ingest_views.submission_detail, name="submission-detail"
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
