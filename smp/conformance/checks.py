"""The rules a report is held to, field by field; every problem names its path and rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smp.conformance.model import (
    API_GROUP,
    LEGACY_PROFILES,
    MAX_LIST,
    MAX_PROFILES,
    MAX_TEXT,
    MESH_PROFILES,
    PROJECTS,
    RESULTS,
    ConformanceDocument,
    ConformanceReading,
    ProfileReport,
    VersionText,
    kind_of,
)
from smp.errors import Problem
from smp.model import MESH_TYPES
from smp.versions import release_of


def _text(doc: Mapping[str, Any], key: str, path: str, problems: list[Problem]) -> str:
    value = doc.get(key)
    if value is None:
        return ""
    if isinstance(value, bool | dict | list):
        problems.append(Problem(path, "type", f"{path} must be text, got {kind_of(value)}"))
        return ""
    text = str(value)
    if len(text) > MAX_TEXT:
        problems.append(Problem(path, "max-string-length", f"{path} is over {MAX_TEXT} characters"))
        return ""
    return text


def _names(value: Any, path: str, problems: list[Problem]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(Problem(path, "type", f"{path} must be a list of names"))
        return []
    if len(value) > MAX_LIST:
        problems.append(Problem(path, "max-items", f"{path} lists over {MAX_LIST} names"))
        return []
    return list(value)


def _statistics(part: Mapping[str, Any], path: str, problems: list[Problem]) -> tuple[int, ...]:
    stats = part.get("statistics")
    if not isinstance(stats, dict):
        problems.append(Problem(f"{path}.statistics", "required", f"{path} needs statistics"))
        return (0, 0, 0)
    out = []
    for key in ("Passed", "Failed", "Skipped"):
        value = stats.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(
                Problem(
                    f"{path}.statistics.{key}",
                    "count",
                    f"{path}.statistics.{key} must be a whole number, 0 or more; got {value!r}",
                )
            )
            value = 0
        out.append(value)
    return tuple(out)


def _result(part: Mapping[str, Any], path: str, problems: list[Problem]) -> str:
    result = part.get("result")
    if result not in RESULTS:
        problems.append(
            Problem(
                f"{path}.result",
                "enum",
                f"{path}.result must be one of {', '.join(RESULTS)}; got {result!r}",
            )
        )
        return "failure"
    return str(result)


def _profile(entry: Any, index: int, problems: list[Problem]) -> ProfileReport | str | None:
    """A mesh profile, the name of another profile, or None (a problem was recorded)."""
    path = f"profiles[{index}]"
    if not isinstance(entry, dict):
        problems.append(Problem(path, "type", f"{path} must be a mapping"))
        return None
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        problems.append(Problem(f"{path}.name", "required", f"{path} needs a name"))
        return None
    canonical = LEGACY_PROFILES.get(name, name)
    if canonical not in MESH_PROFILES:
        return name
    core = entry.get("core")
    if not isinstance(core, dict):
        problems.append(Problem(f"{path}.core", "required", f"{path} ({name}) needs a core part"))
        return None
    passed, failed, skipped = _statistics(core, f"{path}.core", problems)
    profile = ProfileReport(
        name=canonical,
        reported_name=name,
        core_result=_result(core, f"{path}.core", problems),
        core_passed=passed,
        core_failed=failed,
        core_skipped=skipped,
        skipped_tests=_names(core.get("skippedTests"), f"{path}.core.skippedTests", problems),
        failed_tests=_names(core.get("failedTests"), f"{path}.core.failedTests", problems),
    )
    extended = entry.get("extended")
    if extended is not None:
        if not isinstance(extended, dict):
            problems.append(
                Problem(f"{path}.extended", "type", f"{path}.extended must be a mapping")
            )
            return profile
        base = f"{path}.extended"
        profile.extended_result = _result(extended, base, problems)
        (profile.extended_passed, profile.extended_failed, profile.extended_skipped) = _statistics(
            extended, base, problems
        )
        profile.supported_features = sorted(
            _names(extended.get("supportedFeatures"), f"{base}.supportedFeatures", problems)
        )
        profile.unsupported_features = sorted(
            _names(extended.get("unsupportedFeatures"), f"{base}.unsupportedFeatures", problems)
        )
        profile.skipped_tests += _names(
            extended.get("skippedTests"), f"{base}.skippedTests", problems
        )
        profile.failed_tests += _names(extended.get("failedTests"), f"{base}.failedTests", problems)
    return profile


def check_document(
    doc: dict[str, Any], fields: Mapping[str, str], reading: ConformanceReading
) -> None:
    problems, warnings = reading.problems, reading.warnings
    api_version = _text(doc, "apiVersion", "apiVersion", problems)
    if not api_version.startswith(API_GROUP):
        mangled = [
            k for k in doc if isinstance(k, str) and k != "apiVersion" and k.endswith("apiVersion")
        ]
        hint = f" (the report has a key {mangled[0]!r}: a mangled apiVersion?)" if mangled else ""
        problems.append(
            Problem(
                "apiVersion",
                "api-version",
                f"apiVersion must be {API_GROUP}<version>, got {api_version or 'nothing'}{hint}",
            )
        )
    gateway_version = _text(doc, "gatewayAPIVersion", "gatewayAPIVersion", problems)
    if gateway_version and release_of(gateway_version) is None:
        warnings.append(
            Problem(
                "gatewayAPIVersion",
                "release",
                f"gatewayAPIVersion {gateway_version[:60]!r} is not a Gateway API release; this "
                "report's feature lists cannot be compared with other reports'",
            )
        )
    implementation = doc.get("implementation")
    if not isinstance(implementation, dict):
        problems.append(Problem("implementation", "required", "the report needs an implementation"))
        implementation = {}
    project = _text(implementation, "project", "implementation.project", problems)
    raw_version = implementation.get("version")
    reported_version = _text(implementation, "version", "implementation.version", problems)
    if isinstance(raw_version, VersionText):
        warnings.append(
            Problem(
                "implementation.version",
                "unquoted-version",
                f"implementation.version {reported_version} is written without quotes, so YAML "
                f"reads it as the number {float(reported_version):g}; it is read as the text "
                f"{reported_version!r}",
            )
        )
    mesh_type = _mesh_type(project, fields.get("mesh_type", ""), problems)
    mesh_version = _mesh_version(reported_version, fields.get("mesh_version", ""), problems)
    raw_profiles = doc.get("profiles")
    if not isinstance(raw_profiles, list) or not raw_profiles:
        problems.append(Problem("profiles", "required", "the report lists no profiles"))
        raw_profiles = []
    if len(raw_profiles) > MAX_PROFILES:
        problems.append(Problem("profiles", "max-items", f"over {MAX_PROFILES} profiles"))
        raw_profiles = []
    profiles: list[ProfileReport] = []
    others: list[str] = []
    for index, entry in enumerate(raw_profiles):
        found = _profile(entry, index, problems)
        if isinstance(found, ProfileReport):
            if found.legacy:
                warnings.append(
                    Problem(
                        f"profiles[{index}].name",
                        "legacy-profile",
                        f"profile {found.reported_name} is the name before Gateway API v1.1 "
                        f"of {found.name}; it is shown as {found.name}",
                    )
                )
            profiles.append(found)
        elif isinstance(found, str):
            others.append(found)
    names = [p.name for p in profiles]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(
            Problem("profiles", "unique", f"profile {', '.join(duplicates)} is listed twice")
        )
    if raw_profiles and not profiles and not any(p.path.startswith("profiles[") for p in problems):
        problems.append(
            Problem(
                "profiles",
                "mesh-profile",
                "the report has no mesh profile (MESH-HTTP, MESH-GRPC, or MESH before Gateway "
                f"API v1.1), only {', '.join(others)}: the index keeps mesh conformance only",
            )
        )
    if problems:
        return
    reading.document = ConformanceDocument(
        api_version=api_version,
        gateway_api_version=gateway_version,
        gateway_api_channel=_text(doc, "gatewayAPIChannel", "gatewayAPIChannel", problems),
        mode=_text(doc, "mode", "mode", problems),
        date=_text(doc, "date", "date", problems),
        project=project,
        implementation_organization=_text(
            implementation, "organization", "implementation.organization", problems
        ),
        url=_text(implementation, "url", "implementation.url", problems),
        reported_version=reported_version,
        mesh_type=mesh_type,
        mesh_version=mesh_version,
        profiles=profiles,
        other_profiles=others,
    )


def _mesh_type(project: str, given: str, problems: list[Problem]) -> str:
    known = ", ".join(t for t in MESH_TYPES if t != "none")
    if given:
        if given.lower() not in MESH_TYPES or given.lower() == "none":
            problems.append(
                Problem(
                    "mesh_type",
                    "known-mesh",
                    f"mesh_type {given!r} is not a mesh the index knows: {known}",
                )
            )
            return ""
        return given.lower()
    mesh = PROJECTS.get(project.strip().lower())
    if mesh is None:
        problems.append(
            Problem(
                "implementation.project",
                "known-mesh",
                f"implementation.project {project!r} does not name a mesh the index knows; send "
                f"the report in a form with a mesh_type field (one of: {known})",
            )
        )
        return ""
    return mesh


def _mesh_version(reported: str, given: str, problems: list[Problem]) -> str:
    if given:
        release = release_of(given)
        if release is None:
            problems.append(
                Problem(
                    "mesh_version",
                    "release",
                    f"mesh_version {given!r} is not a release, e.g. 1.24 or 1.24.1",
                )
            )
            return ""
        return release
    release = release_of(reported)
    if release is None:
        problems.append(
            Problem(
                "implementation.version",
                "release",
                f"implementation.version {reported[:80]!r} is not a release (a branch, a "
                "pre-release or a build), so the report cannot be matched to mesh versions; send "
                "it in a form with the mesh_version it was built from",
            )
        )
        return ""
    return release
