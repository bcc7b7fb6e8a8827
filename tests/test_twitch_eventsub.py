"""The Twitch adapter's EventSub path: the REAL twitchio 3 client against the local fake EventSub
websocket + fake Helix + fake id.twitch.tv, through the real pipeline into the database."""

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from twitchio.http import Route

from ingest.adapters.base import AdapterError, FatalAdapterError, NullStatus, SourceConfig
from ingest.adapters.twitch import TwitchAdapter
from ingest.models import (
    ChatMessage,
    ChatSource,
    LiveSession,
    ModerationEvent,
    PlatformAccount,
    PlatformState,
)
from ingest.pipeline import Pipeline
from ingest.twitch.oauth import DEFAULT_SCOPES
from tests.fakes import twitch_api as fk
from tests.fakes.twitch_api import CLIENT_ID, CLIENT_SECRET, FakeTwitch

pytestmark = pytest.mark.django_db(transaction=True)
SCOPES = DEFAULT_SCOPES


async def wait_for(predicate, timeout=8.0):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def db(fn):
    return sync_to_async(fn)()


@pytest.fixture
async def twitch(settings):
    old = (Route.BASE, Route.ID_BASE)
    async with FakeTwitch() as fake:
        settings.TWITCH_API_URL = fake.helix_url
        settings.TWITCH_AUTH_URL = fake.base
        settings.TWITCH_EVENTSUB_WS_URL = fake.ws_url
        settings.TWITCH_CLIENT_ID = CLIENT_ID
        settings.TWITCH_CLIENT_SECRET = CLIENT_SECRET
        fake.streamer = fake.add_user("3003", "streamer", "Streamer")
        fake.viewer = fake.add_user("2002", "viewer", "Viewer")
        fake.mod = fake.add_user("2001", "mod_marta", "Mod_Marta")
        fake.jp = fake.add_user("2003", "yamada_taro", "山田太郎")
        yield fake
    Route.BASE, Route.ID_BASE = old


def make_account(fake, user_id="3003", scopes=SCOPES, expires_in=14400):
    tokens = fake.issue_tokens(user_id, scopes, expires_in=expires_in)
    u = fake.users[user_id]

    def create():
        return PlatformAccount.objects.create(
            platform="twitch", account_id=user_id, login=u["login"], display_name=u["display_name"],
            scopes=scopes, credentials={"access_token": tokens["access_token"],
                                        "refresh_token": tokens["refresh_token"]},
        )

    return db(create), tokens


async def make_source(account, **opts):
    settings_ = {"check_seconds": 0.1, "stream_poll_seconds": 0}
    settings_.update(opts)
    return await db(lambda: ChatSource.objects.create(
        platform="twitch", identifier="streamer", account=account, settings=settings_))


class Running:
    def __init__(self, src):
        self.pipeline = Pipeline(listeners=[], flush_ms=20)
        self.status = NullStatus()
        self.adapter = TwitchAdapter(SourceConfig.from_model(src), self.pipeline.submit, status=self.status)

    async def __aenter__(self):
        self.pipeline.start()
        self.task = asyncio.create_task(self.adapter.run())
        return self

    async def __aexit__(self, *exc):
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        with contextlib.suppress(Exception):
            await self.pipeline.stop()


async def started(fake, src, n_subs=9):
    run = Running(src)
    await run.__aenter__()
    await fake.wait_subscriptions(n_subs)
    await wait_for(lambda: run.status.state == "connected")
    return run


