"""The YouTube adapter with the REAL google-api-python-client against the local fake API."""

import asyncio
import json

import pytest

from ingest.models import ChatMessage, ChatSource, LiveSession, ModerationEvent
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


def every_type():
    troll = f._author("UCtroll", "troll")
    fan = f._author("UCfan", "Fan", isChatSponsor=True)
    return [
        f.text_item("m1", "hello <b>world</b>"),
        f.text_item("m2", "spam spam", troll),
        f.text_item("m3", "to be deleted", fan),
        f.text_item("m4", "to be retracted", fan),
        f.text_item("m5", "to be tombstoned", fan),
        f.superchat_item("sc1", 20_000_000, "USD", "Keep going", tier=4, author=fan),
        f.supersticker_item("ss1", 2_000_000, "EUR", alt="heart", author=fan),
        f.new_sponsor_item("ns1", author=fan),
        f.milestone_item("ms1", 6, "half a year", author=fan),
        f.gifting_item("gf1", 3, author=fan),
        f.gift_received_item("gr1", "UCfan", "gf1"),
        f.deleted_item("del1", "m3"),
        f.retracted_item("ret1", "m4", fan),
        f.tombstone_item("m5"),
        f.text_item("m6", "more spam", f._author("UCtroll2", "troll2")),
        f.banned_item("ban1", "UCtroll", "troll", "permanent"),
        f.banned_item("to1", "UCtroll2", "troll2", "temporary", 300),
    ]


async def test_every_message_type_is_stored_and_moderation_applied(yt):
    chat = yt.add_video(VIDEO, chat_id=CHAT, title="Launch stream", viewers=321)
    chat.add(*every_type())
    account, _ = await db(make_account, yt)
    src = await db(make_source, account=account)
    await Run(src.pk, max_polls=1).run()

    msgs = {m.platform_message_id: m for m in await db(lambda: list(ChatMessage.objects.all()))}
    assert set(msgs) == {
        "m1",
        "m2",
        "m3",
        "m4",
        "m5",
        "m6",
        "sc1",
        "ss1",
        "ns1",
        "ms1",
        "gf1",
        "gr1",
    }
    assert msgs["m1"].text == "hello <b>world</b>" and msgs["m1"].kind == "message"
    assert (msgs["sc1"].kind, msgs["sc1"].amount, msgs["sc1"].currency) == ("paid", 20, "USD")
    assert msgs["sc1"].extra["tier"] == 4
    assert (msgs["ss1"].kind, msgs["ss1"].currency) == ("paid", "EUR")
    assert msgs["ns1"].kind == "membership" and msgs["ms1"].extra["months"] == 6
    assert msgs["gf1"].kind == "gift" and msgs["gf1"].extra["count"] == 3
    # Deleted/retracted/tombstoned messages are marked deleted; bans/timeouts mark the author's.
    for mid in ("m3", "m4", "m5"):
        assert msgs[mid].platform_state == "deleted", mid
    assert msgs["m2"].platform_state == "banned"
    assert msgs["m6"].platform_state == "timed_out"
    assert msgs["m1"].platform_state == "visible"
    mods = await db(lambda: {m.platform_event_id: m for m in ModerationEvent.objects.all()})
    assert mods["to1"].kind == "timeout" and mods["to1"].duration_seconds == 300
    assert mods["ban1"].kind == "ban" and mods["del1"].target_text == "to be deleted"
    session = await db(LiveSession.objects.get)
    assert (session.title, session.viewer_count, session.platform_session_id) == (
        "Launch stream",
        321,
        VIDEO,
    )
    assert session.ended_at is None
    # The resume cursor is the page token of the page just stored.
    src = await db(ChatSource.objects.get, pk=src.pk)
    assert json.loads(src.cursor) == {"chat": CHAT, "page": "T00000017"}


async def test_the_polling_interval_youtube_asks_for_is_honoured(yt):
    chat = yt.add_video(VIDEO, chat_id=CHAT, polling_ms=300)
    chat.add(f.text_item("a1", "first"))
    account, _ = await db(make_account, yt)
    src = await db(make_source, account=account)
    run = await Run(src.pk).start()
    try:
        await wait_for(lambda: len(yt.calls("liveChatMessages.list")) >= 2)
        chat.polling_ms = 600  # YouTube may change its mind between pages
        await wait_for(lambda: len(yt.calls("liveChatMessages.list")) >= 5, timeout=10)
    finally:
        await run.stop()
    calls = yt.calls("liveChatMessages.list")
    gaps = [b.t - a.t for a, b in zip(calls, calls[1:], strict=False)]
    assert all(g >= 0.3 for g in gaps), gaps
    assert any(g >= 0.6 for g in gaps[2:]), gaps  # the new, longer interval is used
    assert max(gaps) < 1.5  # ... and not a fixed long sleep
    # each call continues from the previous page's token
    tokens = [c.params.get("pageToken") for c in calls]
    assert tokens[0] is None and tokens[1] == "T00000001"


