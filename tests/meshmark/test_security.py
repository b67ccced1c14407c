"""Production hardening: the deploy checklist, security headers, the CSP, pip-audit."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parents[2]
TEST_DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")

# What the settings compute when DEBUG is off, for tests running in this process.
PRODUCTION = {
    "DEBUG": False,
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "SECURE_SSL_REDIRECT": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
}


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret_key"
    secret_file.write_text(secrets.token_urlsafe(60))
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "meshmark.settings",
        "DEBUG": "false",
        "SECRET_KEY_FILE": str(secret_file),
        "ALLOWED_HOSTS": "meshmark.example.org",
        "DATABASE_URL": TEST_DATABASE_URL,
        # Production shares throttle counts in Redis (ingest.W001 otherwise).
        "CACHE_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    }
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "no issues" in proc.stdout


@pytest.fixture
def production_client() -> Iterator[Client]:
    # SecurityMiddleware reads its settings when the client builds the middleware
    # chain (on the first request), so the override must already be active then.
    with override_settings(**PRODUCTION):
        yield Client()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/api/v1/profiles", "/healthz"])
def test_pages_api_and_healthz_carry_the_security_headers(
    production_client: Client, path: str
) -> None:
    response = production_client.get(path, secure=True)
    assert response["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    csp = response["Content-Security-Policy"]
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'self'",
    ]:
        assert directive + ";" in csp + ";", f"{directive!r} missing from {csp!r}"
    assert "unsafe-inline" not in csp
    assert "camera=()" in response["Permissions-Policy"]


@pytest.mark.django_db
def test_hsts_is_sent_only_over_https(production_client: Client) -> None:
    assert "Strict-Transport-Security" not in production_client.get("/healthz")
    assert "Strict-Transport-Security" in production_client.get("/healthz", secure=True)


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https_except_probes_and_scrapes(
    production_client: Client,
) -> None:
    response = production_client.get("/api/v1/profiles")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/api/v1/profiles"
    assert production_client.get("/healthz").status_code == 200
    assert production_client.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_a_tls_proxy_header_marks_requests_secure_when_configured() -> None:
    with override_settings(
        **PRODUCTION, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")
    ):
        client = Client()
        response = client.get("/api/v1/profiles", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert "Strict-Transport-Security" in response


def test_the_production_switches_follow_debug_and_the_proxy_header_is_parsed() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER, s.LOG_FORMAT)"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "meshmark.settings",
        "DEBUG": "false",
        "SECRET_KEY": "x" * 50,
        "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "31536000",
        "True",
        "True",
        "True",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "json",
    ]


def test_a_malformed_proxy_header_setting_fails_loudly() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "meshmark.settings",
        "SECURE_PROXY_SSL_HEADER": "https",
    }
    proc = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER must look like" in proc.stderr


# --- The CSP against what the pages and the API docs actually do ------------

INLINE_CODE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/(?:ld\+)?json)[^>]*>"), "script"),
    (re.compile(r"<style\b"), "<style> block"),
    (re.compile(r"\sstyle=[\"']"), "style attribute"),
    (re.compile(r"\son[a-z]+=[\"']"), "event handler attribute"),
    (re.compile(r"javascript:"), "javascript: URL"),
]


def test_templates_contain_no_inline_script_or_style_that_the_csp_would_block() -> None:
    found = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        for number, line in enumerate(template.read_text().splitlines(), start=1):
            for pattern, what in INLINE_CODE:
                if pattern.search(line):
                    found.append(f"{template.relative_to(ROOT)}:{number}: inline {what}")
    assert found == [], "the CSP blocks these; move them into static files:\n" + "\n".join(found)


@pytest.mark.django_db
def test_swagger_ui_loads_its_init_script_from_a_file_and_only_its_own_style_inline(
    client: Client,
) -> None:
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert '<script src="/api/docs/?script="></script>' in html
    style_src = re.search(r"style-src ([^;]*)", page["Content-Security-Policy"])
    assert style_src is not None
    assert "'unsafe-inline'" not in style_src.group(1)
    assert "'sha256-" in style_src.group(1)
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_swagger_ui_renders_under_the_csp_in_a_real_browser(live_server: object) -> None:
    # Not skipped when missing: scripts/ensure-system-packages.sh installs chromium for CI.
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium is not None, "chromium is not installed (make system-packages)"
    proc = subprocess.run(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
            f"{live_server}/api/docs/",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    violations = [line for line in proc.stderr.splitlines() if "Content Security Policy" in line]
    assert violations == []
    assert 'data-path="/api/v1/profiles"' in proc.stdout, proc.stdout[-2000:]


# --- scripts/audit.sh -------------------------------------------------------

FAKE_PIP_AUDIT = """#!/usr/bin/env bash
out=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--output" ]; then out="$2"; shift; fi
  shift
done
{body}
"""


def _audit(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "pip-audit"
    fake.write_text(FAKE_PIP_AUDIT.format(body=body))
    fake.chmod(0o755)
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "audit.sh")],
        cwd=ROOT,
        env={**os.environ, "PIP_AUDIT": str(fake)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _report(*dependencies: dict[str, object]) -> str:
    return json.dumps({"dependencies": list(dependencies), "fixes": []})


def test_audit_fails_when_a_dependency_has_a_known_vulnerability(tmp_path: Path) -> None:
    report = _report(
        {"name": "django", "version": "5.2.0", "vulns": []},
        {
            "name": "example",
            "version": "1.0",
            "vulns": [{"id": "PYSEC-2099-1", "fix_versions": ["1.1"], "aliases": []}],
        },
    )
    proc = _audit(tmp_path, f"echo '{report}' > \"$out\"; exit 1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "example 1.0: PYSEC-2099-1 (fixed in 1.1)" in proc.stdout


def test_audit_passes_when_nothing_is_vulnerable(tmp_path: Path) -> None:
    report = _report({"name": "django", "version": "5.2.0", "vulns": []})
    proc = _audit(tmp_path, f"echo '{report}' > \"$out\"; exit 0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no known vulnerabilities in 1 audited packages" in proc.stdout


def test_audit_passes_with_a_notice_when_the_vulnerability_service_is_unreachable(
    tmp_path: Path,
) -> None:
    proc = _audit(
        tmp_path,
        "echo \"requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev', "
        'port=443): Max retries exceeded (NameResolutionError)" >&2; exit 1',
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "NOT AUDITED" in proc.stdout


def test_audit_passes_with_a_notice_when_the_index_serves_no_vulnerability_data(
    tmp_path: Path,
) -> None:
    # A PyPI mirror without the per-version JSON API: pip-audit skips every
    # package and would otherwise report "No known vulnerabilities found".
    skipped = [
        {"name": n, "skip_reason": f"Dependency not found on PyPI and could not be audited: {n}"}
        for n in ("django", "celery")
    ]
    proc = _audit(tmp_path, f"echo '{_report(*skipped)}' > \"$out\"; exit 0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "NOT AUDITED" in proc.stdout


def test_audit_fails_on_any_other_pip_audit_error(tmp_path: Path) -> None:
    proc = _audit(tmp_path, 'echo "pip-audit: error: unrecognized arguments" >&2; exit 2')
    assert proc.returncode == 2
    assert "unrecognized arguments" in proc.stdout + proc.stderr
