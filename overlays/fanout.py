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
        while self._outbox:
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
    def __init__(self, layer, group: str):
        self.layer = layer
        self.group = group
        self.members: set = set()
        self.channel: str | None = None
        self.task: asyncio.Task | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        # Default prefix: channels_redis reads every "specific.<process>!" channel through one
        # shared receive loop; another prefix would starve behind the consumers' own receives.
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        self.joined_at = time.monotonic()
        self.task = asyncio.get_running_loop().create_task(
            self._run(), context=contextvars.Context()
        )
        self.ready.set()

    async def _run(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("overlay relay of %s failed; retrying", self.group)
                await asyncio.sleep(1)
                continue
            members = list(self.members)
            if message.get("type") == "frame.forward":
                text = message["frame"]
                for m in members:
                    m.relay_text(text)
            else:
                for m in members:
                    m.relay_event(message)
            if time.monotonic() - self.joined_at > REJOIN_SECONDS:
                self.joined_at = time.monotonic()
                await self.layer.group_add(self.group, self.channel)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.channel is not None:
            await self.layer.group_discard(self.group, self.channel)


class LocalGroups:
    def __init__(self, layer):
        self.layer = layer
        self.relays: dict[str, _Relay] = {}

    async def add(self, group: str, member) -> None:
        relay = self.relays.get(group)
        if relay is None:
            relay = self.relays[group] = _Relay(self.layer, group)
            relay.members.add(member)
            try:
                await relay.start()
            except Exception:
                self.relays.pop(group, None)
                raise
            return
        relay.members.add(member)
        await relay.ready.wait()

    async def discard(self, group: str, member) -> None:
        relay = self.relays.get(group)
        if relay is None:
            return
        relay.members.discard(member)
        if not relay.members and relay.ready.is_set():
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
