"""``smp-runner submit``: upload bundles to a MeshMark index (docs/api.md), safely repeatable.

* The body is the file's bytes, sent as ``application/json`` or
  ``application/yaml`` (by extension, else by content).
* ``Idempotency-Key: smp-runner-sha256-<hex>`` is derived from the bytes, so a
  re-run (or a retry whose first answer was lost) never makes a second
  submission: the server answers 200 with the first one.
* Network errors, 429 and 5xx are retried up to ``MAX_ATTEMPTS`` times with
  exponential backoff (``BACKOFF_BASE_S`` doubling, at most ``BACKOFF_MAX_S``,
  plus up to 10% jitter); a ``Retry-After`` header (seconds or an HTTP date)
  is obeyed instead, up to ``RETRY_AFTER_MAX_S``. Other 4xx answers are final.
* ``wait`` polls the status URL every ``POLL_INTERVAL_S`` until the verdict.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx

SUBMISSIONS_PATH = "/api/v1/submissions"
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 30.0
RETRY_AFTER_MAX_S = 300.0
POLL_INTERVAL_S = 1.0
WAIT_TIMEOUT_S = 300.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
FINAL_STATUSES = frozenset({"accepted", "rejected"})
IDEMPOTENCY_PREFIX = "smp-runner-sha256-"


class SubmitError(click.ClickException):
    """A file could not be submitted (or its verdict not obtained); the message says why."""


@dataclass
class RetryPolicy:
    """How requests are retried; the defaults are the module's constants at creation time."""

    attempts: int = field(default_factory=lambda: MAX_ATTEMPTS)
    base_s: float = field(default_factory=lambda: BACKOFF_BASE_S)
    max_s: float = field(default_factory=lambda: BACKOFF_MAX_S)
    retry_after_max_s: float = field(default_factory=lambda: RETRY_AFTER_MAX_S)
    sleep: Callable[[float], None] = field(default=time.sleep)

    def backoff(self, attempt: int) -> float:
        """Delay before attempt ``attempt + 1`` (attempt counts from 1)."""
        delay = min(self.max_s, self.base_s * float(2 ** (attempt - 1)))
        return delay * (1 + random.random() * 0.1)  # jitter, not security


