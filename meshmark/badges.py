"""Shields-style SVG badges: ``/badge/{mesh}/{version}/{profile}.svg``."""

from __future__ import annotations

from html import escape

from django.http import Http404, HttpRequest, HttpResponse

from ingest.models import Profile
from meshmark.selectors import badge_row
from smp.model import MESH_TYPES

CHAR_WIDTH = 6.5  # Verdana 11px averages about this many pixels per character
PADDING = 10
CACHE_SECONDS = 3600


def colour(score: float | None) -> str:
    if score is None:
        return "#9f9f9f"
    if score >= 85:
        return "#2e7d32"
    if score >= 70:
        return "#689f38"
    if score >= 55:
        return "#f9a825"
    return "#e65100"


def render(label: str, message: str, fill: str) -> str:
    """A flat two-part badge; widths estimated from the text length."""
    left = int(len(label) * CHAR_WIDTH + PADDING)
    right = int(len(message) * CHAR_WIDTH + PADDING)
    width = left + right
    label_e, message_e = escape(label), escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{label_e}: {message_e}"><title>{label_e}: {message_e}</title>'
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{fill}"/>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" '
        'font-size="11">'
        f'<text x="{left / 2}" y="14">{label_e}</text>'
        f'<text x="{left + right / 2}" y="14">{message_e}</text></g></svg>'
    )


def badge(request: HttpRequest, mesh: str, version: str, profile: str) -> HttpResponse:
    # Only a standard profile and a known mesh make a badge: the URL's text is not
    # echoed into a publicly cached image.
    if mesh not in MESH_TYPES or not Profile.objects.filter(pk=profile).exists():
        raise Http404("no such profile or mesh")
    row = badge_row(mesh, version, profile)
    label = f"MeshMark {profile}"
    if row is None:
        svg = render(label, "no results", colour(None))
    elif row.results < 2:
        # One run carries no spread: "±0" would claim a precision nobody measured.
        svg = render(label, f"{row.median:.0f} (n=1)", colour(row.median))
    else:
        margin = max(row.median - row.ci_low, row.ci_high - row.median)
        svg = render(label, f"{row.median:.0f} ±{margin:.0f}", colour(row.median))
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response
