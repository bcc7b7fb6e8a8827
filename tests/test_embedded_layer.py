"""The embedded channel layer (ingest/layers.py) keeps Channels' in-memory semantics."""

import asyncio

import pytest
from channels.exceptions import ChannelFull

from ingest.layers import EmbeddedChannelLayer


@pytest.fixture
def layer():
    return EmbeddedChannelLayer(capacity=3, expiry=60)


async def test_group_send_reaches_every_member_once(layer):
    channels = [await layer.new_channel() for _ in range(50)]
    for c in channels:
        await layer.group_add("crowd", c)
    await layer.group_send("crowd", {"type": "state", "frame": '{"v": 1}'})
    got = [await asyncio.wait_for(layer.receive(c), 1) for c in channels]
    assert got == [{"type": "state", "frame": '{"v": 1}'}] * 50
    for c in channels:
        assert layer.channels.get(c) is None or layer.channels[c].empty()


async def test_a_full_queue_drops_for_that_member_only(layer):
    slow, fast = await layer.new_channel(), await layer.new_channel()
    for c in (slow, fast):
        await layer.group_add("g", c)
    for i in range(3):
        await layer.group_send("g", {"type": "m", "i": i})
    assert [(await layer.receive(fast))["i"] for _ in range(3)] == [0, 1, 2]
    await layer.group_send("g", {"type": "m", "i": 3})  # slow is full: dropped for slow only
    assert (await layer.receive(fast))["i"] == 3
    assert [(await layer.receive(slow))["i"] for _ in range(3)] == [0, 1, 2]
    # send() to a full channel raises, as in the library
    for i in range(3):
        await layer.send(slow, {"type": "m", "i": i})
    with pytest.raises(ChannelFull):
        await layer.send(slow, {"type": "m", "i": 99})


async def test_members_get_independent_copies(layer):
    a, b = await layer.new_channel(), await layer.new_channel()
    for c in (a, b):
        await layer.group_add("g", c)
    message = {"type": "m", "items": [1, 2], "text": "x"}
    await layer.group_send("g", message)
    got_a, got_b = await layer.receive(a), await layer.receive(b)
    got_a["items"].append(3)
    got_a["text"] = "changed"
    assert got_b == {"type": "m", "items": [1, 2], "text": "x"}
    assert message == {"type": "m", "items": [1, 2], "text": "x"}
    scalar = {"type": "m", "frame": "f"}
    await layer.send(a, scalar)
    received = await layer.receive(a)
    assert received == scalar and received is not scalar


async def test_expired_messages_and_memberships_are_still_removed(layer, monkeypatch):
    layer.clean_interval = 0.05
    c = await layer.new_channel()
    await layer.send(c, {"type": "old"})
    await layer.group_add("g", c)
    await layer.group_send("other", {"type": "x"})  # a cleaning now: the next one waits
    clock = __import__("time").time() + 10**6  # far past every expiry
    monkeypatch.setattr("channels.layers.time.time", lambda: clock)
    monkeypatch.setattr("ingest.layers.time.time", lambda: clock)
    await asyncio.sleep(0.06)
    await layer.group_send("g", {"type": "new"})  # cleans first: c is no longer a member
    assert "g" not in layer.groups or c not in layer.groups["g"]
    await layer.send(c, {"type": "direct"})
    assert (await asyncio.wait_for(layer.receive(c), 1))["type"] == "direct"  # "old" expired


async def test_cleaning_runs_at_most_once_per_interval(layer, monkeypatch):
    calls = []
    monkeypatch.setattr(
        "channels.layers.InMemoryChannelLayer._clean_expired", lambda self: calls.append(1)
    )
    layer.clean_interval = 3600
    c = await layer.new_channel()
    await layer.group_add("g", c)
    for _ in range(100):
        await layer.group_send("g", {"type": "m"})
        layer.channels[c].get_nowait()
    assert len(calls) == 1