def content_type_for(path: Path, data: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "application/json"
    if suffix in (".yaml", ".yml"):
        return "application/yaml"
    return "application/json" if data.lstrip()[:1] in (b"{", b"[") else "application/yaml"


def idempotency_key(data: bytes) -> str:
    return IDEMPOTENCY_PREFIX + hashlib.sha256(data).hexdigest()


def retry_after_s(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


@dataclass(frozen=True)
class Submitted:
    id: str
    status: str
    url: str
    duplicate: bool


def problems_of(payload: Any) -> list[str]:
    """``path: message [rule]`` for each problem in an API error or submission body."""
    if not isinstance(payload, dict):
        return []
    lines = []
    for problem in payload.get("errors") or []:
        if isinstance(problem, dict):
            path = problem.get("path") or "(document)"
            lines.append(f"{path}: {problem.get('message', '')} [{problem.get('rule', '?')}]")
    return lines


class Client:
    """The submission API over httpx, with the retry policy above."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.http = httpx.Client(
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send, retrying network errors, 429 and 5xx; the last answer or a SubmitError."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.http.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if attempt >= self.policy.attempts:
                    raise SubmitError(
                        f"{method} {url} failed after {attempt} attempts: {exc!r}"
                    ) from None
                self.policy.sleep(self.policy.backoff(attempt))
                continue
            if response.status_code not in RETRY_STATUSES or attempt >= self.policy.attempts:
                return response
            wait = retry_after_s(response.headers.get("Retry-After"))
            if wait is None:
                wait = self.policy.backoff(attempt)
            self.policy.sleep(min(wait, self.policy.retry_after_max_s))

    def submit(self, path: Path) -> Submitted:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SubmitError(f"{path}: cannot read: {exc.strerror}") from None
        response = self.request(
            "POST",
            self.server + SUBMISSIONS_PATH,
            content=data,
            headers={
                "Content-Type": content_type_for(path, data),
                "Idempotency-Key": idempotency_key(data),
            },
        )
        payload = _json(response)
        if response.status_code in (200, 202) and isinstance(payload, dict) and "url" in payload:
            return Submitted(
                id=str(payload["id"]),
                status=str(payload.get("status", "")),
                url=str(payload["url"]),
                duplicate=bool(payload.get("duplicate", response.status_code == 200)),
            )
        raise SubmitError(_refusal(path, response, payload))

    def get_json(self, url: str) -> Any:
        response = self.request("GET", url)
        payload = _json(response)
        if response.status_code != 200 or payload is None:
            raise SubmitError(f"GET {url} answered {response.status_code}: {_detail(payload)}")
        return payload

    def wait(self, url: str, timeout_s: float = WAIT_TIMEOUT_S) -> dict[str, Any]:
        """The submission's status document once it is accepted or rejected."""
        deadline = time.monotonic() + timeout_s
        while True:
            payload = self.get_json(url)
            if isinstance(payload, dict) and payload.get("status") in FINAL_STATUSES:
                return payload
            if time.monotonic() >= deadline:
                status = payload.get("status") if isinstance(payload, dict) else "?"
                raise SubmitError(
                    f"no verdict after {timeout_s:g} s (status {status}); "
                    f"check later with GET {url}"
                )
            self.policy.sleep(POLL_INTERVAL_S)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _detail(payload: Any) -> str:
    if isinstance(payload, dict):
        return str(payload.get("detail") or payload.get("title") or payload)
    return "(no JSON body)"


def _refusal(path: Path, response: httpx.Response, payload: Any) -> str:
    status = response.status_code
    if status == 401:
        head = f"{path}: the server refused the token (401)"
    elif status == 413:
        head = f"{path}: the file is larger than the server accepts (413)"
    else:
        head = f"{path}: refused ({status}): {_detail(payload)}"
    lines = [head, *(f"  {line}" for line in problems_of(payload))]
    return "\n".join(lines)


def verdict_lines(path: Path, status: dict[str, Any], results: list[dict[str, Any]]) -> list[str]:
    """What ``--wait`` prints: the verdict, then the results (with scores) or every problem."""
    verdict = status.get("status")
    lines = [f"{path}: {verdict} ({status.get('url') or status.get('id')})"]
    if verdict == "rejected":
        lines += [f"  {line}" for line in problems_of(status)]
        return lines
    for warning in status.get("warnings") or []:
        lines.append(f"  warning: {warning.get('path') or '(document)'}: {warning.get('message')}")
    for ref, detail in zip(status.get("results") or [], results, strict=False):
        score = _score_of(detail)
        shown = f"  MeshMark {score:.1f}" if score is not None else ""
        unranked = "" if ref.get("ranked", True) else f"  (unranked: {ref.get('unranked_reason')})"
        lines.append(f"  {ref.get('role')}: {ref.get('url')}{shown}{unranked}")
    return lines


def _score_of(result: dict[str, Any]) -> float | None:
    """The MeshMark of a result document, under whichever name the API gives it."""
    for key in ("meshmark", "score"):
        value = result.get(key)
        if isinstance(value, dict):
            value = value.get("score")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def submit_files(
    paths: list[Path],
    *,
    server: str,
    token: str,
    wait: bool,
    timeout_s: float,
    echo: Callable[[str], None],
    policy: RetryPolicy | None = None,
) -> bool:
    """Submit each file; True when every one was accepted (or, without wait, stored)."""
    ok = True
    with Client(server, token, policy=policy) as client:
        for path in paths:
            try:
                submitted = client.submit(path)
                note = "already submitted as" if submitted.duplicate else "submitted as"
                echo(f"{path}: {note} {submitted.id} ({submitted.status}) {submitted.url}")
                if not wait:
                    continue
                status = client.wait(submitted.url, timeout_s)
                status.setdefault("url", submitted.url)
                accepted = status.get("status") == "accepted"
                refs = (status.get("results") or []) if accepted else []
                details = [client.get_json(ref["url"]) for ref in refs if ref.get("url")]
                for line in verdict_lines(path, status, details):
                    echo(line)
                ok = ok and status.get("status") == "accepted"
            except SubmitError as exc:
                echo(f"error: {exc.message}")
                ok = False
    return ok
