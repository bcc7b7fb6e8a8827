"""Connect YouTube from the web UI: Google's web redirect flow against the fake token endpoint."""

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from ingest.models import ChatMessage, ChatSource, PlatformAccount
from tests.fakes import youtube_api as f
from tests.youtube_support import (  # noqa: F401 (fixtures)
    CHAT,
    VIDEO,
    Run,
    close_thread_connections_fixture,
    db,
    fake_fixture,
    make_account,
    make_source,
    yt_fixture,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_user("host", password="x-long-password-1", is_staff=True)
    client.force_login(user)
    return client


def _connect(client, access="write"):
    response = client.post("/youtube/connect/", {"access": access})
    assert response.status_code == 302
    url = urlparse(response["Location"])
    return url, {k: v[0] for k, v in parse_qs(url.query).items()}


def test_connect_redirects_to_google_with_a_web_callback_and_state(staff, yt):
    url, q = _connect(staff)
    assert f"{url.scheme}://{url.netloc}{url.path}" == yt.url + "o/oauth2/v2/auth"
    assert q["redirect_uri"] == "http://testserver/youtube/callback/"  # never the OOB flow
    assert (
        q["scope"] == f.FORCE_SSL and q["access_type"] == "offline" and q["response_type"] == "code"
    )
    assert q["client_id"] == yt.client_id and len(q["state"]) >= 32
    _, q2 = _connect(staff, "read")
    assert q2["scope"] == f.READONLY and q2["state"] != q["state"]


def test_callback_stores_encrypted_tokens_and_shows_the_channel(staff, yt):
    _, q = _connect(staff)
    code = yt.auth_code("UCmine", "My Channel", redirect_uri=q["redirect_uri"])
    response = staff.get("/youtube/callback/", {"code": code, "state": q["state"]})
    assert response.status_code == 302 and response["Location"] == "/youtube/"
    account = PlatformAccount.objects.get(platform="youtube")
    assert (account.account_id, account.display_name, account.status) == (
        "UCmine",
        "My Channel",
        "ok",
    )
    assert account.scopes == [f.FORCE_SSL]
    assert account.credentials["refresh_token"] in yt.refresh_tokens
    assert account.credentials["token"] in yt.access_tokens
    with connection.cursor() as cur:
        cur.execute("SELECT credentials FROM ingest_platformaccount WHERE id = %s", [account.pk])
        raw = cur.fetchone()[0]
    assert account.credentials["refresh_token"] not in raw and "refresh_token" not in raw
    page = staff.get("/youtube/").content.decode()
    assert "My Channel" in page and "read, send, moderate" in page
    assert "Connected YouTube channel My Channel" in page


def test_state_mismatch_and_denied_consent_connect_nothing(staff, yt):
    _, q = _connect(staff)
    code = yt.auth_code(redirect_uri=q["redirect_uri"])
    staff.get("/youtube/callback/", {"code": code, "state": "forged"})
    assert not PlatformAccount.objects.exists()
    _, q = _connect(staff)
    page = staff.get(
        "/youtube/callback/", {"error": "access_denied", "state": q["state"]}, follow=True
    )
    assert "Google did not authorize: access_denied" in page.content.decode()
    assert not PlatformAccount.objects.exists()


def test_only_staff_connect(client, yt):
    user = get_user_model().objects.create_user("mod", password="x-long-password-1")
    client.force_login(user)
    assert client.post("/youtube/connect/").status_code == 403
    assert client.get("/youtube/").status_code == 403


def test_revoked_account_shows_reconnect_and_reconnecting_fixes_it(staff, yt):
    account, _ = make_account(yt)
    PlatformAccount.objects.filter(pk=account.pk).update(
        status="needs_reconnect",
        status_reason="Reconnect YouTube: Token has been expired or revoked.",
    )
    page = staff.get("/youtube/").content.decode()
    assert "Reconnect YouTube" in page and "expired or revoked" in page
    _, q = _connect(staff)
    code = yt.auth_code("UCowner", "Owner Channel", redirect_uri=q["redirect_uri"])
    staff.get("/youtube/callback/", {"code": code, "state": q["state"]})
    account = PlatformAccount.objects.get()  # the same row, repaired
    assert account.status == "ok" and account.status_reason == ""


def test_read_only_connection_is_shown_as_such(staff, yt):
    _, q = _connect(staff, "read")
    code = yt.auth_code("UCro", "Reader", scopes=(f.READONLY,), redirect_uri=q["redirect_uri"])
    staff.get("/youtube/callback/", {"code": code, "state": q["state"]})
    assert PlatformAccount.objects.get().scopes == [f.READONLY]
    assert "read-only" in staff.get("/youtube/").content.decode()


def test_add_stream_by_url_is_normalized_to_the_video_id(staff, yt):
    staff.post("/youtube/streams/", {"video": f"https://www.youtube.com/live/{VIDEO}?si=x"})
    source = ChatSource.objects.get(platform="youtube")
    assert source.identifier == VIDEO and source.enabled
    page = staff.post("/youtube/streams/", {"video": "https://example.com/nope"}, follow=True)
    assert "not a YouTube video id or URL" in page.content.decode()
    assert ChatSource.objects.count() == 1
    # a URL saved anywhere else (admin, shell) is normalized too
    other = ChatSource.objects.create(platform="youtube", identifier="https://youtu.be/abcdefghijk")
    assert other.identifier == "abcdefghijk"


async def test_an_expired_access_token_is_refreshed_before_the_call(yt):
    yt.add_video(VIDEO, chat_id=CHAT).add(f.text_item("m1", "hi"))
    account, tokens = await db(make_account, yt)
    creds = dict(account.credentials, expiry=(timezone.now() - timedelta(minutes=1)).isoformat())
    await db(PlatformAccount.objects.filter(pk=account.pk).update, credentials=creds)
    yt.expire_access_tokens()
    src = await db(make_source, account=account)
    await Run(src.pk, max_polls=1).run()
    assert await db(ChatMessage.objects.count) == 1
    assert len(yt.calls("token")) == 1
    assert len(yt.calls("videos.list")) == 1  # refreshed up front: no 401 round trip
    stored = (await db(PlatformAccount.objects.get, pk=account.pk)).credentials
    assert stored["token"] in yt.access_tokens
