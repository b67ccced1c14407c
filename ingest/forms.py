from __future__ import annotations

from typing import Any

from django import forms

from ingest.models import Organization, Profile
from smp.model import MESH_TYPES


class UploadForm(forms.Form):
    """Either one SMP bundle file, or a baseline and a mesh output with what they measured."""

    organization = forms.ModelChoiceField(queryset=Organization.objects.none())
    bundle = forms.FileField(required=False, help_text="An SMP bundle (JSON or YAML).")
    baseline = forms.FileField(required=False, help_text="The baseline run's output (no mesh).")
    mesh = forms.FileField(required=False, help_text="The mesh run's output.")
    profile = forms.ModelChoiceField(queryset=Profile.objects.filter(custom=False), required=False)
    mesh_type = forms.ChoiceField(
        choices=[("", "—")] + [(t, t) for t in MESH_TYPES if t != "none"], required=False
    )
    mesh_version = forms.CharField(max_length=64, required=False)
    # A choice, not a checkbox: an unchecked box sends nothing, and the stored form must
    # say "off" (an API form that leaves mtls out means "not stated").
    mtls = forms.ChoiceField(choices=[("off", "off"), ("on", "on")], initial="off", label="mTLS")

    def __init__(self, *args: Any, organizations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organization"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = organizations

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("bundle"):
            return data
        missing = [n for n in ("baseline", "mesh", "profile", "mesh_type") if not data.get(n)]
        if missing:
            raise forms.ValidationError(
                "Upload an SMP bundle, or a baseline and a mesh output with profile and mesh "
                f"type (missing: {', '.join(missing)})."
            )
        return data


class TokenCreateForm(forms.Form):
    """A new API token: only its name is chosen; the secret is drawn by the server."""

    name = forms.CharField(
        max_length=100,
        strip=True,
        help_text="Tells tokens apart, e.g. the CI pipeline or the cluster that submits.",
    )

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        if not name:
            raise forms.ValidationError("name: a token needs a name (at least one character)")
        return name
