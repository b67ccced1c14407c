"""The cost page and API: figures recomputed by hand from the stored runs, inputs, links."""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ingest.models import LeaderboardEntry, MeshConfig, Organization, Result
from tests import pipeline
from tests.factories import make_bundle, make_run

pytestmark = pytest.mark.django_db

FLEET = {
    "rps": 20000,
    "pods": 400,
    "clusters": 2,
    "usd_per_vcpu_hour": 0.05,
    "usd_per_gib_hour": 0.006,
}


def accept(org: Organization, config: dict[str, Any], sidecar_mcores: float, n: int) -> None:
    doc_overrides = {
        "mesh_config": {
            **config,
            "sidecar": {"count": 2, "cpu_mcores": sidecar_mcores, "mem_mb": 80.0 + n},
            "mesh_control_plane": {"count": 1, "cpu_mcores": 40.0 + n, "mem_mb": 300.0},
        }
    }
    pipeline.accept(org, config=config, p50=1.5 + n / 100, p99=4.5 + n / 50, n=n, **doc_overrides)


@pytest.fixture
def priced(org: Organization) -> dict[str, int]:
    for i in range(6):
        accept(org, pipeline.ISTIO, sidecar_mcores=600.0 + 20 * i, n=i)
        accept(org, pipeline.LINKERD, sidecar_mcores=300.0 + 10 * i, n=i)
    accept(org, pipeline.CILIUM, sidecar_mcores=450.0, n=0)  # one run: no interval
    return {m.mesh_type: m.pk for m in MeshConfig.objects.all()}


def by_hand(config_id: int, fleet: dict[str, float]) -> float:
    """The median $ per month of a configuration's runs, straight from the stored columns."""
    result_ids = LeaderboardEntry.objects.filter(
        mesh_config_id=config_id, complete=True, listed=True, is_outlier=False
    ).values_list("result_id", flat=True)
    costs = []
    for run in Result.objects.filter(pk__in=list(result_ids)):
        factor = run.calibration_score / 1000 if run.calibration_score else 1.0
        per_1k = (run.sidecar_cpu_mcores + (run.gateway_cpu_mcores or 0)) / (run.actual_qps / 1000)
        vcpu = (
            per_1k * factor * fleet["rps"] / 1000
            + run.control_plane_cpu_mcores * factor * fleet["clusters"]
        ) / 1000
        gib = (
            run.sidecar_mem_mb / run.sidecar_count * fleet["pods"]
            + run.control_plane_mem_mb * fleet["clusters"]
        ) / 1024
        costs.append((vcpu * fleet["usd_per_vcpu_hour"] + gib * fleet["usd_per_gib_hour"]) * 730)
    return statistics.median(costs)


def test_the_projection_is_the_median_of_the_runs_priced_by_hand(
    priced: dict[str, int],
) -> None:
    body = Client().get("/api/v1/cost", {**FLEET, "profile": "http-1k"}).json()

    configs = {c["mesh_type"]: c for c in body["configurations"]}
    for mesh in ("istio", "linkerd", "cilium"):
        usd = configs[mesh]["usd_per_month"]
        assert usd["median"] == pytest.approx(by_hand(priced[mesh], FLEET), rel=1e-9)
    istio = configs["istio"]["usd_per_month"]
    assert istio["low"] < istio["median"] < istio["high"] and istio["n"] == 6
    assert configs["cilium"]["usd_per_month"]["low"] is None  # one run, no interval
    assert configs["cilium"]["meshmark"]["ci_low"] is None
    medians = [c["usd_per_month"]["median"] for c in body["configurations"]]
    assert medians == sorted(medians)  # cheapest first
    assert body["defaults"] == []
    assert len(body["assumptions"]) == 6
    assert "per 1,000 requests/s" in body["assumptions"][0]


def test_left_out_figures_take_the_example_values_and_say_so(priced: dict[str, int]) -> None:
    body = Client().get("/api/v1/cost", {"rps": 5000}).json()

    assert body["defaults"] == ["pods", "clusters", "usd_per_vcpu_hour", "usd_per_gib_hour"]
    assert body["fleet"]["rps"] == 5000 and body["fleet"]["pods"] == 200
    assert body["fleet"]["speed_factor"] == 1.0


def test_post_and_get_answer_the_same(priced: dict[str, int]) -> None:
    got = Client().get("/api/v1/cost", FLEET).json()
    posted = Client().post("/api/v1/cost", FLEET, content_type="application/json").json()

    assert posted == got


def test_faster_machines_need_fewer_vcpus(priced: dict[str, int]) -> None:
    base = Client().get("/api/v1/cost", FLEET).json()["configurations"][0]
    fast = Client().get("/api/v1/cost", {**FLEET, "calibration_score": 2000}).json()
    same = next(c for c in fast["configurations"] if c["mesh_config_id"] == base["mesh_config_id"])

    assert same["vcpu"]["median"] == pytest.approx(base["vcpu"]["median"] / 2)
    assert same["gib"]["median"] == pytest.approx(base["gib"]["median"])


