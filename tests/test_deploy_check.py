"""Production settings: `manage.py check --deploy` is clean with DEBUG off and the documented
production environment (docs/deployment.md), and refuses to start without secrets."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def production_env(tmp_path, **overrides) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "DJANGO_", "SECURE_", "SESSION_", "CSRF_"))
        and k not in ("DATABASE_URL", "REDIS_URL", "DEBUG", "ALLOWED_HOSTS", "BEHIND_TLS_PROXY")
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "pollsite.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "CHORUS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "chorus.example.com",
            "CSRF_TRUSTED_ORIGINS": "https://chorus.example.com",
            "BEHIND_TLS_PROXY": "true",
            "DATABASE_URL": "postgres://chorus:unused@db.invalid:5432/chorus",
            "REDIS_URL": "redis://redis.invalid:6379/0",
            "INGEST_IN_PROCESS": "false",
            "CHORUS_DATA_DIR": str(tmp_path / "data"),
            "STATIC_ROOT": str(tmp_path / "static"),
        }
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def check_deploy(env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_with_debug_off(tmp_path):
    result = check_deploy(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_catches_a_weak_secret_key(tmp_path):
    # The same check fails loudly when production is misconfigured (so the test above can fail).
    result = check_deploy(production_env(tmp_path, SECRET_KEY="too-short"))
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_debug_off_without_secrets_refuses_to_start(tmp_path):
    # Empty, not absent: a developer's .env (read without overriding) must not fill it in.
    result = check_deploy(production_env(tmp_path, SECRET_KEY=""))
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