async def test_chat_moderation_and_live_session_are_stored(twitch):
    fake = twitch
    acc_coro, _ = make_account(fake)
    acc = await acc_coro
    src = await make_source(acc)
    run = await started(fake, src)
    try:
        types = sorted(s["type"] for s in fake.subscriptions.values())
        assert types == sorted(["channel.chat.message", "channel.chat.notification", "channel.chat.message_delete",
                                "channel.chat.clear_user_messages", "channel.chat.clear",
                                "stream.online", "stream.offline", "channel.ban", "channel.unban"])
        assert "(not subscribed" not in run.status.detail
        # Goes live: stream.online has no title; the adapter asks Helix.
        live = fake.set_live("3003", title="Quiz night", game="Trivia", viewers=321, stream_id="s-1")
        await fake.notify("stream.online", fk.stream_online_event(fake.streamer, "s-1", live["started_at"]))
        await wait_for(lambda: db(lambda: LiveSession.objects.filter(source=src).exists()))
        await asyncio.sleep(0.05)
        hostile = "<img src=x onerror=alert(1)> & ; \\s"
        await fake.notify("channel.chat.message", fk.chat_message_event(
            fake.streamer, fake.viewer, hostile, message_id="m-1",
            badges=[{"set_id": "subscriber", "id": "3", "info": "3"}]))
        await fake.notify("channel.chat.message", fk.chat_message_event(
            fake.streamer, fake.jp, "Cheer100 nice", message_id="m-2",
            badges=[{"set_id": "vip", "id": "1", "info": ""}, {"set_id": "moderator", "id": "1", "info": ""}],
            cheer={"bits": 100}, reply={"parent_message_id": "m-1", "parent_message_body": hostile,
                                        "parent_user_id": "2002", "parent_user_login": "viewer",
                                        "parent_user_name": "Viewer", "thread_message_id": "m-1",
                                        "thread_user_id": "2002", "thread_user_login": "viewer",
                                        "thread_user_name": "Viewer"}))
        await fake.notify("channel.chat.message", fk.chat_message_event(
            fake.streamer, fake.viewer, "second", message_id="m-3",
            badges=[{"set_id": "subscriber", "id": "3", "info": "3"}]))
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 3))

        def authors():
            # (checked before moderation: a ban carries no badges, and the store keeps the
            # author's latest known roles)
            a1 = ChatMessage.objects.select_related("author").get(platform_message_id="m-1").author
            a2 = ChatMessage.objects.select_related("author").get(platform_message_id="m-2").author
            return (a1.roles, a1.badges, a2.roles)

        assert await db(authors) == (["subscriber"], [{"set_id": "subscriber", "version": "3"}],
                                     ["moderator", "vip"])
        await fake.notify("channel.chat.message_delete", fk.message_delete_event(fake.streamer, fake.viewer, "m-3"))
        banned_at = datetime.now(UTC).replace(microsecond=0)
        await fake.notify("channel.ban", fk.ban_event(fake.streamer, fake.viewer, fake.mod, reason="spam",
                                                      duration=600, banned_at=banned_at))
        await fake.notify("channel.unban", fk.unban_event(fake.streamer, fake.viewer, fake.mod))
        await fake.notify("channel.ban", fk.ban_event(fake.streamer, fake.jp, fake.mod, reason="rude"))
        await fake.notify("channel.chat.clear_user_messages", fk.clear_user_event(fake.streamer, fake.jp))
        await fake.notify("channel.chat.clear", fk.clear_event(fake.streamer))
        await wait_for(lambda: db(lambda: ModerationEvent.objects.count() == 6))
        fake.set_offline("3003")
        await fake.notify("stream.offline", fk.stream_offline_event(fake.streamer))
        await wait_for(lambda: db(lambda: LiveSession.objects.get(source=src).ended_at is not None))
        # Offline chat is kept without a session.
        await fake.notify("channel.chat.message", fk.chat_message_event(
            fake.streamer, fake.viewer, "after the show", message_id="m-4"))
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 4))
    finally:
        await run.__aexit__()

    def check():
        session = LiveSession.objects.get(source=src)
        assert (session.platform_session_id, session.title, session.category, session.viewer_count) == (
            "s-1", "Quiz night", "Trivia", 321)
        m1 = ChatMessage.objects.select_related("author").get(platform_message_id="m-1")
        assert m1.text == hostile and m1.author.login == "viewer"
        assert m1.session_id == session.pk
        m2 = ChatMessage.objects.select_related("author").get(platform_message_id="m-2")
        assert (m2.kind, m2.amount, m2.currency) == ("paid", Decimal(100), "bits")
        assert m2.author.display_name == "山田太郎" and m2.author.login == "yamada_taro"
        assert m2.reply_to == "m-1" and m2.extra["reply_parent_text"] == hostile
        m3 = ChatMessage.objects.get(platform_message_id="m-3")
        assert m3.platform_state == PlatformState.DELETED
        deletion = ModerationEvent.objects.get(kind="deletion")
        assert deletion.target_message_id == "m-3" and deletion.target_text == "second"
        timeout = ModerationEvent.objects.get(kind="timeout")
        assert timeout.target_author.login == "viewer" and timeout.moderator == "Mod_Marta"
        assert timeout.reason == "spam" and timeout.duration_seconds == 600
        assert timeout.ends_at == banned_at + timedelta(seconds=600)
        ban = ModerationEvent.objects.get(kind="ban")
        assert ban.target_author.login == "yamada_taro" and ban.ends_at is None and ban.reason == "rude"
        assert ModerationEvent.objects.get(kind="unban").target_author.login == "viewer"
        clears = ModerationEvent.objects.filter(kind="clear")
        assert sorted(str(c.target_author and c.target_author.login) for c in clears) == ["None", "yamada_taro"]
        m4 = ChatMessage.objects.get(platform_message_id="m-4")
        assert m4.session_id is None

    await db(check)
    # twitchio never wrote the tokens to disk
    import os
    assert not os.path.exists(".tio.tokens.json")


