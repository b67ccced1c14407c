from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.text import slugify

from ingest import tokens
from ingest.models import Organization


class Command(BaseCommand):
    help = "Create an organization that can submit results."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="short unique name used in URLs, e.g. acme")
        parser.add_argument("--name", help="display name (default: the slug)")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        if slugify(slug) != slug:
            raise CommandError(f"{slug!r} is not a valid slug (lowercase letters, digits, -)")
        if Organization.objects.filter(slug=slug).exists():
            raise CommandError(f"organization {slug!r} already exists")
        org = tokens.organization_create(slug=slug, name=options["name"])
        self.stdout.write(f"created organization {org.slug}")
