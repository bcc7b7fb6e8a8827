"""The overlays' process-local relays (overlays/fanout.py) on the configured channel layer:
in-memory in the embedded suite, Redis in the scale-out suite."""

import asyncio

from channels.layers import get_channel_layer

from overlays import fanout


class Sink:
    def __init__(self):
        self.texts, self.events = [], []

    def relay_text(self, text):
        self.texts.append(text)

    def relay_event(self, message):
        self.events.append(message)


async def until(predicate, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_one_relay_per_group_fans_out_and_stops_when_the_last_socket_leaves():
    layer = get_channel_layer()
    groups = fanout.LocalGroups(layer)
    a, b = Sink(), Sink()
    await groups.add("relay.test", a)
    await groups.add("relay.test", b)
    relay = groups.relays["relay.test"]
    await layer.group_send("relay.test", {"type": "frame.forward", "frame": "one"})
    await layer.group_send("relay.test", {"type": "overlay.event", "n": 1})
    await until(lambda: len(a.events) == 1 and len(b.events) == 1)
    assert a.texts == b.texts == ["one"]

    await groups.discard("relay.test", a)
    assert not relay.task.done()  # b still watches
    await layer.group_send("relay.test", {"type": "frame.forward", "frame": "two"})
    await until(lambda: b.texts == ["one", "two"])
    assert a.texts == ["one"]
    # frames on their way when the last socket leaves are read (nothing left behind in the
    # layer), then the relay ends by itself: not cancelled
    await layer.group_send("relay.test", {"type": "frame.forward", "frame": "three"})
    await asyncio.wait_for(groups.discard("relay.test", b), 10)
    assert relay.task.done() and not relay.task.cancelled()
    if hasattr(layer, "channels"):  # in-memory: the relay's queue is drained
        queue = layer.channels.get(relay.channel)
        assert queue is None or queue.empty()
    assert "relay.test" not in groups.relays

    # nobody listens any more: a frame now reaches no one, and a new socket starts a new relay
    await layer.group_send("relay.test", {"type": "frame.forward", "frame": "lost"})
    c = Sink()
    await groups.add("relay.test", c)
    await layer.group_send("relay.test", {"type": "frame.forward", "frame": "four"})
    await until(lambda: c.texts == ["four"])
    await asyncio.sleep(0.2)
    assert b.texts[-1] != "lost" and c.texts == ["four"]
    await asyncio.wait_for(groups.discard("relay.test", c), 10)


async def test_a_cancelled_relay_ends_its_receive_and_leaves_the_group():
    """The event loop shuts down with sockets still open (a test ends, a server stops): the relay
    task is cancelled and must end promptly, its layer receive too (on Python 3.11 redis-py can
    lose the cancellation; see the _Relay docstring)."""
    layer = get_channel_layer()
    groups = fanout.LocalGroups(layer)
    s = Sink()
    await groups.add("relay.cancel", s)
    relay = groups.relays["relay.cancel"]
    await layer.group_send("relay.cancel", {"type": "frame.forward", "frame": "x"})
    await until(lambda: s.texts == ["x"])
    relay.task.cancel()
    await asyncio.wait_for(asyncio.wait({relay.task}), 10)
    assert relay.task.done() and relay._rx is None
    # left the group: a new relay for it is the only member
    other = fanout.LocalGroups(layer)
    t = Sink()
    await other.add("relay.cancel", t)
    await layer.group_send("relay.cancel", {"type": "frame.forward", "frame": "y"})
    await until(lambda: t.texts == ["y"])
    assert s.texts == ["x"]
    await asyncio.wait_for(other.discard("relay.cancel", t), 10)
    if hasattr(layer, "groups"):  # in-memory: the group is empty again
        assert not layer.groups.get("relay.cancel")