async def test_session_reconnect_moves_without_duplicates(twitch):
    fake = twitch
    acc_coro, _ = make_account(fake)
    src = await make_source(await acc_coro)
    run = await started(fake, src)
    try:
        event = fk.chat_message_event(fake.streamer, fake.viewer, "before", message_id="r-1")
        await fake.notify("channel.chat.message", event)
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 1))
        posts_before = fake.count("POST", "eventsub/subscriptions")
        await fake.session_reconnect()
        await wait_for(lambda: fake.ws_connects == 2 and len(fake.sessions) == 1)
        await fake.wait_subscriptions(9)
        # Twitch carried the subscriptions over: no resubscribe needed.
        assert fake.count("POST", "eventsub/subscriptions") == posts_before
        await fake.notify("channel.chat.message", event)  # re-delivered after the reconnect
        await fake.notify("channel.chat.message", fk.chat_message_event(
            fake.streamer, fake.viewer, "after", message_id="r-2"))
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 2))
        await asyncio.sleep(0.2)
        assert await db(lambda: ChatMessage.objects.filter(platform_message_id="r-1").count()) == 1
        assert run.status.state == "connected"
    finally:
        await run.__aexit__()


async def test_dropped_socket_reconnects_and_resubscribes(twitch):
    fake = twitch
    acc_coro, _ = make_account(fake)
    src = await make_source(await acc_coro)
    run = await started(fake, src)
    try:
        await fake.drop_sockets()
        await wait_for(lambda: fake.ws_connects == 2, timeout=10)
        await fake.wait_subscriptions(9)
        assert fake.count("POST", "eventsub/subscriptions") == 18
        await fake.notify("channel.chat.message", fk.chat_message_event(
            fake.streamer, fake.viewer, "back again", message_id="d-1"))
        await wait_for(lambda: db(lambda: ChatMessage.objects.filter(platform_message_id="d-1").exists()))
    finally:
        await run.__aexit__()


async def test_malformed_payload_is_logged_and_skipped(twitch, caplog):
    fake = twitch
    acc_coro, _ = make_account(fake)
    src = await make_source(await acc_coro)
    run = await started(fake, src)
    try:
        broken = fk.chat_message_event(fake.streamer, fake.viewer, "broken one", message_id="b-1")
        del broken["badges"]
        await fake.notify("channel.chat.message", broken)
        await fake.send_raw("{not json")
        await fake.notify("channel.chat.message", fk.chat_message_event(
            fake.streamer, fake.viewer, "fine", message_id="b-2"))
        await wait_for(lambda: db(lambda: ChatMessage.objects.filter(platform_message_id="b-2").exists()))
        assert not run.task.done()
    finally:
        await run.__aexit__()
    assert await db(lambda: ChatMessage.objects.filter(platform_message_id="b-1").count()) == 0
    assert "broken one" in caplog.text  # the raw payload is in the log


