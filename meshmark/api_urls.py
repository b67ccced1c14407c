from __future__ import annotations

from django.urls import path

from meshmark import apis, apis_cost, apis_leaderboards, apis_meshes, views_capacity

urlpatterns = [
    path("results", apis.ResultListApi.as_view(), name="api-result-list"),
    path("results/<int:result_id>", apis.ResultDetailApi.as_view(), name="api-result-detail"),
    path("score", apis.ScorePreviewApi.as_view(), name="api-score-preview"),
    path(
        "leaderboards/<str:profile>",
        apis_leaderboards.LeaderboardApi.as_view(),
        name="api-leaderboard",
    ),
    path("compare", apis_leaderboards.CompareApi.as_view(), name="api-compare"),
    path("capacity/<str:profile>", views_capacity.CapacityApi.as_view(), name="api-capacity-board"),
    path("cost", apis_cost.CostApi.as_view(), name="api-cost"),
    path("meshes/<str:mesh>/trend", apis_meshes.MeshTrendApi.as_view(), name="api-mesh-trend"),
    path(
        "meshes/<str:mesh>/conformance",
        apis_meshes.MeshConformanceApi.as_view(),
        name="api-mesh-conformance",
    ),
]
