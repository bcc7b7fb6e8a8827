"""Slack channels as chat sources (slack-bolt; RTM is not available to new Slack apps).

A source is one channel: ``identifier`` = channel id (C..., G...). Settings and credentials: see
ingest/slack/config.py and docs/platforms/slack.md. Socket Mode (default) shares one websocket per
app token between every channel of this worker; in HTTP mode Slack posts to ``/slack/events`` and
this adapter only checks the token and reports the source connected.
"""

from __future__ import annotations

import asyncio
import time

from asgiref.sync import sync_to_async

from ..slack.config import ChannelInfo, SlackConfigError, parse_settings, resolve_credentials
from .base import Adapter, AdapterError, FatalAdapterError, register

RECONNECT_GRACE_SECONDS = 30.0
CHECK_SECONDS = 1.0


def _load_info(source) -> ChannelInfo:
    from ..models import PlatformAccount

    account = None
    if source.account_id:
        account = PlatformAccount.objects.filter(pk=source.account_id).first()
    creds = resolve_credentials(source.credentials, account.credentials if account else None)
    return ChannelInfo(source.id, source.identifier, parse_settings(source.settings), creds)


@register
class SlackAdapter(Adapter):
    platform = "slack"

    async def run(self) -> None:
        from ..slack import app as slack_app
        from ..slack import db as slack_db

        try:
            info = await sync_to_async(_load_info)(self.source)
            mode = info.settings.effective_mode()
            if mode == "http":
                await asyncio.to_thread(slack_app.get_workspace, info.credentials, http=True)
                self.status.connected("HTTP Events API: Slack posts events to /slack/events")
                await asyncio.Event().wait()  # until the supervisor stops the source
            conn = await asyncio.to_thread(slack_app.acquire_socket, info.credentials)
        except SlackConfigError as exc:
            raise FatalAdapterError(str(exc)) from None
        loop = asyncio.get_running_loop()
        route = slack_app.Route(info, slack_app.AdapterSink(loop, self.emit))
        conn.workspace.register(info.channel, route)
        slack_db.acquire_loop(loop)
        try:
            self.status.connected(f"Socket Mode, channel {info.channel}")
            lost_since = None
            while True:
                await asyncio.sleep(CHECK_SECONDS)
                if conn.is_connected():
                    if lost_since is not None:
                        self.status.connected(f"Socket Mode, channel {info.channel}")
                    lost_since = None
                    continue
                # slack-sdk reconnects by itself (refresh_requested, network blips).
                lost_since = lost_since or time.monotonic()
                self.status.note("Socket Mode reconnecting")
                if time.monotonic() - lost_since > RECONNECT_GRACE_SECONDS:
                    raise AdapterError("Socket Mode connection lost")
        finally:
            slack_db.release_loop(loop)
            conn.workspace.unregister(info.channel, route)
            await asyncio.to_thread(slack_app.release_socket, conn)