async def test_expired_token_is_refreshed_at_start_and_saved(twitch):
    fake = twitch
    acc_coro, tokens = make_account(fake)
    acc = await acc_coro
    fake.expire_access_tokens("3003")
    src = await make_source(acc)
    run = await started(fake, src)
    try:
        assert fake.refreshes >= 1
        acc2 = await db(lambda: PlatformAccount.objects.get(pk=acc.pk))
        assert acc2.credentials["access_token"] != tokens["access_token"]
        assert acc2.credentials["refresh_token"] != tokens["refresh_token"]
        assert acc2.credentials["access_token"] in fake.tokens  # the saved pair is the live one
        assert acc2.status == "ok" and acc2.expires_at is not None and acc2.validated_at is not None
    finally:
        await run.__aexit__()


async def test_401_mid_session_refreshes_and_saves(twitch):
    fake = twitch
    acc_coro, tokens = make_account(fake)
    acc = await acc_coro
    src = await make_source(acc, validate_seconds=0.3)
    run = await started(fake, src)
    try:
        fake.expire_access_tokens("3003")  # every call with the old token now gets 401
        await wait_for(lambda: db(lambda: PlatformAccount.objects.get(pk=acc.pk).credentials["access_token"]
                                  != tokens["access_token"]), timeout=8)
        saved = await db(lambda: PlatformAccount.objects.get(pk=acc.pk).credentials)
        assert saved["access_token"] in fake.tokens
        assert run.status.state == "connected" and not run.task.done()
    finally:
        await run.__aexit__()


async def test_revoked_token_needs_reconnect_and_stops(twitch):
    fake = twitch
    acc_coro, _ = make_account(fake)
    acc = await acc_coro
    fake.revoke_user("3003")
    src = await make_source(acc)
    adapter = TwitchAdapter(SourceConfig.from_model(src), Pipeline(listeners=[]).submit)
    with pytest.raises(FatalAdapterError, match="reconnect Twitch"):
        await asyncio.wait_for(adapter.run(), 10)
    acc2 = await db(lambda: PlatformAccount.objects.get(pk=acc.pk))
    assert acc2.status == PlatformAccount.Status.NEEDS_RECONNECT
    assert "Reconnect Twitch" in acc2.status_reason
    # No hammering: one validation, one refresh attempt, no Helix call.
    assert fake.refreshes == 1 and fake.requests == []


async def test_missing_scope_is_reported(twitch):
    fake = twitch
    acc_coro, _ = make_account(fake, scopes=["user:read:chat"])
    src = await make_source(await acc_coro)
    run = await started(fake, src, n_subs=7)
    try:
        assert "channel.ban (403)" in run.status.detail
    finally:
        await run.__aexit__()


async def test_moderator_account_sees_bans_timeouts_unbans_via_channel_moderate(twitch):
    fake = twitch
    fake.moderators["3003"] = {"2001"}
    acc_coro, _ = make_account(fake, user_id="2001")
    src = await make_source(await acc_coro)
    run = await started(fake, src, n_subs=8)
    try:
        types = sorted(s["type"] for s in fake.subscriptions.values())
        assert "channel.moderate" in types and "channel.ban" not in types
        assert all(s["condition"].get("moderator_user_id", "2001") == "2001"
                   for s in fake.subscriptions.values())
        await fake.notify("channel.chat.message", fk.chat_message_event(
            fake.streamer, fake.viewer, "rude words", message_id="x-1"))
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 1))
        expires = (datetime.now(UTC) + timedelta(seconds=300)).replace(microsecond=0)
        await fake.notify("channel.moderate", fk.moderate_event(
            fake.streamer, fake.mod, "timeout", **fk.user_ref(fake.viewer), reason="calm down",
            expires_at=expires.isoformat().replace("+00:00", "Z")))
        await fake.notify("channel.moderate", fk.moderate_event(
            fake.streamer, fake.mod, "untimeout", **fk.user_ref(fake.viewer)))
        await fake.notify("channel.moderate", fk.moderate_event(
            fake.streamer, fake.mod, "ban", **fk.user_ref(fake.jp), reason="spam"))
        await fake.notify("channel.moderate", fk.moderate_event(
            fake.streamer, fake.mod, "slow", wait_time_seconds=10))  # not a chat event: ignored
        await wait_for(lambda: db(lambda: ModerationEvent.objects.count() == 3))
    finally:
        await run.__aexit__()

    def check():
        t = ModerationEvent.objects.get(kind="timeout")
        assert (t.target_author.login, t.moderator, t.reason, t.ends_at) == (
            "viewer", "Mod_Marta", "calm down", expires)
        assert 295 <= t.duration_seconds <= 300
        assert ChatMessage.objects.get(platform_message_id="x-1").platform_state == PlatformState.TIMED_OUT
        assert ModerationEvent.objects.get(kind="unban").target_author.login == "viewer"
        assert ModerationEvent.objects.get(kind="ban").target_author.login == "yamada_taro"

    await db(check)


