"""Bots post to Slack: chat.postMessage through a per-channel queue that honours Retry-After."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from ingest.senders import SendError, can_send, send_chat
from tests.slack_helpers import CHANNEL, fake, make_source  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


async def test_posts_are_queued_in_order_and_spaced(fake, settings):  # noqa: F811
    settings.SLACK_SEND_INTERVAL_SECONDS = 0.3
    src = await sync_to_async(make_source)()
    assert can_send("slack")
    await asyncio.gather(*(send_chat(src.pk, f"poll result {i}") for i in range(3)))
    assert [p["text"] for p in fake.posted] == ["poll result 0", "poll result 1", "poll result 2"]
    assert all(p["channel"] == CHANNEL for p in fake.posted)
    gaps = [b - a for a, b in zip(fake.post_times, fake.post_times[1:], strict=False)]
    assert min(gaps) >= 0.25


async def test_a_429_waits_retry_after_then_posts(fake, settings):  # noqa: F811
    settings.SLACK_SEND_INTERVAL_SECONDS = 0
    fake.ratelimit_posts, fake.retry_after = 1, 1
    src = await sync_to_async(make_source)()
    started = time.monotonic()
    await send_chat(src.pk, "after the rate limit")
    assert time.monotonic() - started >= 0.95
    assert [p["text"] for p in fake.posted] == ["after the rate limit"]
    assert fake.names_called().count("chat.postMessage") == 2


async def test_clear_errors(fake, settings):  # noqa: F811
    src = await sync_to_async(make_source)("C0UNKNOWN")
    with pytest.raises(SendError, match="does not know this channel"):
        await send_chat(src.pk, "hello")
    src.credentials = {"bot_token": "xoxb-revoked"}
    await sync_to_async(src.save)()
    with pytest.raises(SendError, match="refused the bot token"):
        await send_chat(src.pk, "hello")
    src.credentials = {}
    await sync_to_async(src.save)()
    with pytest.raises(SendError, match="no Slack bot token"):
        await send_chat(src.pk, "hello")
    settings.SLACK_BOT_TOKEN = "xoxb-test-bot-token"  # the environment's token is used
    fake.channels["C0UNKNOWN"] = []
    await send_chat(src.pk, "from the env token")
    assert fake.posted[-1]["text"] == "from the env token"
