"""The embedded channel layer: Channels' InMemoryChannelLayer without its O(N) work per message.

Channels' in-memory layer (channels 4.3) scans EVERY channel queue and EVERY group membership
for expired entries on each ``receive`` and each ``group_send``, and ``group_send`` creates one
task per member. With N sockets in one process that made:

- a crowd of N participants joining a meeting cost O(N²) (each new socket's first ``receive``
  scanned all the others: ~0.5 ms per socket at N = 2,000, 10+ s for the whole crowd);
- one state change sent to N participants cost O(N²) again (N deliveries, each followed by a
  receive that scans N channels);
- a vote storm spent most of the event loop in those scans.

This subclass keeps the library's behaviour and storage and changes only the cost:

- expired messages and group memberships are still removed, but at most once per
  ``clean_interval`` seconds (default 1 s; messages expire after ``expiry`` = 60 s and
  memberships after ``group_expiry`` = 1 day, so a 1 s granularity changes nothing visible);
- ``group_send`` puts the message on each member's queue directly (``put_nowait`` never waits,
  so the library's task per member bought nothing); a full queue drops the message for that
  member only, as in the library (``ChannelFull`` is swallowed by ``group_send`` there too);
- a message whose values are all immutable scalars (the usual ``{"type": ..., "frame": "<json>"}``)
  is copied shallowly per member: equal to the library's ``deepcopy`` for such a message and
  ~10x cheaper; anything else is deep-copied per member exactly as before.

Scale-out deployments use channels_redis and are not affected.
"""

from __future__ import annotations

import asyncio
import time
from copy import deepcopy

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

_SCALARS = (str, int, float, bool, bytes, type(None))


def _copy(message: dict) -> dict:
    for value in message.values():
        if not isinstance(value, _SCALARS):
            return deepcopy(message)
    return dict(message)


class EmbeddedChannelLayer(InMemoryChannelLayer):
    def __init__(self, *args, clean_interval: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.clean_interval = clean_interval
        self._cleaned_at = float("-inf")

    def _clean_expired(self):
        now = time.monotonic()
        if now - self._cleaned_at < self.clean_interval:
            return
        self._cleaned_at = now
        super()._clean_expired()

    async def send(self, channel, message):
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        self._put(channel, _copy(message))

    def _put(self, channel: str, message: dict) -> None:
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        try:
            queue.put_nowait((time.time() + self.expiry, message))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        members = self.groups.get(group)
        if not members:
            return
        for channel in list(members):
            try:
                self._put(channel, _copy(message))
            except ChannelFull:
                pass