def test_the_profile_defaults_to_the_one_nearest_the_rate_per_pod(
    priced: dict[str, int], org: Organization
) -> None:
    # An http-100 pair that held its rate, so that the admission rules rank it.
    doc = make_bundle(
        profile="http-100",
        runs=[
            make_run("baseline", p50=1.0, p99=3.0, qps=99.0),
            make_run("mesh", p50=1.6, p99=5.5, qps=99.0),
        ],
    )
    for run in doc["runs"]:
        run["profile_id"], run["requested_qps"] = "http-100", 100.0
        run["connections"], run["duration_s"], run["end_time"] = 4, 600.0, "2026-11-01T10:10:00Z"
        run["request_count"] = 99 * 600
        run["status_codes"] = {"200": 99 * 600}
    pipeline.process_bundle(org, doc)

    near_100 = Client().get("/api/v1/cost", {"rps": 10_000, "pods": 100}).json()  # 100/pod
    near_1k = Client().get("/api/v1/cost", {"rps": 100_000, "pods": 100}).json()  # 1000/pod

    assert near_100["profile"]["id"] == "http-100" and near_100["rate_per_pod"] == 100
    assert near_1k["profile"]["id"] == "http-1k"


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"rps": -5}, "rps", "min-value"),
        ({"pods": "many"}, "pods", "invalid"),
        ({"calibration_score": 0}, "calibration_score", "min-value"),
        ({"configs": "3,x"}, "configs", "invalid"),
        ({"usd_per_gib_hour": "nan"}, "usd_per_gib_hour", "invalid"),
    ],
)
def test_bad_figures_are_named_with_their_rule(
    priced: dict[str, int], params: dict[str, Any], field: str, rule: str
) -> None:
    response = Client().get("/api/v1/cost", params)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    [problem] = response.json()["errors"]
    assert (problem["path"], problem["rule"]) == (field, rule)
    page = Client().get("/cost", params)
    assert page.status_code == 400 and field in page.content.decode()


def test_an_unknown_profile_is_404(priced: dict[str, int]) -> None:
    response = Client().get("/api/v1/cost", {"profile": "http-9k"})

    assert response.status_code == 404
    assert response.json()["errors"][0]["path"] == "profile"


def test_the_page_labels_examples_and_shows_the_apis_figures(priced: dict[str, int]) -> None:
    page = Client().get("/cost")
    api = Client().get("/api/v1/cost").json()

    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="example"') == 5
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Example figures in use" in text
    for config in api["configurations"]:
        usd = config["usd_per_month"]
        assert f"${usd['median']:.0f}" in text
    assert "one run, no interval" in text
    assert api["assumptions"][2].split(";")[0] in text
    assert 'href="/meshes/istio"' in html


def test_a_result_and_a_comparison_link_to_the_cost_page_prefilled(
    priced: dict[str, int],
) -> None:
    result = Result.objects.filter(role="mesh", mesh_config_id=priced["istio"]).first()
    assert result is not None
    html = Client().get(f"/results/{result.pk}").content.decode()
    link = re.search(r'<a href="([^"]+)" id="cost-link">', html)
    assert link is not None
    url = link.group(1).replace("&amp;", "&")
    assert f"configs={priced['istio']}" in url and "profile=http-1k" in url
    page = Client().get(url).content.decode()
    assert page.count("<tr data-config=") == 1

    ids = f"{priced['istio']},{priced['linkerd']}"
    compare = Client().get("/compare", {"profile": "http-1k", "configs": ids}).content.decode()
    link = re.search(r'<a href="([^"]+)" id="cost-link">', compare)
    assert link is not None
    page = Client().get(link.group(1).replace("&amp;", "&")).content.decode()
    assert page.count("<tr data-config=") == 2


def test_the_cost_page_queries_are_bounded(
    priced: dict[str, int], django_assert_max_num_queries: Callable[..., Any]
) -> None:
    Client().get("/cost")  # another fleet: reads the board and its runs
    # the boards' state, profiles, ranked profiles, the board's state, profiles for the form
    with django_assert_max_num_queries(5):
        assert Client().get("/cost", FLEET).status_code == 200
    with django_assert_max_num_queries(1):  # the boards' state: the body is cached
        assert Client().get("/cost", FLEET).status_code == 200
    with django_assert_max_num_queries(4):  # the projection itself is cached by now
        assert Client().get("/api/v1/cost", FLEET).status_code == 200
    with django_assert_max_num_queries(1):
        assert Client().get("/api/v1/cost", FLEET).status_code == 200


def test_a_new_run_reaches_the_cached_cost_answer(
    priced: dict[str, int], org: Organization
) -> None:
    before = Client().get("/api/v1/cost", FLEET).json()
    runs = {c["mesh_type"]: c["runs"] for c in before["configurations"]}

    accept(org, pipeline.CILIUM, sidecar_mcores=450.0, n=1)

    after = {c["mesh_type"]: c["runs"] for c in Client().get("/api/v1/cost", FLEET).json()[
        "configurations"]}  # fmt: skip
    assert after["cilium"] == runs["cilium"] + 1


def test_an_empty_index_says_what_to_run(db: Any) -> None:
    page = Client().get("/cost")

    assert page.status_code == 200
    assert "meshmark seed_demo" in page.content.decode()
