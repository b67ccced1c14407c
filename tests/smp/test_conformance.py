"""Reading Gateway API conformance reports: every real report upstream, and each trap."""

from __future__ import annotations

from pathlib import Path

import pytest

from smp.conformance import comparable_features, read_conformance
from tests.factories import multipart_form

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real-data"
REPORTS = REAL / "gateway-api" / "conformance" / "reports"

VERSION = ("rejected", "implementation.version")
PROJECT = ("rejected", "implementation.project")
API_VERSION = ("rejected", "apiVersion")
# Every upstream report with a mesh profile, and what the index makes of it.
EXPECTED = {
    "v0.7.1/istio-istio/pull-46148-report.yaml": VERSION,
    "v0.7.1/kumahq-kuma/0.0.0-preview.vcf063c043-report.yaml": VERSION,
    "v0.8.0/kumahq-kuma/2.4.1-report.yaml": ("kuma", "2.4.1"),
    "v1.0.0/istio-istio/1.20-report.yaml": ("istio", "1.20"),
    "v1.0.0/kumahq-kuma/2.6.0-report.yaml": ("kuma", "2.6.0"),
    "v1.1.0/cilium-cilium/experimental-1.16-default-report.yaml": ("cilium", "1.16.0"),
    "v1.1.0/istio-istio/experimental-1.22-default-report.yaml": ("istio", "1.22"),
    "v1.2.0/cilium-cilium/experimental-1.17-default-report.yaml": VERSION,
    "v1.2.0/istio-istio/experimental-1.24-default-report.yaml": ("istio", "1.24"),
    "v1.2.1/cilium-cilium/experimental-1.17-default-report.yaml": ("cilium", "1.17"),
    "v1.2.1/istio-istio/experimental-1.24-default-report.yaml": ("istio", "1.24"),
    "v1.3.0/alibaba-cloud-servicemesh/experimental-1.27-default-report.yaml": PROJECT,
    "v1.3.0/buoyant-enterprise-for-linkerd/standard-2.18-default-report.yaml": PROJECT,
    "v1.3.0/cilium-cilium/experimental-main-default-report.yaml": VERSION,
    "v1.3.0/istio-istio/experimental-1.26.1-default-report.yaml": ("istio", "1.26.1"),
    "v1.3.0/linkerd-linkerd/standard-2.18-default-report.yaml": ("linkerd", "2.18"),
    "v1.4.0/cilium/experimental-v1.19.0-pre.2-default-report.yaml": API_VERSION,
    "v1.4.0/istio-istio/1.28.0-default-report.yaml": ("istio", "1.28"),
    "v1.5/cilium/experimental-v1.20.0-pre.2-default-report.yaml": VERSION,
    "v1.5/istio-istio/1.30.0-default-report.yaml": ("istio", "1.30.1"),
    "v1.6/cilium/experimental-v1.20.0-default-report.yaml": ("cilium", "1.20.0"),
    "v1.6/cilium/standard-v1.20.0-default-report.yaml": ("cilium", "1.20.0"),
}


def read(name: str) -> bytes:
    path = REPORTS / name
    if not path.is_file():
        pytest.fail(f"the real report {path} is missing (../shared/real-data)")
    return path.read_bytes()


def test_every_upstream_report_is_covered() -> None:
    found = {str(p.relative_to(REPORTS)) for p in REPORTS.rglob("*.yaml")}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_upstream_report_gets_its_verdict(name: str) -> None:
    reading = read_conformance(read(name), "application/yaml")
    first, second = EXPECTED[name]

    if first == "rejected":
        assert not reading.ok and reading.document is None
        assert second in {p.path for p in reading.problems}, reading.problems
        assert all(p.message for p in reading.problems)
    else:
        assert reading.ok, reading.problems
        assert reading.document is not None
        assert (reading.document.mesh_type, reading.document.mesh_version) == (first, second)
        assert reading.document.profiles
        assert all(p.name in ("MESH-HTTP", "MESH-GRPC") for p in reading.document.profiles)


def test_an_unquoted_version_is_read_as_its_text_with_a_warning() -> None:
    reading = read_conformance(read("v1.0.0/istio-istio/1.20-report.yaml"))

    assert reading.document is not None
    assert reading.document.mesh_version == "1.20"  # not 1.2: it would match Istio 1.2.x
    assert reading.document.reported_version == "1.20"
    [warning] = [w for w in reading.warnings if w.rule == "unquoted-version"]
    assert "the number 1.2" in warning.message and "'1.20'" in warning.message


def test_the_pre_v1_1_mesh_profile_reads_as_mesh_http_and_says_so() -> None:
    reading = read_conformance(read("v1.0.0/istio-istio/1.20-report.yaml"))

    assert reading.document is not None
    [profile] = reading.document.profiles
    assert (profile.name, profile.reported_name, profile.legacy) == ("MESH-HTTP", "MESH", True)
    assert profile.core_passed == 2 and profile.passed
    assert profile.extended_result == "partial" and profile.skipped_tests == [
        "MeshFrontendHostname"
    ]
    assert len(profile.supported_features) == 12
    assert reading.document.other_profiles == ["TLS", "HTTP"]
    assert any(w.rule == "legacy-profile" for w in reading.warnings)


