"""The Twitch adapter: one ChatSource = one channel (identifier = channel login).

- The source has an authorized PlatformAccount (Connect Twitch; own channel or moderator):
  EventSub over websocket via twitchio 3 (``ingest.twitch.eventsub``).
- Otherwise: anonymous IRC over websocket (``ingest.twitch.irc``), which reads any channel,
  plus Helix ``GET /streams`` polling for live sessions (``ingest.twitch.live``).

Source settings (ChatSource.settings, all optional):
  ``transport``: "auto" (default), "irc" or "eventsub";
  ``stream_poll_seconds``: Helix polling interval for IRC sources (default
  TWITCH_STREAM_POLL_SECONDS, 0 = off);
  ``idle_timeout``: seconds of server silence before we PING (default 360);
  ``pong_timeout``: seconds to wait for an answer to that PING (default 10);
  ``reconnect_initial`` / ``reconnect_max``: reconnect backoff (default 1 s / 60 s);
  ``healthy_after``: seconds a connection must last for the backoff to reset (default 30).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from asgiref.sync import sync_to_async
from pydantic import ValidationError

from ..supervisor import backoff_delay
from ..twitch import config
from ..twitch.irc import IrcConnection, IrcLoginFailed, IrcMessage, IrcReconnect
from ..twitch.mapping import MappingError, irc_to_events
from .base import Adapter, FatalAdapterError, register

log = logging.getLogger(__name__)
# NOTICEs that mean retrying soon cannot help (the channel is gone or we may not read it).
FATAL_NOTICES = {"msg_channel_suspended", "msg_banned", "tos_ban", "invalid_user", "msg_channel_blocked"}


def _authorized_account(account_id: int | None):
    """The source's PlatformAccount if it can be used for EventSub, else None."""
    if not account_id:
        return None
    from ..models import PlatformAccount

    acc = PlatformAccount.objects.filter(pk=account_id, platform="twitch").first()
    if acc is None or not (acc.credentials or {}).get("access_token"):
        return None
    return acc


@register
class TwitchAdapter(Adapter):
    platform = "twitch"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = self.source.identifier.strip().lower().lstrip("#")
        self.room_id = ""
        self.transport = ""
        self.connections = 0
        self.unmapped_lines = 0
        self._irc: IrcConnection | None = None
        self._old_malformed = 0
        self.poller = None
        self.eventsub = None

    @property
    def skipped_lines(self) -> int:
        """Lines logged and skipped (not IRC, or chat lines missing what we need)."""
        current = self._irc.malformed if self._irc is not None else 0
        return self._old_malformed + current + self.unmapped_lines

    def setting(self, key: str, default):
        value = self.source.settings.get(key, default)
        try:
            return type(default)(value) if default is not None else value
        except (TypeError, ValueError):
            return default

    async def run(self) -> None:
        if not self.channel:
            raise FatalAdapterError("a Twitch source needs a channel login as identifier")
        mode = self.setting("transport", "auto")
        account = None
        if mode != "irc":
            account = await sync_to_async(_authorized_account)(self.source.account_id)
        if mode == "eventsub" and account is None:
            raise FatalAdapterError(
                "this source is set to EventSub but has no connected Twitch account: "
                "connect Twitch and link the account to the source"
            )
        if account is not None:
            from ..twitch.eventsub import run_eventsub

            self.transport = "eventsub"
            await run_eventsub(self, account)
        else:
            self.transport = "irc"
            await self.run_irc()

    # --- IRC -----------------------------------------------------------------------------
    async def run_irc(self) -> None:
        from ..twitch.live import maybe_start_poller

        poller = maybe_start_poller(self)
        try:
            await self._irc_loop()
        finally:
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await poller

    async def _irc_loop(self) -> None:
        initial = self.setting("reconnect_initial", 1.0)
        maximum = self.setting("reconnect_max", 60.0)
        healthy_after = self.setting("healthy_after", 30.0)
        attempt = 0
        while True:
            started = time.monotonic()
            conn = IrcConnection(
                config.irc_url(),
                [self.channel],
                idle_timeout=self.setting("idle_timeout", 360.0),
                pong_timeout=self.setting("pong_timeout", 10.0),
            )
            self._irc = conn
            self.connections += 1
            asked = False
            reason = "connection ended"
            try:
                async with conn:
                    async for batch in conn.frames():
                        for msg in batch:
                            await self._on_irc(msg)
            except IrcLoginFailed as exc:
                raise FatalAdapterError(f"Twitch IRC refused the login: {exc}") from exc
            except IrcReconnect as exc:
                reason = str(exc)
                asked = "RECONNECT" in reason
            finally:
                self._old_malformed += conn.malformed
                self._irc = None
            if time.monotonic() - started > healthy_after:
                attempt = 0
            attempt += 1
            # The first reconnect after a good connection is immediate when Twitch asks for it;
            # repeated failures (a reconnect storm) back off exponentially with jitter.
            delay = 0.0 if (asked and attempt == 1) else backoff_delay(attempt, initial, maximum)
            self.status.note(f"reconnecting to IRC ({reason}); next try in {delay:.1f} s")
            log.info("twitch #%s: %s; reconnecting in %.1f s", self.channel, reason, delay)
            await asyncio.sleep(delay)

    async def _on_irc(self, msg: IrcMessage) -> None:
        cmd = msg.command
        if cmd == "JOIN" and msg.channel == self.channel:
            self.status.connected(f"reading #{self.channel} (anonymous IRC)")
            return
        if cmd == "NOTICE" and msg.tags.get("msg-id") in FATAL_NOTICES:
            raise FatalAdapterError(f"Twitch refuses #{self.channel}: {msg.trailing}")
        if cmd == "ROOMSTATE":
            self.room_id = msg.tags.get("room-id", self.room_id)
            return
        if msg.channel and msg.channel != self.channel:
            return
        try:
            events = irc_to_events(msg)
        except (MappingError, ValidationError) as exc:
            self.unmapped_lines += 1
            log.warning("skipping Twitch IRC line that cannot be mapped (%s): %r", exc, msg.raw)
            return
        for ev in events:
            await self.emit(ev)