async def test_restart_resumes_from_the_stored_page_without_duplicates_or_gaps(yt):
    chat = yt.add_video(VIDEO, chat_id=CHAT, polling_ms=100)
    chat.add(*[f.text_item(f"a{i}", f"early {i}") for i in range(5)])
    account, _ = await db(make_account, yt)
    src = await db(make_source, account=account)
    first = await Run(src.pk).start()
    await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 5))
    chat.add(*[f.text_item(f"b{i}", f"while running {i}") for i in range(3)])
    await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 8))
    await first.stop()  # stopped mid-stream
    stopped_cursor = json.loads((await db(ChatSource.objects.get, pk=src.pk)).cursor)
    chat.add(
        *[f.text_item(f"c{i}", f"while down {i}") for i in range(4)]
    )  # arrive during the outage
    calls_before = len(yt.calls("liveChatMessages.list"))

    second = await Run(src.pk).start()
    try:
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 12))
        chat.add(f.text_item("d0", "after restart"))
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 13))
    finally:
        await second.stop()
    resumed = yt.calls("liveChatMessages.list")[calls_before]
    assert resumed.params.get("pageToken") == stopped_cursor["page"] == "T00000008"
    ids = await db(
        lambda: sorted(ChatMessage.objects.values_list("platform_message_id", flat=True))
    )
    expected = sorted(
        [f"a{i}" for i in range(5)]
        + [f"b{i}" for i in range(3)]
        + [f"c{i}" for i in range(4)]
        + ["d0"]
    )
    assert ids == expected  # no gaps
    assert second.pipeline.stats.duplicates == 0  # ... and nothing fetched twice


async def test_offline_at_ends_the_session_and_drops_to_slow_live_checks(yt):
    chat = yt.add_video(VIDEO, chat_id=CHAT, polling_ms=100)
    chat.add(f.text_item("m1", "bye"))
    account, _ = await db(make_account, yt)
    src = await db(make_source, account=account)
    run = await Run(src.pk).start()
    try:
        await wait_for(lambda: db(lambda: ChatMessage.objects.count() == 1))
        yt.end_video(VIDEO)
        chat.offline_at = f.iso(f._T0)
        await wait_for(
            lambda: db(lambda: LiveSession.objects.filter(ended_at__isnull=False).exists())
        )
        await wait_for(lambda: run.status.state == "offline")
        lists = len(yt.calls("liveChatMessages.list"))
        await asyncio.sleep(0.6)
        assert len(yt.calls("liveChatMessages.list")) == lists  # polling stopped
        assert len(yt.calls("videos.list")) >= 3  # ... for "is it live again" checks
        # Live again with a new chat: a new session starts.
        yt.add_video(VIDEO, chat_id="chat-2", title="Part 2").add(f.text_item("p2", "back"))
        await wait_for(
            lambda: db(lambda: ChatMessage.objects.filter(platform_message_id="p2").exists())
        )
    finally:
        await run.stop()
    sessions = await db(lambda: list(LiveSession.objects.order_by("started_at", "id")))
    assert sessions[0].end_reason == "stream went offline"
    assert [s.title for s in sessions] == ["Live show", "Part 2"]
    assert sessions[1].ended_at is None


async def test_chat_ended_event_ends_the_session(yt):
    chat = yt.add_video(VIDEO, chat_id=CHAT)
    chat.add(f.text_item("m1", "last words"), f.chat_ended_item("end1"))
    account, _ = await db(make_account, yt)
    src = await db(make_source, account=account)
    await Run(src.pk, max_polls=1).run()
    session = await db(LiveSession.objects.get)
    assert session.ended_at is not None and session.end_reason == "chat ended"
    assert await db(lambda: ChatMessage.objects.filter(platform_message_id="m1").exists())
    assert json.loads((await db(ChatSource.objects.get, pk=src.pk)).cursor)["ended"] is True


async def test_my_active_broadcast_is_found_via_live_broadcasts(yt):
    chat = yt.add_broadcast("bc1", "chat-mine", title="My show")
    chat.add(f.text_item("m1", "on my own channel"))
    account, _ = await db(make_account, yt)
    src = await db(make_source, identifier="mine", account=account)
    await Run(src.pk, max_polls=1).run()
    assert await db(lambda: ChatMessage.objects.filter(platform_message_id="m1").exists())
    session = await db(LiveSession.objects.get)
    assert session.title == "My show"


async def test_api_key_mode_reads_public_chat(yt, settings):
    settings.YOUTUBE_API_KEY = "AIza-test-key"
    yt.api_keys.add("AIza-test-key")
    yt.add_video(VIDEO, chat_id=CHAT).add(f.text_item("m1", "public"))
    src = await db(make_source, identifier=f"https://youtu.be/{VIDEO}")
    await Run(src.pk, max_polls=1).run()
    assert await db(lambda: ChatMessage.objects.filter(platform_message_id="m1").exists())
    call = yt.calls("liveChatMessages.list")[0]
    assert call.params["key"] == "AIza-test-key" and "authorization" not in call.headers
