"""Every API operation against its own OpenAPI schema, with generated requests (schemathesis).

The schema is the one the app serves at ``/api/schema/``, fetched from the Django
app in-process (WSGI), and the generated requests reach the real views and
middleware on the pytest-django PostgreSQL test database, as an organization
with a valid bearer token. For every operation the generated cases (valid and
invalid) must never get a 5xx, and every response must be one the schema
documents: status code, content type, headers and body.

Bounded for CI: MAX_EXAMPLES per operation, no shrinking, no deadline; the run
prints how many cases it made (``-s`` or the terminal summary line).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import yaml
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from rest_framework.throttling import SimpleRateThrottle
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ingest.models import Result
from tests.factories import make_bundle
from tests.pipeline import CILIUM, ISTIO, LINKERD, accept
from tests.smp.test_conformance import REPORTS

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 100
"""Generated cases per operation: all sixteen operations take ~35 s on 2 shared cores."""

CASES: Counter[str] = Counter()
SERVER_ERRORS: Counter[str] = Counter()


class InTransactionWSGIHandler(WSGIHandler):
    """Django's WSGI app, minus the per-request connection recycling.

    Django closes "old" connections when a request starts and finishes; inside a
    test's transaction that would drop it. Django's own test client disconnects
    the same handlers for the same reason.
    """

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            return super().__call__(environ, start_response)
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


# NDJSON bodies (the bulk endpoint) are documented as text: send the text as it is.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
# Fetched once, at collection, from the app itself: what it serves at /api/schema/.
schema = schemathesis.openapi.from_wsgi("/api/schema/", InTransactionWSGIHandler())


@pytest.fixture(scope="module", autouse=True)
def tally(request: pytest.FixtureRequest) -> Iterator[None]:
    CASES.clear()
    SERVER_ERRORS.clear()
    yield
    line = (
        f"schemathesis: {CASES.total()} cases over {len(CASES)} operations, "
        f"{SERVER_ERRORS.total()} 5xx"
    )
    # Shown even under output capture, like capsys.disabled().
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        print(f"\n{line}")


@pytest.fixture(autouse=True)
def world(org: Any, other_org: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Public results to read: accepted submissions through the real pipeline.
    for n, config in enumerate((ISTIO, LINKERD, CILIUM)):
        accept(org if n % 2 else other_org, config=config, p50=1.2 + n / 10, p99=4.0, n=n)
    # Generous rates so the cases reach the views; 429 is documented, and tested apart.
    rates = {name: "100000/minute" for name in SimpleRateThrottle.THROTTLE_RATES}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    cache.clear()


def call_and_check(case: Any, token: tuple[Any, str]) -> Any:
    headers = {"Authorization": f"Bearer {token[1]}"}
    response = case.call(headers=headers)
    CASES[case.operation.label] += 1
    if response.status_code >= 500:
        SERVER_ERRORS[case.operation.label] += 1
    case.validate_response(response, checks=CHECKS, headers=headers)
    return response


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_answers_as_its_schema_says(case: Any, token: tuple[Any, str]) -> None:
    call_and_check(case, token)


def test_the_successful_paths_conform_too(token: tuple[Any, str]) -> None:
    """What random generation rarely builds: a valid bundle, then reading it back."""
    bundle = make_bundle(labels={"source": "schemathesis"})
    submissions = schema["/api/v1/submissions"]["POST"]
    created = call_and_check(submissions.Case(body=bundle, media_type="application/json"), token)
    assert created.status_code == 202, created.text
    again = call_and_check(submissions.Case(body=bundle, media_type="application/json"), token)
    assert again.status_code == 200
    status = schema["/api/v1/submissions/{submission_id}"]["GET"].Case(
        path_parameters={"submission_id": json.loads(created.text)["id"]}
    )
    assert call_and_check(status, token).status_code == 200
    preview = schema["/api/v1/score"]["POST"].Case(body=bundle, media_type="application/json")
    assert call_and_check(preview, token).status_code == 200
    result = Result.objects.filter(role="mesh").first()
    assert result is not None
    detail = schema["/api/v1/results/{result_id}"]["GET"]
    for export in (None, "smp-json", "smp-yaml"):
        query = {"format": export} if export else {}
        case = detail.Case(path_parameters={"result_id": result.pk}, query=query)
        assert call_and_check(case, token).status_code == 200
    listing = schema["/api/v1/results"]["GET"]
    for query in ({}, {"format": "csv", "limit": 2}, {"format": "csv", "limit": "-1"}):
        call_and_check(listing.Case(query=query), token)


def test_throttled_and_refused_answers_conform_too(
    token: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """429 with its Retry-After header, 401 with WWW-Authenticate, 404 for an unknown path."""
    tight = {**SimpleRateThrottle.THROTTLE_RATES, "anon": "1/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", tight)
    profiles = schema["/api/v1/profiles"]["GET"]
    assert call_and_check(profiles.Case(), token).status_code == 200
    assert call_and_check(profiles.Case(), token).status_code == 429
    submissions = schema["/api/v1/submissions"]["POST"]
    wrong = submissions.Case(body={}, media_type="application/json")
    response = wrong.call(headers={"Authorization": "Bearer mm_deadbeef_wrong"})
    assert response.status_code == 401
    wrong.validate_response(response, checks=CHECKS)
    detail = schema["/api/v1/results/{result_id}"]["GET"]
    unknown = detail.Case(path_parameters={"result_id": "not-a-number"})
    assert call_and_check(unknown, token).status_code == 404


HOSTILE_TEXTS = ("\x00", "a\x00b", "\x1f", "x" * 5000)
HOSTILE_NUMBERS = (10**30, -(10**30), 2**63)


def test_nul_bytes_and_extreme_numbers_in_every_query_conform(token: tuple[Any, str]) -> None:
    """The probe's inputs, in every query parameter of every GET: documented answers, no 5xx."""
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() != "GET":
            continue
        path = {p.name: "http-1k" for p in operation.path_parameters}
        if "result_id" in path:
            path["result_id"] = str(Result.objects.values_list("pk", flat=True).first())
        if "submission_id" in path:
            path["submission_id"] = "00000000-0000-0000-0000-000000000000"
        for parameter in operation.query:
            kind = parameter.definition.get("schema", {}).get("type")
            values = HOSTILE_NUMBERS if kind == "integer" else HOSTILE_TEXTS
            for value in values:
                case = operation.Case(path_parameters=path, query={parameter.name: value})
                response = call_and_check(case, token)
                assert response.status_code < 500, (operation.label, parameter.name, value)


