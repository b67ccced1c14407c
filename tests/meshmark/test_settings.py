from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from meshmark import settings as meshmark_settings

ROOT = Path(__file__).resolve().parents[2]


def test_envbool_reads_the_usual_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    for text, expected in [("1", True), ("yes", True), ("off", False), ("FALSE", False)]:
        monkeypatch.setenv("MM_FLAG", text)
        assert meshmark_settings.envbool("MM_FLAG", not expected) is expected


def test_envbool_refuses_a_typo_instead_of_guessing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MM_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="MM_FLAG must be true or false"):
        meshmark_settings.envbool("MM_FLAG", False)


def test_envsecret_prefers_a_mounted_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("MM_SECRET", "from-env")
    monkeypatch.setenv("MM_SECRET_FILE", str(secret))
    assert meshmark_settings.envsecret("MM_SECRET") == "from-a-file"


def _settings_in_subprocess(env: dict[str, str], expr: str) -> subprocess.CompletedProcess[str]:
    code = f"import django, os; django.setup(); from django.conf import settings; print({expr})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "meshmark.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_default_database_is_a_sqlite_file_and_tasks_run_eagerly(tmp_path: Path) -> None:
    proc = _settings_in_subprocess(
        {"MESHMARK_VAR_DIR": str(tmp_path)},
        "settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["django.db.backends.sqlite3", "True"]


def test_database_url_selects_postgresql_and_a_broker_disables_eager_mode() -> None:
    proc = _settings_in_subprocess(
        {
            "DATABASE_URL": "postgres://u@db.invalid:5432/meshmark",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        },
        "settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["django.db.backends.postgresql", "False"]


def test_production_mode_without_a_secret_key_fails_loudly() -> None:
    proc = _settings_in_subprocess({"DEBUG": "false"}, "settings.SECRET_KEY")
    assert proc.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set" in proc.stderr


def test_every_setting_read_from_the_environment_is_in_env_example() -> None:
    import re

    source = (ROOT / "meshmark" / "settings.py").read_text()
    read = set(re.findall(r'env(?:bool|int|str|secret)\("([A-Z_]+)"', source))
    read |= set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', source))
    example = (ROOT / "deploy" / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    assert read - listed == set()
