"""Connect Twitch: the code flow against the fake id.twitch.tv, state check, encrypted storage,
the accounts page, needs_reconnect in health, and token refresh with the real Helix client."""

from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import connection

from ingest.models import ChatSource, PlatformAccount
from ingest.twitch import oauth
from ingest.twitch.helix import Helix, HelixForbidden
from tests.fakes.twitch_api import CLIENT_ID, CLIENT_SECRET, FakeTwitch

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def twitch(settings):
    async with FakeTwitch() as fake:
        settings.TWITCH_API_URL = fake.helix_url
        settings.TWITCH_AUTH_URL = fake.base
        settings.TWITCH_CLIENT_ID = CLIENT_ID
        settings.TWITCH_CLIENT_SECRET = CLIENT_SECRET
        fake.add_user("3003", "streamer", "Streamer")
        yield fake


@pytest.fixture
def staff_client(client):
    user = User.objects.create_user("admin1", is_staff=True)
    client.force_login(user)
    return client


def call(fn, *a, **kw):
    return sync_to_async(fn)(*a, **kw)


async def connect_flow(fake, client):
    resp = await call(client.post, "/twitch/connect/")
    assert resp.status_code == 302
    url = urlparse(resp["Location"])
    q = parse_qs(url.query)
    assert url.path == "/oauth2/authorize"
    assert q["client_id"] == [CLIENT_ID] and q["response_type"] == ["code"]
    assert "user:read:chat" in q["scope"][0].split()
    assert q["redirect_uri"] == ["http://testserver/twitch/callback/"]
    async with httpx.AsyncClient() as http:  # the user approves on "Twitch"
        approved = await http.get(resp["Location"], follow_redirects=False)
    assert approved.status_code == 302
    back = urlparse(approved.headers["Location"])
    return back.path + "?" + back.query, q["state"][0]


async def test_connect_twitch_stores_encrypted_tokens_and_shows_them(twitch, staff_client):
    await call(ChatSource.objects.create, platform="twitch", identifier="streamer")
    callback, state = await connect_flow(twitch, staff_client)
    resp = await call(staff_client.get, callback)
    assert resp.status_code == 302 and resp["Location"] == "/twitch/"
    acc = await call(PlatformAccount.objects.get, platform="twitch")
    assert (acc.account_id, acc.login, acc.status) == ("3003", "streamer", "ok")
    assert acc.credentials["access_token"] in twitch.tokens
    assert acc.credentials["refresh_token"] in twitch.refresh_tokens
    assert "user:read:chat" in acc.scopes and acc.expires_at is not None

    def raw_column():
        with connection.cursor() as cur:
            cur.execute("SELECT credentials FROM ingest_platformaccount WHERE id=%s", [acc.pk])
            return cur.fetchone()[0]

    raw = await call(raw_column)
    assert acc.credentials["access_token"] not in raw and "refresh" not in raw
    # the user's own channel source is linked to the account (-> EventSub)
    src = await call(ChatSource.objects.get, identifier="streamer")
    assert src.account_id == acc.pk
    page = await call(staff_client.get, "/twitch/")
    html = page.content.decode()
    assert "Connected Twitch as streamer" in html
    assert "streamer" in html and "user:read:chat" in html and "EventSub as streamer" in html
    # The state is single-use: replaying the callback is refused.
    again = await call(staff_client.get, callback)
    assert again.status_code == 302
    assert await call(PlatformAccount.objects.count) == 1
    page = await call(staff_client.get, "/twitch/")
    assert "state does not match" in page.content.decode()


async def test_callback_with_a_wrong_state_is_refused(twitch, staff_client):
    callback, state = await connect_flow(twitch, staff_client)
    forged = callback.replace(f"state={state}", "state=forged")
    resp = await call(staff_client.get, forged)
    assert resp.status_code == 302
    assert await call(PlatformAccount.objects.count) == 0
    page = await call(staff_client.get, "/twitch/")
    assert "state does not match" in page.content.decode()


async def test_user_denial_is_reported(twitch, staff_client):
    resp = await call(staff_client.post, "/twitch/connect/")
    state = parse_qs(urlparse(resp["Location"]).query)["state"][0]
    resp = await call(
        staff_client.get,
        f"/twitch/callback/?error=access_denied&error_description=The+user+denied&state={state}",
    )
    page = await call(staff_client.get, "/twitch/")
    assert "The user denied" in page.content.decode()
    assert await call(PlatformAccount.objects.count) == 0