def test_a_partial_profile_keeps_its_skipped_tests_and_unsupported_features() -> None:
    # Cilium's v1.5 report: MESH-HTTP partial, one core and one extended test skipped.
    body = read("v1.5/cilium/experimental-v1.20.0-pre.2-default-report.yaml")
    form, content_type = multipart_form({"mesh_version": "1.20.0"}, {"report": [("r.yaml", body)]})

    reading = read_conformance(form, content_type)

    assert reading.document is not None
    http = next(p for p in reading.document.profiles if p.name == "MESH-HTTP")
    assert http.core_result == "partial" and not http.passed
    assert http.skipped_tests == ["MeshHTTPRouteMatching", "MeshHTTPRouteNamedRule"]
    assert http.unsupported_features == ["MeshConsumerRoute"]
    assert reading.document.mesh_version == "1.20.0"


def test_a_distribution_is_accepted_when_the_form_says_which_mesh_it_is() -> None:
    body = read("v1.3.0/buoyant-enterprise-for-linkerd/standard-2.18-default-report.yaml")
    form, content_type = multipart_form(
        {"mesh_type": "linkerd", "mesh_version": "2.18"}, {"report": [("r.yaml", body)]}
    )

    reading = read_conformance(form, content_type)

    assert reading.ok and reading.document is not None
    assert (reading.document.mesh_type, reading.document.project) == (
        "linkerd",
        "Buoyant Enterprise for Linkerd",
    )


def test_the_mangled_api_version_is_named_with_its_hint() -> None:
    reading = read_conformance(read("v1.4.0/cilium/experimental-v1.19.0-pre.2-default-report.yaml"))

    [problem] = [p for p in reading.problems if p.path == "apiVersion"]
    assert problem.rule == "api-version" and "'<Right>apiVersion'" in problem.message


def test_the_smi_export_is_refused_with_the_reason() -> None:
    path = REAL / "meshery.io" / "smi.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing")

    reading = read_conformance(path.read_bytes(), "application/json")

    assert reading.unsupported and not reading.ok
    [problem] = reading.problems
    assert problem.rule == "smi-conformance" and "archived" in problem.message


@pytest.mark.parametrize(
    ("body", "path", "rule"),
    [
        (b"kind: ConformanceReport\nprofiles: [\n", "", "malformed"),
        (b"a: &x 1\nb: *x\n", "", "malformed"),
        (b"- 1\n- 2\n", "", "type"),
        (b"kind: Gateway\n", "kind", "kind"),
        (b"kind: ConformanceReport\nkind: ConformanceReport\n", "", "malformed"),
    ],
)
def test_what_is_not_a_report_is_named(body: bytes, path: str, rule: str) -> None:
    reading = read_conformance(body)

    assert not reading.ok
    assert (reading.problems[0].path, reading.problems[0].rule) == (path, rule)


REPORT = b"""apiVersion: gateway.networking.k8s.io/v1
kind: ConformanceReport
gatewayAPIVersion: v1.3.0
implementation: {project: istio, version: "1.26.1"}
profiles:
- name: MESH-HTTP
  core: {result: success, statistics: {Passed: 7, Failed: 0, Skipped: 0}}
"""


@pytest.mark.parametrize(
    ("change", "path", "rule"),
    [
        ((b"Passed: 7", b"Passed: -1"), "profiles[0].core.statistics.Passed", "count"),
        ((b"result: success", b"result: great"), "profiles[0].core.result", "enum"),
        ((b"name: MESH-HTTP", b"name: GATEWAY-HTTP"), "profiles", "mesh-profile"),
        ((b"project: istio", b"project: envoy-gateway"), "implementation.project", "known-mesh"),
        ((b'version: "1.26.1"', b"version: main"), "implementation.version", "release"),
    ],
)
def test_each_rule_names_its_field(change: tuple[bytes, bytes], path: str, rule: str) -> None:
    assert read_conformance(REPORT).ok

    reading = read_conformance(REPORT.replace(*change))

    assert (path, rule) in {(p.path, p.rule) for p in reading.problems}, reading.problems


def test_feature_lists_compare_in_full_only_on_the_same_side_of_v1_4() -> None:
    assert comparable_features("v1.3.0", "v1.2.1") == (False, "")
    assert comparable_features("v1.5.1", "v1.6.1") == (False, "")
    mesh_only, reason = comparable_features("v1.3.0", "v1.5.1")
    assert mesh_only and "from v1.4" in reason
    assert comparable_features("4c436290f2", "v1.0.0")[0]
