"""Robustness: every YouTube failure mode, each against the fake API with the real client."""

import asyncio
import logging

import pytest

from ingest.adapters.base import FatalAdapterError
from ingest.models import ChatMessage, ChatSource, LiveSession, PlatformAccount, QuotaUsage
from ingest.youtube import quota
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
    wait_for,
    yt_fixture,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def _live(yt, *items, polling_ms=50):
    chat = yt.add_video(VIDEO, chat_id=CHAT, polling_ms=polling_ms)
    chat.add(*items)
    account, tokens = await db(make_account, yt)
    src = await db(make_source, account=account)
    return chat, account, tokens, src


async def test_quota_exceeded_stops_polling_until_the_reset_and_says_so(yt):
    chat, account, _, src = await _live(yt, f.text_item("m1", "hi"))
    run = await Run(src.pk).start()
    try:
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 1))
        yt.fail("liveChatMessages.list", 403, "quotaExceeded", times=50)
        await wait_for(lambda: "quota exhausted" in run.status.detail)
        calls = len(yt.calls("liveChatMessages.list"))
        await asyncio.sleep(0.5)
        assert len(yt.calls("liveChatMessages.list")) == calls  # no calls until the reset
    finally:
        await run.stop()
    row = await db(QuotaUsage.objects.get)
    assert row.exhausted_until == quota.reset_at()
    assert run.status.state == "offline" and "Pacific" in run.status.detail
    health = await db(quota.youtube_health)
    assert health["quota"]["exhausted"] is True and health["ok"] is False
    assert health["quota"]["exhausted_until"] == quota.reset_at().isoformat()


@pytest.mark.parametrize(
    "failures",
    [
        [(403, "rateLimitExceeded")] * 3,
        [(503, "backendError"), (500, "backendError"), (429, "rateLimitExceeded")],
    ],
)
async def test_rate_limits_and_5xx_back_off_exponentially_with_jitter(yt, failures):
    chat, account, _, src = await _live(yt, f.text_item("m1", "hi"))
    run = await Run(src.pk).start()
    try:
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 1))
        for status, reason in failures:
            yt.fail("liveChatMessages.list", status, reason)
        n = len(yt.calls("liveChatMessages.list"))
        chat.add(f.text_item("m2", "after the storm"))
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 2), timeout=10)
    finally:
        await run.stop()
    calls = yt.calls("liveChatMessages.list")[n : n + 4]  # 3 failures, then the success
    gaps = [b.t - a.t for a, b in zip(calls, calls[1:], strict=False)]
    # initial 0.1 s, doubling, capped at 0.4; equal jitter = at least half of each ceiling
    for attempt, gap in enumerate(gaps, start=1):
        ceiling = min(0.4, 0.1 * 2 ** (attempt - 1))
        assert gap >= ceiling / 2, (attempt, gaps)
    assert gaps[2] > gaps[0]  # it grows
    # the same page is retried: nothing lost, nothing skipped
    assert len({c.params.get("pageToken") for c in calls}) == 1
    assert await db(lambda: ChatMessage.objects.filter(platform_message_id="m2").count()) == 1


@pytest.mark.parametrize(
    "status,reason,shown",
    [
        (404, "liveChatNotFound", "live chat not found"),
        (403, "liveChatEnded", "live chat ended"),
        (403, "liveChatDisabled", "live chat is disabled for this stream"),
    ],
)
async def test_chat_gone_ends_the_session_with_the_reason(yt, status, reason, shown):
    chat, account, _, src = await _live(yt, f.text_item("m1", "hi"))
    run = await Run(src.pk).start()
    try:
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 1))
        chat.error = (status, reason)
        await wait_for(
            lambda: db(lambda: LiveSession.objects.filter(ended_at__isnull=False).exists())
        )
        await wait_for(lambda: run.status.state == "offline")
    finally:
        await run.stop()
    session = await db(LiveSession.objects.get)
    assert session.end_reason == shown
    assert shown in run.status.detail and "live again" in run.status.detail


