"""Process-local fan-out for overlay sockets.

Thousands of overlay sockets watch the same few groups. Joining each socket to the channel-layer
group makes every frame N channel-layer messages (N copies, N queue wake-ups; the in-memory layer
even scans every channel on each receive, so a frame to N sockets costs O(N²)). Instead, each
server process joins every group ONCE, with one relay channel per group, and hands the frame
(rendered once) to its local sockets directly.

Each socket has a small outbox drained by its own task, so a stuck client (full TCP buffer) delays
nobody else; an outbox over ``OUTBOX_LIMIT`` frames closes that socket (the page reconnects and
gets the current state in its hello frame).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import weakref
from collections import deque

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 200
REJOIN_SECONDS = 3600  # group membership expires in the channel layer (default after a day)
RELAY_STOP = "relay.stop"  # sent by a relay to its own channel only, never to a group
CANCEL_GRACE = 0.5  # seconds a cancelled receive gets before it is handed a RELAY_STOP
STOP_TIMEOUT = 5.0


class Member:
    """Mixin for a consumer fed by the relay: ``relay_text`` / ``relay_event`` never block."""

    def relay_setup(self):
        """Start collecting frames; they are held until ``relay_release`` (after the hello)."""
        self._outbox: deque = deque()
        self._drainer: asyncio.Task | None = None
        self._held = True
        self._closing = False

    def relay_release(self):
        if getattr(self, "_held", False):
            self._held = False
            if self._outbox:
                self._start_drain()

    def transform(self, text: str) -> str | None:
        """The text to send for a forwarded frame (None = not for this socket)."""
        return text

    def relay_text(self, text: str) -> None:
        text = self.transform(text)
        if text is None:
            return
        self._push(("text", text))

    def relay_event(self, message: dict) -> None:
        self._push(("event", message))

    def _push(self, item) -> None:
        if self._closing:
            return
        if len(self._outbox) >= OUTBOX_LIMIT:
            # Its send is stuck (full TCP buffer): give up on it without waiting for that send.
            log.warning("overlay socket too slow (%d frames waiting): closing it", OUTBOX_LIMIT)
            self._closing = True
            self._outbox.clear()
            if self._drainer is not None:
                self._drainer.cancel()
            asyncio.get_running_loop().create_task(
                self.close(code=4000), context=contextvars.Context()
            )
            return
        self._outbox.append(item)
        if not self._held:
            self._start_drain()

    def _start_drain(self) -> None:
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.get_running_loop().create_task(
                self._drain(), context=contextvars.Context()
            )

    async def _drain(self) -> None:
        while self._outbox and not self._held:
            kind, item = self._outbox.popleft()
            try:
                if kind == "text":
                    await self.send(text_data=item)
                else:
                    handler = getattr(self, item["type"].replace(".", "_"), None)
                    if handler is not None:
                        await handler(item)
            except Exception:  # the socket went away meanwhile
                self._outbox.clear()
                return


class _Relay:
    """One channel-layer channel in one group, fanned out to this process's sockets.

    Lifecycle. ``start`` joins the group and starts the task. ``stop`` (the last local socket
    left) leaves the group, then sends ``RELAY_STOP`` to the relay's own channel: the task hands
    on what was already on its way and ends when the marker comes back, so its receive ends
    normally (no cancellation, nothing left behind in the layer). If the task is cancelled
    instead (the event loop shuts down with sockets still open), it ends its receive itself and
    leaves the group (``_end_receive``).

    The receive runs as a task of its own that the relay waits on with ``asyncio.wait``. Awaited
    directly, a cancellation of the relay could be lost: on Python 3.11 redis-py writes with
    ``asyncio.wait_for``, which returns the finished write instead of raising a CancelledError
    that arrives in the same instant (fixed in 3.12), and channels_redis' receive then goes on
    polling (BZPOPMIN every 5 s) until a message for that channel comes, i.e. forever.
    """

    def __init__(self, layer, group: str):
        self.layer = layer
        self.group = group
        self.members: set = set()
        self.channel: str | None = None
        self.task: asyncio.Task | None = None
        self.ready = asyncio.Event()  # set when start() finished (task is None if it failed)
        self.stopping = False
        self._rx: asyncio.Future | None = None
        self._joined = False

    async def start(self) -> None:
        # Default prefix: channels_redis reads every "specific.<process>!" channel through one
        # shared receive loop; another prefix would starve behind the consumers' own receives.
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        self._joined = True
        self.joined_at = time.monotonic()
        self.task = asyncio.get_running_loop().create_task(
            self._run(), name=f"overlay relay {self.group}", context=contextvars.Context()
        )

    async def _run(self) -> None:
        try:
            while True:
                if self._rx is None:
                    self._rx = asyncio.ensure_future(self.layer.receive(self.channel))
                wait = max(self.joined_at + REJOIN_SECONDS - time.monotonic(), 0)
                done, _ = await asyncio.wait({self._rx}, timeout=wait)
                if time.monotonic() - self.joined_at >= REJOIN_SECONDS:
                    await self._rejoin()
                if not done:
                    continue
                rx, self._rx = self._rx, None
                try:
                    message = rx.result()
                except Exception:
                    log.exception("overlay relay of %s failed; retrying", self.group)
                    await asyncio.sleep(1)
                    continue
                if message.get("type") == RELAY_STOP:
                    if self.stopping:
                        return
                    continue  # a marker of an earlier stop attempt
                self._deliver(message)
        finally:
            await self._end_receive()
            if self._joined:
                await self._leave()
            _forget_buffer(self.layer, self.channel)

    def _deliver(self, message: dict) -> None:
        members = list(self.members)
        frame = message.get("frame") if message.get("type") == "frame.forward" else None
        for m in members:
            try:
                if frame is not None:
                    m.relay_text(frame)
                else:
                    m.relay_event(message)
            except Exception:  # one socket's bad transform must not stop the others' frames
                log.exception("overlay relay of %s: a socket refused a frame", self.group)

    async def _rejoin(self) -> None:
        # Group membership expires in the channel layer: renew it, even when nothing is sent.
        self.joined_at = time.monotonic()
        try:
            await self.layer.group_add(self.group, self.channel)
        except Exception:
            log.exception("overlay relay could not renew its membership of %s", self.group)

    async def _leave(self) -> None:
        self._joined = False
        try:
            await self.layer.group_discard(self.group, self.channel)
        except Exception:
            log.exception("overlay relay could not leave %s", self.group)

    async def _end_receive(self) -> None:
        rx, self._rx = self._rx, None
        if rx is None:
            return
        if not rx.done():
            rx.cancel()
            done, _ = await asyncio.wait({rx}, timeout=CANCEL_GRACE)
            if not done:
                # The cancellation was lost inside the Redis client (see the class docstring)
                # and the receive polls on: a message to this channel ends it.
                try:
                    await self.layer.send(self.channel, {"type": RELAY_STOP})
                except Exception:
                    log.exception("overlay relay of %s: could not end its receive", self.group)
                done, _ = await asyncio.wait({rx}, timeout=STOP_TIMEOUT)
            if not done:
                log.warning("overlay relay of %s: its channel-layer receive did not end", self.group)
                return
        if not rx.cancelled():
            rx.exception()  # retrieved: a failed receive of a stopping relay is of no interest

    async def stop(self) -> None:
        """The last local socket left: leave the group, deliver what is on its way, end."""
        self.stopping = True
        task = self.task
        if task is None or task.done():
            return
        try:
            await self._leave()
            await self.layer.send(self.channel, {"type": RELAY_STOP})
        except Exception:
            log.exception("overlay relay of %s: no stop marker; cancelling it", self.group)
            task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
        if not done:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
        if not done:
            log.warning("overlay relay of %s did not stop", self.group)


def _forget_buffer(layer, channel: str | None) -> None:
    """channels_redis keeps a queue per local channel in ``receive_buffer`` and files a message
    that arrives for a channel nobody receives on any more (sent just before we left the group)
    into a new one that is never deleted. Drop ours once no such message can still come."""
    buffers = getattr(layer, "receive_buffer", None)
    if buffers is None or channel is None:
        return
    loop = asyncio.get_running_loop()
    buffers.pop(channel, None)
    loop.call_later(getattr(layer, "expiry", 60), buffers.pop, channel, None)


class LocalGroups:
    """The relays of one event loop: one per group with local sockets, none for the others."""

    def __init__(self, layer):
        self.layer = layer
        self.relays: dict[str, _Relay] = {}

    async def add(self, group: str, member) -> None:
        while True:
            relay = self.relays.get(group)
            if relay is not None and relay.task is not None and relay.task.done():
                del self.relays[group]  # it died (a bug): start a new one
                relay = None
            if relay is None:
                relay = self.relays[group] = _Relay(self.layer, group)
                relay.members.add(member)
                try:
                    await relay.start()
                except BaseException:
                    if self.relays.get(group) is relay:
                        del self.relays[group]
                    raise
                finally:
                    relay.ready.set()
                return
            relay.members.add(member)
            await relay.ready.wait()
            if relay.task is not None:
                return
            relay.members.discard(member)  # its start failed: try to start one ourselves

    async def discard(self, group: str, member) -> None:
        relay = self.relays.get(group)
        if relay is None or member not in relay.members:
            return
        relay.members.discard(member)
        if relay.members:
            return
        await relay.ready.wait()
        if relay.members or self.relays.get(group) is not relay:
            return  # a socket arrived meanwhile, or its start failed
        del self.relays[group]
        await relay.stop()

    def size(self, group: str) -> int:
        relay = self.relays.get(group)
        return len(relay.members) if relay else 0


_local: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def local_groups(layer) -> LocalGroups:
    """The relays of this event loop (one per server process; tests run a loop per test)."""
    loop = asyncio.get_running_loop()
    lg = _local.get(loop)
    if lg is None or lg.layer is not layer:
        lg = _local[loop] = LocalGroups(layer)
    return lg
