from __future__ import annotations

from django.urls import path

from ingest import apis, apis_bulk

urlpatterns = [
    path("submissions", apis.SubmissionCreateApi.as_view(), name="api-submission-create"),
    path("submissions/bulk", apis_bulk.SubmissionBulkApi.as_view(), name="api-submission-bulk"),
    path(
        "submissions/<uuid:submission_id>",
        apis.SubmissionDetailApi.as_view(),
        name="api-submission-detail",
    ),
    path("conformance", apis.ConformanceCreateApi.as_view(), name="api-conformance-create"),
    path("profiles", apis.ProfileListApi.as_view(), name="api-profile-list"),
    path("meshes", apis.MeshListApi.as_view(), name="api-mesh-list"),
    path("environments", apis.EnvironmentListApi.as_view(), name="api-environment-list"),
]
