"""TikTok: real protobuf payloads through TikTokLive's own parser and client, against a local fake."""

import asyncio
import json
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async

from ingest.adapters.base import FatalAdapterError, NullStatus, SourceConfig
from ingest.adapters.tiktok import TikTokAdapter, normalize_handle
from ingest.events import Kind
from ingest.models import ChatMessage, ChatSource, LiveSession
from ingest.pipeline import Pipeline
from ingest.tiktok import mapping
from tests.fakes.tiktok import FakeTikTok, base_message

FIXTURES = Path(__file__).parent / "fixtures" / "tiktok"


class RecordingStatus(NullStatus):
    """Keeps every state it went through (a state may last only a moment)."""

    def __init__(self):
        super().__init__()
        self.history = []

    def connected(self, detail=""):
        super().connected(detail)
        self.history.append(("connected", detail))

    def offline(self, detail=""):
        super().offline(detail)
        self.history.append(("offline", detail))

    def saw(self, text):
        return any(text in detail for _, detail in self.history)


INDEX = json.loads((FIXTURES / "index.json").read_text())


def fixture_messages(*names):
    wanted = names or [i["name"] for i in INDEX]
    by_name = {i["name"]: i for i in INDEX}
    return [
        base_message(
            by_name[n]["method"], (FIXTURES / f"{n}.bin").read_bytes(), by_name[n]["msg_id"]
        )
        for n in wanted
    ]


async def parsed_events(names):
    """Run fixture payloads through TikTokLive's real parser (the library's decoding path)."""
    from TikTokLive import TikTokLiveClient
    from TikTokLive.proto import ProtoMessageFetchResult

    client = TikTokLiveClient(unique_id="@streamer")
    client._room_id = 7_000_123
    events = []
    async for ev in client._parse_webcast_response(
        ProtoMessageFetchResult(is_first=False, messages=fixture_messages(*names))
    ):
        events.append(ev)
    await client.web.close()
    return events


def test_handles_are_normalized():
    assert normalize_handle("@zoe.k") == "zoe.k"
    assert normalize_handle("https://www.tiktok.com/@zoe.k/live") == "zoe.k"
    assert normalize_handle(" zoe.k ") == "zoe.k"


async def test_mapping_of_every_event_kind_through_the_library_parser():
    from TikTokLive.events import (
        CommentEvent,
        FollowEvent,
        GiftEvent,
        LikeEvent,
        LiveEndEvent,
        ShareEvent,
    )

    events = await parsed_events(
        [
            "comment_hello",
            "comment_mod",
            "gift_rose_1",
            "gift_rose_end",
            "gift_lion",
            "follow",
            "share",
            "like_1",
            "live_end",
        ]
    )
    kinds = [type(e).__name__ for e in events]
    for cls in (CommentEvent, GiftEvent, FollowEvent, ShareEvent, LikeEvent, LiveEndEvent):
        assert cls.__name__ in kinds

    comments = [mapping.comment(e) for e in events if isinstance(e, CommentEvent)]
    assert comments[0].text == "hello from Kraków 👋"
    assert (comments[0].author.id, comments[0].author.login, comments[0].author.display_name) == (
        "1001",
        "zoe.k",
        "Zoë 🌸",
    )
    assert comments[0].author.avatar_url == "https://p16.example/zoe.jpg"
    assert comments[0].id == "tt-1"
    assert "moderator" in comments[1].author.roles

    gifts = [mapping.gift(e) for e in events if isinstance(e, GiftEvent)]
    assert gifts[0] is None  # mid-streak: not counted yet
    rose, lion = gifts[1], gifts[2]
    assert (rose.kind, rose.amount, rose.currency, rose.extra["repeat_count"]) == (
        Kind.GIFT,
        5,
        "diamonds",
        5,
    )
    assert lion.amount == 29999 and lion.extra["gift_name"] == "Lion"

    follow = mapping.social(next(e for e in events if isinstance(e, FollowEvent)), Kind.FOLLOW)
    assert follow.kind == Kind.FOLLOW and follow.author.login == "yamada_taro"


@pytest.fixture
async def fake(settings):
    server = await FakeTikTok().start()
    settings.TIKTOK_APP_URL = server.url
    settings.TIKTOK_WEBCAST_URL = server.url + "/webcast"
    settings.TIKTOK_SIGN_API_URL = server.url
    settings.TIKTOK_SIGN_API_KEY = ""
    settings.TIKTOK_OFFLINE_CHECK_SECONDS = 0.2
    settings.TIKTOK_OFFLINE_CHECK_MAX_SECONDS = 0.5
    settings.TIKTOK_LIKE_FLUSH_SECONDS = 60
    yield server
    await server.stop()


async def _until(predicate, timeout=10, what="condition"):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _rows():
    return list(
        ChatMessage.objects.order_by("id").values_list(
            "platform_message_id", "kind", "text", "amount", "extra"
        )
    )


