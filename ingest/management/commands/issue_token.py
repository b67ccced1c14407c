from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingest import tokens
from ingest.models import Organization


class Command(BaseCommand):
    help = "Issue an API token for an organization. The token is printed alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", default="default", help="a label to tell tokens apart")

    def handle(self, *args: Any, **options: Any) -> None:
        org = Organization.objects.filter(slug=options["slug"]).first()
        if org is None:
            raise CommandError(f"no organization {options['slug']!r}; create it with create_org")
        token, secret = tokens.token_issue(organization=org, name=options["name"])
        self.stderr.write(f"token {token.name!r} for {org.slug}; it is shown once, store it now")
        self.stdout.write(secret)
