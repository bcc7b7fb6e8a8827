"""Live sessions for IRC-only channels: poll Helix ``GET /streams`` at a configurable interval.

A live answer emits stream-start (the store opens a LiveSession, or updates title/category/
viewers of the open one with the same stream id); going from live to offline emits stream-end.
Uses the source's connected account when it has one, else an app token (client credentials:
TWITCH_CLIENT_ID + TWITCH_CLIENT_SECRET). Without either, polling is off (noted in the status).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from django.conf import settings
from django.utils.dateparse import parse_datetime

from ..events import ChatEvent, utcnow
from . import config
from .helix import AppTokens, Helix, HelixError
from .mapping import stream_end_event, stream_start_event
from .oauth import OAuthError

log = logging.getLogger(__name__)


def start_event_from_stream(stream: dict, channel: str) -> ChatEvent:
    started = parse_datetime(stream.get("started_at") or "") or utcnow()
    return stream_start_event(
        stream_id=str(stream["id"]),
        started_at=started,
        title=stream.get("title", ""),
        category=stream.get("game_name", ""),
        viewer_count=stream.get("viewer_count"),
        channel=channel,
    )


class StreamPoller:
    def __init__(self, adapter, helix: Helix, interval: float):
        self.adapter = adapter
        self.helix = helix
        self.interval = interval
        self.current: dict | None = None  # the live stream we last saw
        self.polls = 0

    async def poll_once(self, now: datetime | None = None) -> None:
        stream = await self.helix.stream(login=self.adapter.channel)
        self.polls += 1
        if stream:
            changed = (
                self.current is None
                or self.current.get("id") != stream.get("id")
                or self.current.get("title") != stream.get("title")
                or self.current.get("game_name") != stream.get("game_name")
                or self.current.get("viewer_count") != stream.get("viewer_count")
            )
            if changed:
                await self.adapter.emit(start_event_from_stream(stream, self.adapter.channel))
            self.current = stream
        elif self.current is not None:
            await self.adapter.emit(
                stream_end_event(
                    stream_id=str(self.current.get("id", "")),
                    ended_at=now or utcnow(),
                    channel=self.adapter.channel,
                )
            )
            self.current = None

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.poll_once()
                except OAuthError as exc:
                    log.warning("stream polling for #%s stopped: %s", self.adapter.channel, exc)
                    self.adapter.status.note(f"live detection off: {exc}")
                    return
                except HelixError as exc:
                    log.warning("stream poll for #%s failed: %s", self.adapter.channel, exc)
                await asyncio.sleep(self.interval)
        finally:
            await self.helix.close()


def maybe_start_poller(adapter) -> asyncio.Task | None:
    interval = float(
        adapter.source.settings.get("stream_poll_seconds", settings.TWITCH_STREAM_POLL_SECONDS)
    )
    if interval <= 0:
        return None
    if not (config.client_id() and config.client_secret()):
        adapter.status.note("live detection off: set TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET")
        return None
    poller = StreamPoller(adapter, Helix(AppTokens()), interval)
    adapter.poller = poller
    return asyncio.create_task(poller.run(), name=f"twitch-streams-{adapter.channel}")