@pytest.mark.django_db(transaction=True)
async def test_a_live_session_end_to_end_through_the_real_client(fake):
    src = await sync_to_async(ChatSource.objects.create)(platform="tiktok", identifier="@streamer")
    fake.initial = fixture_messages("comment_hello")
    pipeline = Pipeline(listeners=[])
    pipeline.start()
    status = RecordingStatus()
    adapter = TikTokAdapter(SourceConfig.from_model(src), pipeline.submit, status=status)
    task = asyncio.create_task(adapter.run())
    try:
        await asyncio.wait_for(fake.connected.wait(), 10)
        await _until(lambda: asyncio.sleep(0, result=status.state == "connected"), what="connected")
        await fake.push(
            fixture_messages(
                "comment_mod", "comment_hostile", "gift_rose_1", "gift_rose_2", "gift_rose_end"
            )
        )
        await fake.push(fixture_messages("gift_lion", "like_1", "like_2", "follow", "share"))
        await fake.push(fixture_messages("live_end"))
        await _until(lambda: asyncio.sleep(0, result=status.saw("live ended")), what="live end")
        fake.live = False
        await _until(
            lambda: asyncio.sleep(0, result=status.saw("not live")), what="offline polling"
        )
        await pipeline.drain()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pipeline.stop()
    assert "im_enter_room" in fake.client_frames  # the real client joined the room
    rows = await sync_to_async(_rows)()
    by_id = {r[0]: r for r in rows}
    assert by_id["tt-1"][2] == "hello from Kraków 👋"
    assert by_id["tt-3"][2] == "<img src=x onerror=alert(1)>"  # verbatim
    gifts = [r for r in rows if r[1] == "gift"]
    assert [(g[0], int(g[3])) for g in gifts] == [
        ("tt-gift-6", 5),
        ("tt-gift-7", 29999),
    ]  # streak once, at its end
    likes = [r for r in rows if r[1] == "like"]
    assert (
        len(likes) == 1 and likes[0][4]["likes"] == 20 and likes[0][4]["users"] == 2
    )  # aggregated
    assert {r[1] for r in rows} >= {"message", "gift", "like", "follow", "share"}
    session = await sync_to_async(LiveSession.objects.get)()
    assert session.platform_session_id == "7000123" and session.ended_at is not None
    linked = await sync_to_async(ChatMessage.objects.filter(session=session).count)()
    assert linked == len(rows)


@pytest.mark.django_db(transaction=True)
async def test_a_dropped_socket_reconnects_without_duplicates(fake, settings):
    from ingest.locks import LocalLeases
    from ingest.supervisor import Supervisor

    settings.INGEST_BACKOFF_INITIAL = 0.1
    settings.INGEST_BACKOFF_MAX = 0.3
    await sync_to_async(ChatSource.objects.create)(platform="tiktok", identifier="streamer")
    fake.initial = fixture_messages(
        "comment_hello", "comment_mod"
    )  # TikTok re-sends these on every connect
    sup = Supervisor(Pipeline(listeners=[]), leases=LocalLeases(), sync_seconds=0.2)
    task = asyncio.create_task(sup.run())
    try:
        await asyncio.wait_for(fake.connected.wait(), 10)
        await fake.push(fixture_messages("comment_hostile"))
        await _until(lambda: sync_to_async(ChatMessage.objects.count)(), what="first messages")
        await fake.drop()
        await asyncio.wait_for(fake.connected.wait(), 10)  # reconnected
        await fake.push(fixture_messages("follow"))
        await _until(
            lambda: sync_to_async(ChatMessage.objects.filter(kind="follow").exists)(),
            what="message after reconnect",
        )
        assert fake.sign_calls >= 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    ids = await sync_to_async(
        lambda: list(ChatMessage.objects.values_list("platform_message_id", flat=True))
    )()
    assert sorted(ids) == ["tt-1", "tt-2", "tt-3", "tt-follow-10"]  # re-sent history stored once


@pytest.mark.django_db(transaction=True)
async def test_offline_user_is_checked_again_until_live(fake):
    fake.live = False
    src = await sync_to_async(ChatSource.objects.create)(platform="tiktok", identifier="@streamer")
    status = NullStatus()
    pipeline = Pipeline(listeners=[])
    pipeline.start()
    task = asyncio.create_task(
        TikTokAdapter(SourceConfig.from_model(src), pipeline.submit, status=status).run()
    )
    try:
        await _until(
            lambda: asyncio.sleep(0, result=status.state == "offline"), what="offline state"
        )
        assert "not live" in status.detail
        calls = fake.page_calls
        await _until(
            lambda: asyncio.sleep(0, result=fake.page_calls > calls), what="a second check"
        )
        fake.live = True
        await _until(
            lambda: asyncio.sleep(0, result=status.state == "connected"), what="connect once live"
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pipeline.stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status_code,reason", [(500, "sign server"), (429, "rate limited")])
async def test_a_refusing_sign_server_is_a_clear_failure(fake, status_code, reason):
    fake.sign_status = status_code
    src = await sync_to_async(ChatSource.objects.create)(platform="tiktok", identifier="@streamer")
    adapter = TikTokAdapter(SourceConfig.from_model(src), Pipeline(listeners=[]).submit)
    with pytest.raises(FatalAdapterError, match=reason):
        await asyncio.wait_for(adapter.run(), 10)


@pytest.mark.django_db(transaction=True)
async def test_sign_server_api_key_is_sent(fake, settings):
    fake.required_api_key = "k-123"
    settings.TIKTOK_SIGN_API_KEY = "k-123"
    src = await sync_to_async(ChatSource.objects.create)(platform="tiktok", identifier="@streamer")
    status = NullStatus()
    task = asyncio.create_task(
        TikTokAdapter(
            SourceConfig.from_model(src), Pipeline(listeners=[]).submit, status=status
        ).run()
    )
    try:
        await _until(
            lambda: asyncio.sleep(0, result=status.state == "connected"), what="connected with key"
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
