"""A crowd joining at once (a QR code on screen) must not exhaust the Redis connection pool."""

import asyncio

import pytest
from channels.layers import get_channel_layer

pytestmark = pytest.mark.scaleout


async def test_hundreds_of_simultaneous_joins_succeed():
    layer = get_channel_layer()
    channels = [await layer.new_channel() for _ in range(400)]
    await asyncio.gather(*(layer.group_add("crowd.test", c) for c in channels))
    await layer.group_send("crowd.test", {"type": "x"})
    got = await asyncio.gather(*(layer.receive(c) for c in channels[:50]))
    assert all(m["type"] == "x" for m in got)
    await asyncio.gather(*(layer.group_discard("crowd.test", c) for c in channels))
