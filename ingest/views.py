"""Web pages for members: upload a submission and follow it."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from ingest import selectors, submissions
from ingest.forms import UploadForm
from ingest.models import Organization, Submission

YAML_SUFFIXES = (".yaml", ".yml")
FORM_OVERHEAD = 64 * 1024
"""Room for the form's other fields and boundaries around a file of the maximum size."""


@csrf_exempt  # checked by _upload, once the body is kept
@login_required
def upload(request: HttpRequest) -> HttpResponse:
    """Upload one SMP bundle file, or a baseline and a mesh output with what they measured.

    A form of outputs is stored as the multipart body the browser sent, byte for
    byte, like an API upload of the same form. The body has to be read before
    Django parses the form (its CSRF check does), or it can no longer be read.
    """
    if request.method == "POST":
        limit = settings.SUBMISSION_MAX_BYTES + FORM_OVERHEAD
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            return HttpResponse(
                f"The upload is larger than the limit of {settings.SUBMISSION_MAX_BYTES} bytes.\n",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        request.body  # noqa: B018 - read now, kept on the request
    return _upload(request)


@csrf_protect
def _upload(request: HttpRequest) -> HttpResponse:
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
                body, content_type = request.body, request.META.get("CONTENT_TYPE", "")
            try:
                submission, _ = submissions.submission_create(
                    organization=data["organization"],
                    body=body,
                    content_type=content_type,
                    user=request.user,
                    source=Submission.Source.UPLOAD,
                )
            except submissions.SubmissionRefused as refused:
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
