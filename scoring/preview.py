"""Score a whole SMP bundle without storing anything: the "what would I get" preview.

Used by ``POST /api/v1/score`` and ``smp-runner score`` so the index and the
contributor's machine give the same answer from the same code.
"""

from __future__ import annotations

from typing import Any

from scoring.engine import score_pair
from scoring.normalize import figures_pair
from smp.model import Bundle


def bundle_scores(bundle: Bundle) -> list[dict[str, Any]]:
    """One entry per mesh run: its index in ``runs``, MeshMark breakdown and figures.

    A mesh run is paired with the bundle's baseline run (the first one with role
    ``baseline``); without one it is listed as not scorable, with the reason.
    """
    baselines = bundle.runs_with_role("baseline")
    baseline = baselines[0] if baselines else None
    out: list[dict[str, Any]] = []
    for index, run in enumerate(bundle.runs):
        if run.role == "baseline":
            continue
        entry: dict[str, Any] = {"run": index, "mesh_type": bundle.mesh_config.mesh_type}
        if baseline is None:
            entry["meshmark"] = None
            entry["reason"] = "no baseline run in the bundle to compare with"
        else:
            score = score_pair(
                baseline, run, mesh_config=bundle.mesh_config, environment=bundle.environment
            )
            figures = figures_pair(
                baseline, run, mesh_config=bundle.mesh_config, environment=bundle.environment
            )
            entry["meshmark"] = score.to_dict()
            entry["figures"] = figures.to_dict()
        out.append(entry)
    return out
