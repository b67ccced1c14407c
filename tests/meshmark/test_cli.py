from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from meshmark.cli import cli

ROOT = Path(__file__).resolve().parents[2]
MESHMARK = Path(sys.executable).parent / "meshmark"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_help_lists_the_commands_and_the_django_passthrough() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for command in ("serve", "worker"):
        assert command in result.output
    assert "Django management command" in result.output


def test_other_words_are_django_management_commands(tmp_path: Path) -> None:
    env = {**os.environ, "MESHMARK_VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    proc = subprocess.run(
        [str(MESHMARK), "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "System check identified no issues" in proc.stdout


def test_worker_explains_that_no_broker_means_no_worker(tmp_path: Path) -> None:
    env = {**os.environ, "MESHMARK_VAR_DIR": str(tmp_path), "CELERY_BROKER_URL": ""}
    env.pop("DATABASE_URL", None)
    proc = subprocess.run(
        [str(MESHMARK), "worker"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1
    assert "CELERY_BROKER_URL is not set" in proc.stderr


def test_serve_starts_the_embedded_index_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "MESHMARK_VAR_DIR": str(tmp_path), "CELERY_BROKER_URL": ""}
    env.pop("DATABASE_URL", None)
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(MESHMARK), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    break
                time.sleep(0.3)
        assert response is not None, (tmp_path / "serve.log").read_text()
        assert response.status_code == 200
        assert response.json()["checks"]["database"] == "ok"
        home = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert home.status_code == 200
        assert "MeshMark" in home.text
        css = httpx.get(f"http://127.0.0.1:{port}/static/meshmark/site.css", timeout=5)
        assert css.status_code == 200
        assert (tmp_path / "meshmark.sqlite3").is_file()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
        log.close()


@pytest.mark.slow
def test_make_serve_shows_the_product_on_a_fresh_clone_and_seeds_only_once(
    tmp_path: Path,
) -> None:
    """What `make serve` runs: populated leaderboards, mesh pages and cost at first start."""
    env = {**os.environ, "MESHMARK_VAR_DIR": str(tmp_path), "CELERY_BROKER_URL": ""}
    env.pop("DATABASE_URL", None)
    for attempt in (1, 2):
        port = _free_port()
        log_path = tmp_path / f"serve-{attempt}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [str(MESHMARK), "serve", "--demo-if-empty", "--bind", f"127.0.0.1:{port}",
                 "--workers", "1"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                base = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 180
                board = None
                while time.monotonic() < deadline and board is None:
                    try:
                        board = httpx.get(f"{base}/api/v1/leaderboards/http-1k", timeout=5)
                    except httpx.TransportError:
                        assert proc.poll() is None, log_path.read_text()
                        time.sleep(0.5)
                assert board is not None and board.status_code == 200, log_path.read_text()
                assert len(board.json()["rows"]) >= 3
                mesh = httpx.get(f"{base}/meshes/istio", timeout=10)
                assert mesh.status_code == 200 and "release" in mesh.text
                assert "No ranked runs" not in mesh.text
                cost = httpx.get(f"{base}/api/v1/cost", timeout=10).json()
                assert len(cost["configurations"]) >= 3
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    assert "seeding 2000 demo submissions" in (tmp_path / "serve-1.log").read_text()
    assert "seeding" not in (tmp_path / "serve-2.log").read_text()
