"""`smp-runner submit` against a live MeshMark server (real Django on PostgreSQL, eager tasks)."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from runner import submit as submit_module
from runner.cli import cli
from runner.submit import content_type_for, idempotency_key, retry_after_s

from ..factories import make_bundle

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def token(live_server: Any) -> str:
    from ingest import tokens
    from ingest.models import Profile
    from smp.profiles import standard_profiles

    # Transactional tests flush every table, the seeded profiles included.
    for profile in standard_profiles():
        Profile.objects.update_or_create(id=profile.id, defaults=profile.as_dict())
    organization = tokens.organization_create(slug="acme")
    _, secret = tokens.token_issue(organization=organization)
    return secret


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submit_module, "BACKOFF_BASE_S", 0.05)
    monkeypatch.setattr(submit_module, "POLL_INTERVAL_S", 0.05)


def bundle_file(tmp_path: Path, name: str = "bundle.json", **overrides: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(make_bundle(**overrides), indent=1))
    return path


def submit(server: str, token: str, *args: str) -> Any:
    env = {"SMP_SERVER": server, "SMP_TOKEN": token}
    return CliRunner().invoke(cli, ["submit", *args], env=env)


def submission_rows() -> list[Any]:
    from ingest.models import Submission

    return list(Submission.objects.order_by("received_at"))


def test_it_uploads_a_bundle_and_waits_for_the_verdict(
    live_server: Any, token: str, tmp_path: Path, fast_retries: None
) -> None:
    path = bundle_file(tmp_path)
    result = submit(live_server.url, token, str(path), "--wait")
    assert result.exit_code == 0, result.output
    [row] = submission_rows()
    assert row.status == "accepted" and bytes(row.raw) == path.read_bytes()
    assert row.content_type == "application/json"
    assert row.idempotency_key == idempotency_key(path.read_bytes())
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{path}: submitted as {row.pk} (")
    assert f"{path}: accepted (" in result.output
    results = list(row.results.order_by("run_index"))
    for line, res in zip(lines[2:], results, strict=True):
        assert line.startswith(f"  {res.role}: {live_server.url}/api/v1/results/{res.pk}")
    mesh_score = next(r for r in results if r.role == "mesh")
    detail = json.loads(
        CliRunner().invoke(cli, ["score", "--json", str(path)]).output
    )  # the local preview and the index agree on the score
    expected = detail["runs"][0]["meshmark"]["score"]
    assert lines[3] == (
        f"  mesh: {live_server.url}/api/v1/results/{mesh_score.pk}  MeshMark {expected:.1f}"
    )


def test_submitting_twice_returns_the_same_submission(
    live_server: Any, token: str, tmp_path: Path
) -> None:
    path = bundle_file(tmp_path)
    first = submit(live_server.url, token, str(path))
    second = submit(live_server.url, token, str(path))
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    [row] = submission_rows()
    assert f"submitted as {row.pk}" in first.output
    assert f"already submitted as {row.pk}" in second.output


def test_a_rejected_bundle_prints_every_reason_and_exits_nonzero(
    live_server: Any, token: str, tmp_path: Path, fast_retries: None
) -> None:
    doc = make_bundle(profile="http-9k")
    doc["runs"][1]["latencies_ms"]["p90"] = 99.0
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML; sent as application/yaml
    result = submit(live_server.url, token, str(path), "--wait")
    assert result.exit_code == 1, result.output
    [row] = submission_rows()
    assert row.status == "rejected" and row.content_type == "application/yaml"
    assert f"{path}: rejected" in result.output
    assert "  runs[1].latencies_ms.p95: p95 (" in result.output
    assert "[percentiles-ordered]" in result.output
    assert (
        "  profile: unknown profile 'http-9k'" in result.output
        and "[known-profile]" in result.output
    )


def test_a_wrong_token_is_refused_without_retrying(
    live_server: Any, token: str, tmp_path: Path
) -> None:
    result = submit(live_server.url, "mm_0000_nope", str(bundle_file(tmp_path)))
    assert result.exit_code == 1
    assert "the server refused the token (401)" in result.output
    assert submission_rows() == []


class FlakyProxy:
    """Answers the first ``failures`` POSTs with 503, then forwards everything to ``target``."""

    def __init__(self, target: str, failures: int) -> None:
        self.target = urlsplit(target)
        self.failures = failures
        self.posts: list[str] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy.forward(self, "GET", b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    proxy.posts.append(self.headers.get("Idempotency-Key", ""))
                    fail = len(proxy.posts) <= proxy.failures
                if fail:
                    self.send_response(503)
                    if len(proxy.posts) == 1:
                        self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                proxy.forward(self, "POST", body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def forward(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        connection = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=30)
        headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
        headers["Host"] = self.target.netloc
        connection.request(method, handler.path, body=body or None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        handler.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
        connection.close()

    def __enter__(self) -> FlakyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def flaky(live_server: Any) -> Iterator[FlakyProxy]:
    with FlakyProxy(live_server.url, failures=2) as proxy:
        yield proxy


def test_it_retries_503_answers_with_the_same_idempotency_key(
    live_server: Any, token: str, tmp_path: Path, flaky: FlakyProxy, fast_retries: None
) -> None:
    path = bundle_file(tmp_path)
    result = submit(flaky.url, token, str(path), "--wait")
    assert result.exit_code == 0, result.output
    assert flaky.posts == [idempotency_key(path.read_bytes())] * 3
    [row] = submission_rows()
    assert row.status == "accepted"


def test_it_gives_up_on_an_unreachable_server_with_a_clear_message(
    tmp_path: Path, fast_retries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submit_module, "MAX_ATTEMPTS", 2)
    from runner.processes import free_port

    result = submit(f"http://127.0.0.1:{free_port()}", "mm_x_y", str(bundle_file(tmp_path)))
    assert result.exit_code == 1
    assert "failed after 2 attempts" in result.output
    assert "ConnectError" in result.output


def test_submit_needs_a_server_and_a_token(tmp_path: Path) -> None:
    path = str(bundle_file(tmp_path))
    no_server = CliRunner().invoke(cli, ["submit", path], env={"SMP_SERVER": "", "SMP_TOKEN": "t"})
    assert no_server.exit_code == 2 and "--server URL or set SMP_SERVER" in no_server.output
    no_token = CliRunner().invoke(
        cli, ["submit", path], env={"SMP_SERVER": "http://x", "SMP_TOKEN": ""}
    )
    assert no_token.exit_code == 2 and "--token TOKEN or set SMP_TOKEN" in no_token.output


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    now = dt.datetime(2026, 11, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert retry_after_s("7") == 7.0
    assert retry_after_s("Sun, 01 Nov 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_s("Sun, 01 Nov 2026 11:00:00 GMT", now) == 0.0
    assert retry_after_s(None) is None and retry_after_s("soon") is None


def test_the_content_type_follows_the_extension_then_the_content() -> None:
    assert content_type_for(Path("b.json"), b"x: 1") == "application/json"
    assert content_type_for(Path("b.yml"), b"{}") == "application/yaml"
    assert content_type_for(Path("bundle"), b'  {"runs": []}') == "application/json"
    assert content_type_for(Path("bundle"), b"runs: []") == "application/yaml"
