from __future__ import annotations

from django.urls import path

from meshmark import apis

urlpatterns = [
    path("results", apis.ResultListApi.as_view(), name="api-result-list"),
    path("results/<int:result_id>", apis.ResultDetailApi.as_view(), name="api-result-detail"),
    path("score", apis.ScorePreviewApi.as_view(), name="api-score-preview"),
]
