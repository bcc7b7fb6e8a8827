"""Production settings: `manage.py check --deploy` is clean with DEBUG off and the documented
production environment (docs/deployment.md), and refuses to start without secrets."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import yaml
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


def test_compose_file_and_dockerfile_agree_with_the_repository():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "proxy"} <= set(services)
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["worker"]["command"] == ["python", "manage.py", "run_ingest"]
    for name in ("migrate", "web", "worker"):
        env = services[name]["environment"]
        assert env["INGEST_IN_PROCESS"] == "false"
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"]
        assert services[name]["env_file"] == ".env"
    for name in ("postgres", "redis", "web"):
        assert services[name]["healthcheck"]["test"]
    commands = {p.stem for p in (ROOT / "ingest/management/commands").glob("*.py")}
    assert "run_ingest" in commands
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "USER chorus" in dockerfile and "collectstatic --noinput" in dockerfile
    cmd = json.loads(dockerfile.split("CMD ", 1)[1].replace("\\\n", " "))
    assert cmd == services["web"]["command"], "Dockerfile CMD and compose web command differ"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".venv" in ignored and "data/" in ignored


def test_static_files_collect_with_debug_off(tmp_path):
    """The Dockerfile's build step: collectstatic with DEBUG off and throwaway secrets."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "pollsite.settings",
        "DEBUG": "false",
        "SECRET_KEY": "x" * 64,
        "CHORUS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "CHORUS_DATA_DIR": str(tmp_path / "data"),
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads(Path(tmp_path / "static" / "staticfiles.json").read_text())
    assert any(name.startswith("chorus/") for name in manifest["paths"])
