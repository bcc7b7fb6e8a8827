"""A burst of chat must reach a live dashboard whole.

The channel layer holds at most CHANNEL_CAPACITY (100) messages per consumer and DROPS the rest
silently, so the pipeline must publish per batch, never per message: 5,000 messages arriving at
once are a handful of frames.
"""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.models import Group, User

from ingest.models import ChatMessage
from ingest.pipeline import Pipeline
from tests.factories import author, msg, source
from tests.ws import connect, receive

pytestmark = [pytest.mark.django_db(transaction=True)]

BURST = 5000


@sync_to_async
def make_moderator():
    user = User.objects.create_user("burst-mod", password="x" * 20)
    user.groups.add(Group.objects.get_or_create(name="moderator")[0])
    return user


async def test_a_burst_of_5000_messages_reaches_the_dashboard_without_loss():
    assert settings.CHANNEL_CAPACITY == 100  # the default: the layer drops beyond this
    assert get_channel_layer().capacity == 100
    src = await sync_to_async(source)()
    dashboard, ok, _ = await connect("/ws/moderation/", await make_moderator())
    assert ok
    assert (await receive(dashboard))["type"] == "hello"

    pipeline = Pipeline(listeners=[])
    pipeline.start()
    try:
        for i in range(BURST):  # all at once: nothing awaits between submissions
            who = author(uid=f"u{i % 40}", login=f"viewer{i % 40}")
            await pipeline.submit(msg(src, i, text=f"burst {i}", who=who))
        await pipeline.drain(seconds=60)
    finally:
        await pipeline.stop()

    received: list[str] = []
    frames = 0
    while len(received) < BURST:
        try:
            frame = await receive(dashboard, timeout=5)
        except TimeoutError:
            break  # whatever was dropped will never come
        if frame["type"] != "chat.messages":
            continue
        frames += 1
        received += [m["platform_message_id"] for m in frame["messages"]]
    assert len(received) == BURST, f"{BURST - len(received)} messages never reached the dashboard"
    assert await dashboard.receive_nothing(timeout=0.3)  # and nothing twice
    await dashboard.disconnect()

    assert len(received) == len(set(received))
    assert set(received) == {f"m{i}" for i in range(BURST)}
    # Batched: a few frames, far below the layer's capacity.
    assert frames <= BURST // settings.INGEST_BATCH_SIZE + 5
    assert await sync_to_async(ChatMessage.objects.count)() == BURST
