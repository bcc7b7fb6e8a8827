"""Test-wide setup (test-mode settings defaults live in pollsite/settings.py: TESTING).

The suite runs in two modes (see Makefile): embedded (SQLite + in-memory layer, the default) and
scale-out (DATABASE_URL=postgres..., REDIS_URL=redis...). Tests marked ``scaleout`` need the real
services: on a bare machine they skip with a message; under CI=true a missing service FAILS.
"""

import os
import shutil

import pytest

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Headless Debian chromium in a container-like machine (root, no GPU, no network).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """One Chromium per browser test module, driven by Playwright (tests marked ``browser``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _redis_ok(url: str) -> bool:
    try:
        import redis

        return bool(redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


def _postgres_ok(url: str) -> bool:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=2):
            return True
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    redis_url = os.environ.get("REDIS_URL", "")
    db_url = os.environ.get("DATABASE_URL", "")
    scaleout_reason = None
    if not redis_url.startswith("redis"):
        scaleout_reason = "REDIS_URL is not set (run `make test-scaleout`)"
    elif not db_url.startswith("postgres"):
        scaleout_reason = "DATABASE_URL is not a PostgreSQL URL (run `make test-scaleout`)"
    elif not _redis_ok(redis_url):
        scaleout_reason = f"Redis at {redis_url} does not answer"
    elif not _postgres_ok(db_url):
        scaleout_reason = f"PostgreSQL at {db_url} does not answer"
    browser_reason = None
    if not os.path.exists(CHROMIUM) and not shutil.which("chromium"):
        browser_reason = f"Debian chromium not found at {CHROMIUM} (apt-get install chromium)"
    for item in items:
        if "scaleout" in item.keywords and scaleout_reason:
            if CI:
                item.add_marker(pytest.mark.usefixtures("_fail_missing_service"))
            else:
                item.add_marker(
                    pytest.mark.skip(reason=f"scale-out services missing: {scaleout_reason}")
                )
        if "browser" in item.keywords and browser_reason:
            if CI:
                item.add_marker(pytest.mark.usefixtures("_fail_missing_service"))
            else:
                item.add_marker(pytest.mark.skip(reason=browser_reason))


@pytest.fixture
def _fail_missing_service():
    pytest.fail("CI=true and a required service is missing: nothing may be skipped in CI")
