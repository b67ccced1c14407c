"""``smp-runner score``: the MeshMark preview of a bundle, with the server's own code.

Each mesh run is scored by :func:`scoring.preview.bundle_scores`, the
function behind ``POST /api/v1/score``, so the preview and the index agree.
"""

from __future__ import annotations

from typing import Any

import click

from smp.model import Bundle


def load_bundle(data: bytes, name: str) -> Bundle:
    """The bundle in ``data``; ClickException with every problem when it is not a valid one."""
    from smp.submission import read_submission

    report = read_submission(data, native_alone=True)
    if report.errors:
        lines = [f"  {p.path or '(document)'}: {p.message} [{p.rule}]" for p in report.errors]
        raise click.ClickException(f"{name} is not a valid SMP bundle:\n" + "\n".join(lines))
    if report.kind != "bundle" or report.bundle is None:
        raise click.ClickException(
            f"{name} is a single result, not a bundle: scoring needs a baseline run and a mesh "
            "run (write one with `smp-runner run`)"
        )
    return report.bundle


def score_bundle(bundle: Bundle, name: str) -> list[dict[str, Any]]:
    """The entries ``POST /api/v1/score`` answers with, from the same function."""
    from scoring.preview import bundle_scores

    if not bundle.runs_with_role("baseline"):
        raise click.ClickException(
            f"{name} has no baseline run: MeshMark scores a mesh run against the baseline made "
            "by the same invocation"
        )
    return bundle_scores(bundle)


def _number(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def render_text(bundle: Bundle, scores: list[dict[str, Any]]) -> str:
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
        capacity = item.get("capacity")
        if capacity is not None:
            kept = capacity["kept"]
            lines.append(
                f"runs[{item['run']}] {what}: capacity kept "
                + (f"{kept:.1%}" if kept is not None else "n/a")
                + f" ({_number(capacity['mesh_rps'], 0)} of {_number(capacity['baseline_rps'], 0)}"
                f" rps with p99 <= {capacity['objective_p99_ms']:g} ms)"
            )
            lines.extend(admission_lines(item))
            continue
        score = item["meshmark"]
        headline = (
            f"MeshMark {score['score']:.1f} / 100"
            if score["score"] is not None
            else "MeshMark: not scorable"
        )
        missing = ", ".join(score["missing_classes"])
        flags = f" (partial: {missing} missing)" if score["partial"] else ""
        lines.append(f"runs[{item['run']}] {what}: {headline}{flags}  [{score['version']}]")
        lines.append(f"  {'class':<12} {'value':>7}   MUEs")
        from scoring.engine import CLASSES

        for cls, members in CLASSES.items():
            mues = ", ".join(f"{m} {_number(score['mues'].get(m), 3)}" for m in members)
            lines.append(f"  {cls:<12} {_number(score['classes'].get(cls), 3):>7}   {mues}")
        figures = item["figures"]
        lines.append(f"  figures ({figures['label']}):")
        lines.append(
            f"    CPU per 1k rps     {_number(figures['cpu_mcores_per_1k_rps'], 1, ' mCores')}\n"
            f"    memory per proxy   {_number(figures['mem_mb_per_proxy'], 1, ' MiB')}\n"
            f"    added p99 latency  {_number(figures['added_p99_ms'], 3, ' ms')}"
        )
        if figures["factor"] is not None:
            probe = figures["reference_probe"]
            lines.append(f"    calibration factor {figures['factor']:.3f} ({probe})")
        lines.extend(admission_lines(item))
    return "\n".join(lines)


def admission_lines(item: dict[str, Any]) -> list[str]:
    """Whether a standard board would rank this run, and every reason it would not."""
    if item["ranked"]:
        return ["  ranked: yes (passes every admission rule, docs/meshmark.md)"]
    lines = ["  ranked: no; the index keeps and shows it, but no board ranks it:"]
    lines += [
        f"  warning: {p['path'] or '(bundle)'}: {p['message']} [{p['rule']}]"
        for p in item["admission"]
    ]
    return lines