def test_extreme_figures_in_a_body_conform(token: tuple[Any, str]) -> None:
    bundle = make_bundle()
    bundle["mesh_config"]["sidecar"]["cpu_mcores"] = 1e308
    bundle["runs"][0]["start_time"] = "0001-01-01T00:00:00+14:00"
    bundle["runs"][1]["load_generator"]["name"] = "\x00"
    for label in ("/api/v1/score", "/api/v1/submissions"):
        case = schema[label]["POST"].Case(body=bundle, media_type="application/json")
        assert call_and_check(case, token).status_code == 400


def test_the_decision_endpoints_conform_on_their_successful_paths(
    token: tuple[Any, str], django_capture_on_commit_callbacks: Any
) -> None:
    """A real conformance report in, then the trend, conformance and cost answers out."""
    path = REPORTS / "v1.2.1/istio-istio/experimental-1.24-default-report.yaml"
    # As JSON (YAML's subset): schemathesis would send a YAML body as one quoted string.
    report = yaml.safe_load(path.read_text())
    upload = schema["/api/v1/conformance"]["POST"].Case(body=report, media_type="application/json")
    with django_capture_on_commit_callbacks(execute=True):
        created = call_and_check(upload, token)
    assert created.status_code == 202, created.text
    status = schema["/api/v1/submissions/{submission_id}"]["GET"].Case(
        path_parameters={"submission_id": json.loads(created.text)["id"]}
    )
    assert json.loads(call_and_check(status, token).text)["status"] == "accepted"
    trend = schema["/api/v1/meshes/{mesh}/trend"]["GET"]
    for query in ({}, {"profile": "http-1k"}):
        case = trend.Case(path_parameters={"mesh": "istio"}, query=query)
        assert call_and_check(case, token).status_code == 200
    reports = schema["/api/v1/meshes/{mesh}/conformance"]["GET"]
    for query in ({}, {"version": "1.24.1"}):
        answer = call_and_check(reports.Case(path_parameters={"mesh": "istio"}, query=query), token)
        assert json.loads(answer.text)["reports"]
    fleet = {"rps": 5000, "pods": 50, "clusters": 1, "calibration_score": 1200}
    got = call_and_check(schema["/api/v1/cost"]["GET"].Case(query=fleet), token)
    assert json.loads(got.text)["configurations"]
    posted = schema["/api/v1/cost"]["POST"].Case(body=fleet, media_type="application/json")
    assert call_and_check(posted, token).status_code == 200
