"""``meshmark import_conformance REPORT.yaml ... --organization SLUG``: conformance reports
in from the command line, through the same door, storage and processing as the API."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingest import processing, submissions
from ingest.models import ConformanceReport, Organization, Submission


def form_body(report: bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart form holding the report and the fields, as the API takes it: the
    stored bytes then say which mesh and release the report is for, so reprocessing
    them gives the same answer."""
    boundary = f"meshmark-{secrets.token_hex(12)}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
        if value
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="report"; '
        f'filename="report.yaml"\r\nContent-Type: application/yaml\r\n\r\n'.encode()
        + report
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


class Command(BaseCommand):
    help = (
        "Import Gateway API ConformanceReport files for an organization: each is stored "
        "verbatim as a submission and processed; prints each verdict. Exit 1 if any is rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reports", nargs="+", type=Path, help="ConformanceReport YAML files")
        parser.add_argument("--organization", required=True, help="the submitting organization")
        parser.add_argument("--mesh-type", default="", help="when the report's project is not one")
        parser.add_argument("--mesh-version", default="", help="when its version is no release")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError(f"no organization {options['organization']!r}; create_org first")
        fields = {"mesh_type": options["mesh_type"], "mesh_version": options["mesh_version"]}
        rejected = 0
        for path in options["reports"]:
            try:
                report = path.read_bytes()
            except OSError as exc:
                raise CommandError(f"{path}: {exc.strerror}") from None
            body, content_type = (
                form_body(report, fields) if any(fields.values()) else (report, "application/yaml")
            )
            try:
                submission, _ = submissions.submission_create(
                    organization=organization,
                    body=body,
                    content_type=content_type,
                    kind=Submission.Kind.CONFORMANCE,
                )
            except submissions.SubmissionRefused as refused:
                submission = refused.submission
            # Processed here whatever the broker does; a queued task then finds it done.
            processing.submission_process(submission_id=submission.pk)
            submission.refresh_from_db()
            rejected += submission.status == Submission.Status.REJECTED
            self.stdout.write(self._verdict(path, submission))
        if rejected:
            raise CommandError(f"{rejected} of {len(options['reports'])} reports rejected")

    def _verdict(self, path: Path, submission: Submission) -> str:
        if submission.status != Submission.Status.ACCEPTED:
            problems = "; ".join(
                f"{e['path'] or 'report'}: {e['message']}" for e in submission.errors
            )
            return f"{path}: rejected ({submission.pk}): {problems}"
        report = ConformanceReport.objects.get(submission=submission)
        profiles = ", ".join(
            f"{p['name']} {'passed' if p['core_result'] == 'success' else p['core_result']}"
            f" ({len(p['supported_features'])} extended features)"
            for p in report.profiles
        )
        return f"{path}: accepted {report.mesh_type} {report.mesh_version}: {profiles}"
