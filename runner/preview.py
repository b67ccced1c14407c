"""``smp-runner score``: the MeshMark preview of a bundle, with the server's own code.

Each mesh run of the bundle is scored against the bundle's baseline with
:func:`meshmark.scoring.engine.score_pair` and its absolute figures come from
:func:`meshmark.scoring.normalize.figures_pair` (normalized by the bundle's
calibration when it has a usable one), exactly what the index computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from smp.model import Bundle, PerformanceTestResult


@dataclass(frozen=True)
class RunScore:
    index: int
    run: PerformanceTestResult
    score: Any
    """meshmark.scoring.engine.Score"""
    figures: Any
    """meshmark.scoring.normalize.Figures"""

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": f"runs[{self.index}]",
            "id": self.run.id,
            "meshmark": self.score.to_dict(),
            "figures": self.figures.to_dict(),
        }


def load_bundle(data: bytes, name: str) -> Bundle:
    """The bundle in ``data``; ClickException with every problem when it is not a valid one."""
    from smp.validate import validate_bytes

    report = validate_bytes(data)
    if report.errors:
        lines = [f"  {p.path or '(document)'}: {p.message} [{p.rule}]" for p in report.errors]
        raise click.ClickException(f"{name} is not a valid SMP bundle:\n" + "\n".join(lines))
    if report.bundle is None:
        raise click.ClickException(
            f"{name} is a single result, not a bundle: scoring needs a baseline run and a mesh "
            "run (write one with `smp-runner run`)"
        )
    return report.bundle


def score_bundle(bundle: Bundle, name: str) -> list[RunScore]:
    from meshmark.scoring.engine import score_pair
    from meshmark.scoring.normalize import figures_pair

    baselines = bundle.runs_with_role("baseline")
    if not baselines:
        raise click.ClickException(
            f"{name} has no baseline run: MeshMark scores a mesh run against the baseline made "
            "by the same invocation"
        )
    baseline = baselines[0]
    scores = []
    for index, run in enumerate(bundle.runs):
        if run.role != "mesh":
            continue
        mesh_config, environment = bundle.mesh_config, bundle.environment
        scores.append(
            RunScore(
                index=index,
                run=run,
                score=score_pair(baseline, run, mesh_config=mesh_config, environment=environment),
                figures=figures_pair(
                    baseline, run, mesh_config=mesh_config, environment=environment
                ),
            )
        )
    return scores


def _number(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def render_text(bundle: Bundle, scores: list[RunScore]) -> str:
    mesh = bundle.mesh_config
    what = " ".join(
        part
        for part in (
            mesh.mesh_type,
            mesh.mesh_version or "",
            "mTLS" if mesh.mtls_enabled else "",
            f"profile {bundle.profile}" if bundle.profile else "",
        )
        if part
    )
    lines: list[str] = []
    for item in scores:
        score = item.score
        headline = (
            f"MeshMark {score.score:.1f} / 100"
            if score.score is not None
            else "MeshMark: not scorable"
        )
        flags = (
            " (partial: " + ", ".join(score.missing_classes) + " missing)" if score.partial else ""
        )
        lines.append(f"runs[{item.index}] {what}: {headline}{flags}  [{score.version}]")
        lines.append(f"  {'class':<12} {'value':>7}   MUEs")
        from meshmark.scoring.engine import CLASSES

        for cls, members in CLASSES.items():
            mues = ", ".join(f"{m} {_number(score.mues.get(m), 3)}" for m in members)
            lines.append(f"  {cls:<12} {_number(score.classes.get(cls), 3):>7}   {mues}")
        figures = item.figures
        lines.append(f"  figures ({figures.label}):")
        lines.append(
            f"    CPU per 1k rps     {_number(figures.cpu_per_1k_rps, 1, ' mCores')}\n"
            f"    memory per proxy   {_number(figures.mem_per_proxy_mb, 1, ' MiB')}\n"
            f"    added p99 latency  {_number(figures.added_p99_ms, 3, ' ms')}"
        )
        if figures.factor is not None:
            lines.append(f"    calibration factor {figures.factor:.3f} ({figures.reference_probe})")
    return "\n".join(lines)
