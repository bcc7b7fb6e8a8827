"""Secrets at rest, hashed API keys, no default passwords."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection

from ingest.models import ApiToken, ChatSource

pytestmark = pytest.mark.django_db


def test_platform_credentials_are_encrypted_in_the_database():
    ChatSource.objects.create(platform="twitch", identifier="chan", credentials={"access_token": "sekrit-token-123"})
    with connection.cursor() as cur:
        cur.execute("SELECT credentials FROM ingest_chatsource")
        raw = cur.fetchone()[0]
    assert "sekrit-token-123" not in raw
    assert ChatSource.objects.get().credentials == {"access_token": "sekrit-token-123"}


def test_a_wrong_key_is_a_clear_error(settings):
    ChatSource.objects.create(platform="twitch", identifier="chan", credentials={"a": "b"})
    from cryptography.fernet import Fernet

    settings.CHORUS_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ValueError, match="CHORUS_ENCRYPTION_KEYS"):
        ChatSource.objects.get()


def test_key_rotation_reads_old_secrets(settings):
    from cryptography.fernet import Fernet

    old = settings.CHORUS_ENCRYPTION_KEYS
    ChatSource.objects.create(platform="twitch", identifier="chan", credentials={"a": "b"})
    settings.CHORUS_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old]
    assert ChatSource.objects.get().credentials == {"a": "b"}


def test_api_keys_are_stored_hashed_and_revocable():
    user = User.objects.create_user("svc", is_staff=True)
    out = io.StringIO()
    call_command("create_api_token", "svc", stdout=out, stderr=io.StringIO())
    key = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert key.startswith(f"chorus_{token.prefix}_") and key not in token.key_hash
    assert ApiToken.authenticate(key).user == user
    assert ApiToken.authenticate(key + "x") is None
    call_command("revoke_api_token", token.prefix, stdout=io.StringIO())
    assert ApiToken.authenticate(key) is None


def test_seed_demo_prints_a_random_admin_password_once():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()
    password = text.split("password:")[1].split()[0]
    assert len(password) >= 16
    assert User.objects.get(username="admin").check_password(password)
    again = io.StringIO()
    call_command("seed_demo", stdout=again)
    assert "password:" not in again.getvalue()  # shown once, never reset silently
    assert ChatSource.objects.filter(platform="demo").count() == 1