async def test_missing_keepalive_reconnects_and_resubscribes(twitch, monkeypatch):
    """The fake goes silent (no keepalive): twitchio's watchdog reconnects, resubscribes, and
    chat flows again. (Twitch's minimum keepalive is 10 s; compressed to 1 s here.)"""
    import twitchio.eventsub.websockets as tw_ws

    original = tw_ws.Websocket.__init__

    def fast_keepalive(self, *a, **kw):
        original(self, *a, **kw)
        self._keep_alive_timeout = 1

    monkeypatch.setattr(tw_ws.Websocket, "__init__", fast_keepalive)
    fake = twitch
    fake.keepalive_seconds = 2  # when keepalives are on: one every 1.2 s
    fake.send_keepalives = False
    acc_coro, _ = make_account(fake)
    src = await make_source(await acc_coro)
    run = await started(fake, src)
    try:
        await wait_for(lambda: fake.ws_connects >= 2, timeout=12)
        fake.send_keepalives = True  # the new session is healthy: no further reconnects
        await fake.wait_subscriptions(9)
        assert fake.count("POST", "eventsub/subscriptions") >= 18
        await fake.notify("channel.chat.message", fk.chat_message_event(
            fake.streamer, fake.viewer, "still here", message_id="k-1"))
        await wait_for(lambda: db(lambda: ChatMessage.objects.filter(platform_message_id="k-1").exists()))
        assert not run.task.done()
    finally:
        await run.__aexit__()


async def test_reconnect_storm_stops_the_adapter_for_a_backoff(twitch):
    """Twitch keeps closing new sessions: twitchio would reconnect at once forever; the adapter
    notices the storm and fails, so the supervisor backs off (exponentially, with jitter)."""
    fake = twitch
    acc_coro, _ = make_account(fake)
    src = await make_source(await acc_coro, storm_sessions=3, storm_window_seconds=30,
                            socket_grace_seconds=3)
    run = await started(fake, src)
    try:
        fake.storm = True
        await fake.drop_sockets()
        # Either many sessions in a row, or twitchio gives up on the socket: both stop the
        # adapter so the supervisor's backoff applies.
        with pytest.raises(AdapterError, match="reconnect storm|did not come back"):
            await asyncio.wait_for(run.task, 15)
        assert fake.ws_connects <= 6
    finally:
        await run.__aexit__()


