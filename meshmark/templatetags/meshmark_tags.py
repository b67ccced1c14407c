"""Template helpers shared by the pages: mesh names that link to their mesh page."""

from __future__ import annotations

import functools
from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from smp.model import MESH_TYPES

register = template.Library()


@functools.lru_cache(maxsize=64)
def mesh_url(mesh_type: str) -> str | None:
    """The mesh page of ``mesh_type``, or None for ``none`` and unknown names (a list of
    results asks for the same few names hundreds of times: remembered per process)."""
    if mesh_type not in MESH_TYPES or mesh_type == "none":
        return None
    try:
        return reverse("mesh-detail", args=[mesh_type])
    except NoReverseMatch:
        return None


@register.simple_tag
def mesh_link(mesh_type: str) -> str:
    """The mesh's name, linked to its mesh page."""
    url = mesh_url(mesh_type)
    if url is None:
        return format_html("{}", mesh_type)
    return format_html('<a class="mesh" href="{}">{}</a>', url, mesh_type)


@register.simple_tag
def config_label(config: Any) -> str:
    """A configuration as the pages write it, its mesh name linked to its mesh page.

    A leaderboard row reads as its label (``istio 1.24.1 mTLS``), a MeshConfig as
    its ``str`` (``istio 1.24.1 (mTLS)``): the same words as before, one of them a link.
    """
    mesh_type = config.mesh_type
    label = getattr(config, "label", None)
    text = label if isinstance(label, str) else str(config)
    rest = text[len(mesh_type) :].strip() if text.startswith(mesh_type) else text
    if not rest:
        return mesh_link(mesh_type)
    return format_html("{} {}", mesh_link(mesh_type), rest)


@register.filter
def lookup(mapping: Any, key: Any) -> Any:
    """``mapping[key]``, or None: templates cannot index a dict by a variable."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None
