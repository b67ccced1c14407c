"""Score a whole SMP bundle without storing anything: the "what would I get" preview.

Used by ``POST /api/v1/score`` and ``smp-runner score`` so the index and the
contributor's machine give the same answer from the same code, admission
included: each mesh run says whether a standard board would rank it, and why not.
"""

from __future__ import annotations

from typing import Any

from scoring.admission import admit
from scoring.engine import score_pair
from scoring.normalize import figures_pair
from smp.custom_profiles import CustomProfile, profile_of_bundle
from smp.model import Bundle
from smp.profiles import DEFAULT_ERROR_BUDGET


def bundle_scores(bundle: Bundle) -> list[dict[str, Any]]:
    """One entry per mesh run: its index in ``runs``, MeshMark breakdown and figures, and
    ``ranked`` with the ``admission`` reasons when it would not be.

    A mesh run is paired with the bundle's baseline run (with interleaved pairs, the
    baseline just before it: ``Bundle.baseline_index_of``); without one it is listed
    as not scorable, with the reason.
    The error budget and the admission rules are the bundle's standard profile's;
    a bundle naming no standard profile (a custom one) is scored with the standard
    error budget and is never ranked on a standard board.
    """
    found, _ = profile_of_bundle(bundle)  # a standard profile, or the custom one it carries
    profile = found.profile if isinstance(found, CustomProfile) else found
    admission = admit(bundle, profile) if profile is not None else None
    out: list[dict[str, Any]] = []
    for index, run in enumerate(bundle.runs):
        if run.role == "baseline":
            continue
        entry: dict[str, Any] = {"run": index, "mesh_type": bundle.mesh_config.mesh_type}
        base_index = bundle.baseline_index_of(index)
        baseline = bundle.runs[base_index] if base_index is not None else None
        if baseline is None:
            entry["meshmark"] = None
            entry["reason"] = "no baseline run in the bundle to compare with"
        elif profile is not None and profile.kind == "capacity":
            # A capacity search is shown as the capacity the mesh keeps, not as MeshMark.
            base_rps = baseline.capacity.rps if baseline.capacity else None
            mesh_rps = run.capacity.rps if run.capacity else None
            entry["meshmark"] = None
            entry["reason"] = f"{profile.id} is a capacity profile: shown as the capacity kept"
            entry["capacity"] = {
                "baseline_rps": base_rps,
                "mesh_rps": mesh_rps,
                "kept": mesh_rps / base_rps if base_rps and mesh_rps is not None else None,
                "objective_p99_ms": profile.objective_p99_ms,
            }
        else:
            score = score_pair(
                baseline,
                run,
                mesh_config=bundle.mesh_config,
                environment=bundle.environment,
                # A custom profile (a test configuration) has the standard budget.
                error_budget=(
                    profile.error_budget if profile is not None else DEFAULT_ERROR_BUDGET
                ),
            )
            figures = figures_pair(
                baseline, run, mesh_config=bundle.mesh_config, environment=bundle.environment
            )
            entry["meshmark"] = score.to_dict()
            entry["figures"] = figures.to_dict()
        reasons = admission.reasons.get(index, []) if admission is not None else []
        entry["ranked"] = admission is not None and not reasons
        entry["admission"] = [p.as_dict() for p in reasons]
        if admission is None:
            entry["admission"] = [
                {
                    "path": "profile",
                    "rule": "known-profile",
                    "message": f"{bundle.profile!r} is neither a standard profile nor a "
                    "custom one its config defines: never ranked",
                }
            ]
        out.append(entry)
    return out