async def test_subs_gifts_raids_announcements_via_chat_notifications(twitch):
    fake = twitch
    acc_coro, _ = make_account(fake)
    src = await make_source(await acc_coro)
    run = await started(fake, src)
    try:
        subbadge = [{"set_id": "subscriber", "id": "6", "info": "6"}]
        await fake.notify("channel.chat.notification", fk.chat_notification_event(
            fake.streamer, fake.viewer, "resub", text="Great stream!", message_id="n-1", badges=subbadge,
            system_message="Viewer subscribed for 6 months!", cumulative_months=6, duration_months=1,
            streak_months=None, sub_tier="1000", is_prime=False, is_gift=False,
            gifter_is_anonymous=None, gifter_user_id=None, gifter_user_name=None, gifter_user_login=None))
        await fake.notify("channel.chat.notification", fk.chat_notification_event(
            fake.streamer, fake.jp, "community_sub_gift", message_id="n-2",
            system_message="山田太郎 is gifting 5 subs!", id="cg-1", total=5, sub_tier="1000",
            cumulative_total=25))
        await fake.notify("channel.chat.notification", fk.chat_notification_event(
            fake.streamer, fake.mod, "raid", message_id="n-3", system_message="1234 raiders!",
            user_id="2001", user_login="mod_marta", user_name="Mod_Marta", viewer_count=1234,
            profile_image_url="https://example.invalid/p.png"))
        await fake.notify("channel.chat.notification", fk.chat_notification_event(
            fake.streamer, fake.streamer, "announcement", text="Poll in 5 minutes!", message_id="n-4",
            color="PRIMARY"))
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 4))
    finally:
        await run.__aexit__()

    def check():
        m = {x.platform_message_id: x for x in ChatMessage.objects.select_related("author")}
        assert (m["n-1"].kind, m["n-1"].text, m["n-1"].extra["months"]) == ("membership", "Great stream!", 6)
        assert m["n-1"].author.login == "viewer"
        assert (m["n-2"].kind, m["n-2"].extra["count"]) == ("gift", 5)
        assert m["n-2"].text == "山田太郎 is gifting 5 subs!"
        assert (m["n-3"].kind, m["n-3"].extra["viewer_count"]) == ("raid", 1234)
        assert (m["n-4"].kind, m["n-4"].text, m["n-4"].extra["color"]) == ("announcement", "Poll in 5 minutes!", "PRIMARY")

    await db(check)


async def test_supervisor_shows_reconnect_twitch_on_the_source_and_retries_slowly(twitch, settings):
    from ingest.locks import LocalLeases
    from ingest.supervisor import Supervisor

    settings.INGEST_BACKOFF_MAX = 60.0
    fake = twitch
    acc_coro, _ = make_account(fake)
    acc = await acc_coro
    src = await make_source(acc)
    fake.revoke_user("3003")
    sup = Supervisor(Pipeline(listeners=[]), leases=LocalLeases(), source_ids=[src.pk], sync_seconds=0.1)
    task = asyncio.create_task(sup.run())
    try:
        await wait_for(lambda: db(lambda: ChatSource.objects.get(pk=src.pk).status == "failed"))
        reason = await db(lambda: ChatSource.objects.get(pk=src.pk).status_reason)
        assert "reconnect Twitch" in reason and "next try in 60 s" in reason
        calls = (fake.validations, fake.refreshes, len(fake.requests))
        await asyncio.sleep(1.0)
        assert (fake.validations, fake.refreshes, len(fake.requests)) == calls  # no hammering
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    assert (await db(lambda: PlatformAccount.objects.get(pk=acc.pk).status)) == "needs_reconnect"


async def test_app_disconnected_mid_stream_stops_with_reconnect_twitch(twitch):
    """The user disconnects the app on Twitch: subscriptions are revoked (authorization_revoked),
    the token is dead. The adapter notices at once and stops with a clear reason."""
    fake = twitch
    acc_coro, _ = make_account(fake)
    acc = await acc_coro
    src = await make_source(acc)
    run = await started(fake, src)
    try:
        fake.revoke_user("3003")
        await fake.revoke_subscriptions()
        with pytest.raises(FatalAdapterError, match="reconnect Twitch"):
            await asyncio.wait_for(run.task, 10)
    finally:
        await run.__aexit__()
    assert (await db(lambda: PlatformAccount.objects.get(pk=acc.pk).status)) == "needs_reconnect"


async def test_token_is_refreshed_before_it_expires(twitch):
    fake = twitch
    acc_coro, tokens = make_account(fake)
    acc = await acc_coro
    src = await make_source(acc)
    run = await started(fake, src)
    try:
        assert fake.refreshes == 0
        from django.utils import timezone

        run.adapter.eventsub.tokens.expires_at = timezone.now() + timedelta(minutes=5)
        await wait_for(lambda: fake.refreshes == 1)
        await wait_for(lambda: db(lambda: PlatformAccount.objects.get(pk=acc.pk).credentials["access_token"]
                                  != tokens["access_token"]))
        saved = await db(lambda: PlatformAccount.objects.get(pk=acc.pk))
        assert saved.credentials["access_token"] in fake.tokens
        assert saved.expires_at > timezone.now() + timedelta(hours=3)
        assert run.status.state == "connected"
    finally:
        await run.__aexit__()