async def test_expired_token_is_refreshed_retried_once_and_stored_encrypted(yt):
    chat, account, tokens, src = await _live(yt, f.text_item("m1", "hi"))
    yt.expire_access_tokens()  # the stored access token is now rejected with 401
    await Run(src.pk, max_polls=1).run()
    assert await db(lambda: ChatMessage.objects.count()) == 1
    assert len(yt.calls("token")) == 1  # one refresh ...
    video_calls = yt.calls("videos.list")
    assert len(video_calls) == 2  # ... and one retry of the rejected call
    assert video_calls[0].headers["authorization"] != video_calls[1].headers["authorization"]
    account = await db(PlatformAccount.objects.get, pk=account.pk)
    new_token = account.credentials["token"]
    assert new_token != tokens["access_token"] and new_token in yt.access_tokens
    assert account.credentials["refresh_token"] == tokens["refresh_token"]
    assert account.status == "ok" and account.expires_at is not None
    from django.db import connection

    def raw():
        with connection.cursor() as cur:
            cur.execute(
                "SELECT credentials FROM ingest_platformaccount WHERE id = %s", [account.pk]
            )
            return cur.fetchone()[0]

    stored = await db(raw)
    assert new_token not in stored and tokens["refresh_token"] not in stored


async def test_revoked_token_marks_the_account_reconnect_needed(yt):
    chat, account, tokens, src = await _live(yt, f.text_item("m1", "hi"))
    yt.revoke(tokens["refresh_token"])
    with pytest.raises(FatalAdapterError, match="(?i)reconnect YouTube"):
        await Run(src.pk, max_polls=1).run()
    account = await db(PlatformAccount.objects.get, pk=account.pk)
    assert account.status == PlatformAccount.Status.NEEDS_RECONNECT
    assert account.status_reason.startswith("Reconnect YouTube")
    health = await db(quota.youtube_health)
    assert health["accounts"][0]["status"] == "needs_reconnect" and health["ok"] is False


async def test_network_error_mid_page_retries_the_same_page_token(yt):
    chat, account, _, src = await _live(yt, *[f.text_item(f"a{i}", "x") for i in range(3)])
    run = await Run(src.pk).start()
    try:
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 3))
        yt.drop("liveChatMessages.list", times=3)  # connection closed without a response
        chat.add(*[f.text_item(f"b{i}", "y") for i in range(3)])
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 6), timeout=10)
    finally:
        await run.stop()
    tokens = [c.params.get("pageToken") for c in yt.calls("liveChatMessages.list")]
    assert tokens.count("T00000003") >= 4  # the dropped page was asked for again
    assert "T00000006" in tokens or len(tokens) >= 5
    assert run.pipeline.stats.duplicates == 0
    ids = await db(
        lambda: sorted(ChatMessage.objects.values_list("platform_message_id", flat=True))
    )
    assert ids == ["a0", "a1", "a2", "b0", "b1", "b2"]


async def test_malformed_items_are_logged_and_skipped(yt, caplog):
    bad_author = f.text_item("bad1", "no author id")
    del bad_author["authorDetails"]["channelId"]
    bad_amount = f.superchat_item("bad2", 100, "USD", "x")
    bad_amount["snippet"]["superChatDetails"]["amountMicros"] = "lots"
    no_snippet = {"kind": "youtube#liveChatMessage", "id": "bad3"}
    chat, account, _, src = await _live(
        yt,
        f.text_item("ok1", "fine"),
        bad_author,
        bad_amount,
        no_snippet,
        f.text_item("ok2", "also fine"),
    )
    with caplog.at_level(logging.WARNING, logger="ingest.adapters.youtube"):
        await Run(src.pk, max_polls=1).run()
    ids = await db(
        lambda: sorted(ChatMessage.objects.values_list("platform_message_id", flat=True))
    )
    assert ids == ["ok1", "ok2"]
    skipped = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert len(skipped) == 3 and any("bad2" in r.getMessage() for r in skipped)
    # the page still counts as read: the cursor moved past it
    assert (await db(ChatSource.objects.get, pk=src.pk)).cursor.endswith('"T00000005"}')