async def test_only_staff_can_connect(twitch, client):
    user = await call(User.objects.create_user, "mod1")
    await call(client.force_login, user)
    assert (await call(client.post, "/twitch/connect/")).status_code == 403
    assert (await call(client.get, "/twitch/")).status_code == 403
    anon = (await call(client.logout)) or client
    assert (await call(anon.get, "/twitch/")).status_code == 302  # to the login page


async def test_connect_needs_post_with_csrf(twitch, staff_client):
    assert (await call(staff_client.get, "/twitch/connect/")).status_code == 405
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    user = await call(User.objects.get, username="admin1")
    await call(strict.force_login, user)
    assert (await call(strict.post, "/twitch/connect/")).status_code == 403


async def test_revoked_account_shows_reconnect_on_page_and_health(twitch, staff_client):
    tokens = twitch.issue_tokens("3003", oauth.DEFAULT_SCOPES)
    acc = await call(
        PlatformAccount.objects.create, platform="twitch", account_id="3003", login="streamer",
        credentials={"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"]},
    )
    twitch.revoke_user("3003")
    t = oauth.AccountTokens(acc.pk)
    await t.load()
    with pytest.raises(oauth.TokenRevoked):
        await t.validate()
    page = (await call(staff_client.get, "/twitch/")).content.decode()
    assert "Reconnect Twitch" in page and "needs-reconnect" in page
    health = await call(staff_client.get, "/api/health/")
    body = health.json()
    assert body["checks"]["twitch_accounts"] == "degraded"
    assert body["twitch_accounts"][0]["status"] == "needs_reconnect"
    # A revoked account is not used again until reconnected: no network call at all.
    calls = twitch.validations + twitch.refreshes
    with pytest.raises(oauth.TokenRevoked):
        await oauth.AccountTokens(acc.pk).load()
    assert twitch.validations + twitch.refreshes == calls


async def test_helix_401_refreshes_saves_and_retries(twitch):
    tokens = twitch.issue_tokens("3003", oauth.DEFAULT_SCOPES)
    acc = await call(
        PlatformAccount.objects.create, platform="twitch", account_id="3003", login="streamer",
        credentials={"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"]},
    )
    t = await oauth.AccountTokens(acc.pk).load()
    twitch.expire_access_tokens("3003")
    async with Helix(t) as helix:
        user = await helix.user(login="streamer")
    assert user["id"] == "3003" and t.refreshes == 1
    saved = await call(lambda: PlatformAccount.objects.get(pk=acc.pk).credentials)
    assert saved["access_token"] == t.access_token != tokens["access_token"]
    assert saved["access_token"] in twitch.tokens


async def test_helix_429_waits_for_ratelimit_reset_and_5xx_backs_off(twitch):
    import time

    app = await oauth.app_token()
    from ingest.twitch.helix import AppTokens

    tokens = AppTokens()
    tokens.access_token = app["access_token"]
    twitch.fail_next("streams", 429, {"Ratelimit-Reset": str(int(time.time()) + 1), "Ratelimit-Remaining": "0"})
    twitch.fail_next("streams", 503)
    twitch.fail_next("streams", 500)
    async with Helix(tokens, backoff_initial=0.05) as helix:
        t0 = time.monotonic()
        assert await helix.stream(login="streamer") is None
        waited = time.monotonic() - t0
    assert twitch.count("GET", "streams") == 4
    assert waited >= 0.3  # it waited for the reset instead of hammering


async def test_forbidden_is_a_clear_error(twitch):
    tokens = twitch.issue_tokens("3003", ["user:read:chat"])
    acc = await call(
        PlatformAccount.objects.create, platform="twitch", account_id="3003", login="streamer",
        credentials={"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"]},
    )
    t = await oauth.AccountTokens(acc.pk).load()
    async with Helix(t) as helix:
        with pytest.raises(HelixForbidden, match="user:write:chat"):
            await helix.send_chat_message("3003", "3003", "hi")


async def test_a_pair_refreshed_elsewhere_is_adopted_not_declared_revoked(twitch):
    tokens = twitch.issue_tokens("3003", oauth.DEFAULT_SCOPES)
    acc = await call(
        PlatformAccount.objects.create, platform="twitch", account_id="3003", login="streamer",
        credentials={"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"]},
    )
    worker_a = await oauth.AccountTokens(acc.pk).load()
    worker_b = await oauth.AccountTokens(acc.pk).load()
    await worker_a.refresh("expires soon")  # rotates the refresh token and saves the pair
    token = await worker_b.refresh("401")  # still holds the consumed refresh token
    assert token == worker_a.access_token
    assert (await call(PlatformAccount.objects.get, pk=acc.pk)).status == "ok"
