"""Live sessions of IRC-only channels: Helix GET /streams polling (fake Helix + fake IRC), messages
linked to their session, offline chat kept without one."""

import asyncio
import contextlib
import time

import pytest
from asgiref.sync import sync_to_async

from ingest.adapters.base import NullStatus, SourceConfig
from ingest.adapters.twitch import TwitchAdapter
from ingest.models import ChatMessage, ChatSource, LiveSession
from ingest.pipeline import Pipeline
from tests.fakes.twitch_api import CLIENT_ID, CLIENT_SECRET, FakeTwitch
from tests.fakes.twitch_irc import FakeIrcServer
from tests.test_twitch_irc import privmsg

pytestmark = pytest.mark.django_db(transaction=True)


async def wait_for(predicate, timeout=8.0):
    deadline = time.monotonic() + timeout
    while not await sync_to_async(predicate)():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.fixture
async def fakes(settings):
    async with FakeTwitch() as api, FakeIrcServer() as irc:
        settings.TWITCH_API_URL = api.helix_url
        settings.TWITCH_AUTH_URL = api.base
        settings.TWITCH_IRC_URL = irc.url
        settings.TWITCH_CLIENT_ID = CLIENT_ID
        settings.TWITCH_CLIENT_SECRET = CLIENT_SECRET
        api.add_user("3003", "streamer", "Streamer")
        yield api, irc


async def test_polling_opens_updates_and_closes_sessions(fakes):
    api, irc = fakes
    src = await sync_to_async(ChatSource.objects.create)(
        platform="twitch", identifier="streamer", settings={"stream_poll_seconds": 0.15})
    pipeline = Pipeline(listeners=[], flush_ms=20)
    pipeline.start()
    adapter = TwitchAdapter(SourceConfig.from_model(src), pipeline.submit, status=NullStatus())
    task = asyncio.create_task(adapter.run())
    try:
        await irc.wait_joined("streamer")
        now_ms = int(time.time() * 1000)
        await irc.push([privmsg(1, "before the show", ts=now_ms - 60_000)])
        await wait_for(lambda: ChatMessage.objects.count() == 1)
        api.set_live("3003", title="Quiz night", game="Trivia", viewers=50, stream_id="st-1")
        await wait_for(lambda: LiveSession.objects.filter(source=src).exists())
        await asyncio.sleep(0.1)
        await irc.push([privmsg(2, "during the show", ts=int(time.time() * 1000) + 500)])
        await wait_for(lambda: ChatMessage.objects.count() == 2)
        api.streams["3003"]["viewer_count"] = 80
        api.streams["3003"]["title"] = "Quiz night: finals"
        await wait_for(lambda: LiveSession.objects.get(source=src).viewer_count == 80)
        api.set_offline("3003")
        await wait_for(lambda: LiveSession.objects.get(source=src).ended_at is not None)
        await asyncio.sleep(0.1)
        await irc.push([privmsg(3, "after the show", ts=int(time.time() * 1000) + 500)])
        await wait_for(lambda: ChatMessage.objects.count() == 3)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await pipeline.stop()

    def check():
        s = LiveSession.objects.get(source=src)
        assert (s.platform_session_id, s.title, s.category) == ("st-1", "Quiz night: finals", "Trivia")
        assert (s.viewer_count, s.peak_viewer_count) == (80, 80)
        by_id = {m.platform_message_id: m.session_id for m in ChatMessage.objects.all()}
        assert by_id == {"msg-1": None, "msg-2": s.pk, "msg-3": None}
        assert LiveSession.objects.count() == 1  # repeated polls never open a second session

    await sync_to_async(check)()
    assert adapter.poller.polls >= 4
    # Polling used an app token (client credentials), never a user token.
    assert all(q.get("user_login") == "streamer" for m, p, q in api.requests if p == "streams")


async def test_without_app_credentials_polling_is_off_but_chat_works(fakes, settings):
    api, irc = fakes
    settings.TWITCH_CLIENT_SECRET = ""
    src = await sync_to_async(ChatSource.objects.create)(
        platform="twitch", identifier="streamer", settings={"stream_poll_seconds": 0.1})
    pipeline = Pipeline(listeners=[], flush_ms=20)
    pipeline.start()
    status = NullStatus()
    adapter = TwitchAdapter(SourceConfig.from_model(src), pipeline.submit, status=status)
    task = asyncio.create_task(adapter.run())
    try:
        await irc.wait_joined("streamer")
        await irc.push([privmsg(1)])
        await wait_for(lambda: ChatMessage.objects.count() == 1)
        assert api.requests == [] and adapter.poller is None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await pipeline.stop()
