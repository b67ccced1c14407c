"""Web pages for members: upload a submission and follow it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from ingest import intake, selectors, services
from ingest.forms import UploadForm
from ingest.models import Organization, Submission

YAML_SUFFIXES = (".yaml", ".yml")


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    organizations = Organization.objects.filter(membership__user_id=request.user.pk or 0)
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES, organizations=organizations)
        if form.is_valid():
            data = form.cleaned_data
            if data["bundle"]:
                body = data["bundle"].read()
                name = data["bundle"].name.lower()
                content_type = (
                    "application/yaml" if name.endswith(YAML_SUFFIXES) else "application/json"
                )
            else:
                body, content_type = intake.encode_form(
                    {
                        "profile": data["profile"].pk,
                        "mesh_type": data["mesh_type"],
                        "mesh_version": data["mesh_version"],
                        "mtls": "true" if data["mtls"] else "false",
                    },
                    {
                        "baseline": [(data["baseline"].name, data["baseline"].read())],
                        "mesh": [(data["mesh"].name, data["mesh"].read())],
                    },
                )
            try:
                submission, _ = services.submission_create(
                    organization=data["organization"],
                    body=body,
                    content_type=content_type,
                    user=request.user,
                    source=Submission.Source.UPLOAD,
                )
            except services.SubmissionRefused as refused:
                submission = refused.submission
            return redirect("submission-detail", submission_id=submission.pk)
    else:
        form = UploadForm(organizations=organizations)
    return render(request, "ingest/upload.html", {"form": form, "organizations": organizations})


@login_required
def submission_detail(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = get_object_or_404(
        Submission.objects.select_related("organization"), pk=submission_id
    )
    if not selectors.submission_visible_to(submission, user=request.user, token=None):
        raise Http404("no such submission")
    results = submission.results.select_related("mesh_config", "profile").order_by("run_index")
    return render(request, "ingest/submission.html", {"submission": submission, "results": results})
