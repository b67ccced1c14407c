from __future__ import annotations

from django.urls import path

from meshmark import apis, apis_leaderboards

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
]
