"""Bots post to Slack channels: ``chat.postMessage`` through a queue per channel.

Slack allows about one message per second per channel: posts to a channel leave at most every
``SLACK_SEND_INTERVAL_SECONDS``, in order. A 429 answer is waited out for its ``Retry-After``
seconds and the same post is retried (up to ``MAX_RETRIES`` times). ``send_chat`` waits until the
post is accepted, so a bot sees the failure (missing ``chat:write`` scope, bot not in channel).
"""

from __future__ import annotations

import asyncio
import logging
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from ..adapters.base import SourceConfig
from ..senders import SendError, register_sender
from .config import api_url, resolve_credentials

log = logging.getLogger(__name__)
MAX_RETRIES = 5
MAX_RETRY_AFTER = 120.0

ERRORS = {
    "not_in_channel": "the Slack bot is not a member of this channel (invite it: /invite @bot)",
    "channel_not_found": "Slack does not know this channel (check the channel id)",
    "missing_scope": "the Slack bot token lacks the chat:write scope",
    "invalid_auth": "Slack refused the bot token",
    "not_authed": "no Slack bot token configured",
    "msg_too_long": "the message is too long for Slack",
}


def _client(token: str) -> WebClient:
    # No automatic 429 retry here: the queue waits Retry-After itself (and keeps the order).
    return WebClient(token=token, base_url=api_url(), timeout=15)


class ChannelQueue:
    def __init__(self, token: str, channel: str):
        self.client = _client(token)
        self.channel = channel
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self.run(), name=f"slack-send-{channel}")
        self.last_post = 0.0
        self.posted: list[str] = []  # ts of accepted posts (tests, logs)

    async def run(self) -> None:
        interval = float(settings.SLACK_SEND_INTERVAL_SECONDS)
        while True:
            text, future = await self.queue.get()
            wait = self.last_post + interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                ts = await self.post(text)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(ts)
            self.last_post = time.monotonic()

    async def post(self, text: str) -> str:
        for attempt in range(MAX_RETRIES + 1):
            try:
                resp = await asyncio.to_thread(
                    self.client.chat_postMessage, channel=self.channel, text=text
                )
                self.posted.append(resp.get("ts", ""))
                return resp.get("ts", "")
            except SlackApiError as exc:
                status = exc.response.status_code
                if status == 429 and attempt < MAX_RETRIES:
                    retry_after = float(exc.response.headers.get("Retry-After", 1) or 1)
                    retry_after = min(max(retry_after, 0.0), MAX_RETRY_AFTER)
                    log.warning(
                        "Slack rate limit on %s: retrying in %.0f s", self.channel, retry_after
                    )
                    await asyncio.sleep(retry_after)
                    continue
                error = exc.response.get("error", "") if isinstance(exc.response.data, dict) else ""
                raise SendError(
                    ERRORS.get(error, f"Slack refused the message: {error or status}")
                ) from None
            except OSError as exc:
                raise SendError(f"Slack is unreachable: {exc}") from None
        raise SendError("Slack kept rate-limiting the message")


_queues: dict[tuple, ChannelQueue] = {}


def _token_for(source: SourceConfig) -> str:
    from ..models import PlatformAccount

    account = None
    if source.account_id:
        account = PlatformAccount.objects.filter(pk=source.account_id).first()
    return resolve_credentials(
        source.credentials, account.credentials if account else None
    ).bot_token


async def send(source: SourceConfig, text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise SendError("nothing to send")
    token = await sync_to_async(_token_for)(source)
    if not token:
        raise SendError("no Slack bot token: set SLACK_BOT_TOKEN or the source's bot_token")
    loop = asyncio.get_running_loop()
    key = (id(loop), token, source.identifier, api_url())
    q = _queues.get(key)
    if q is None or q.task.done():
        q = _queues[key] = ChannelQueue(token, source.identifier)
    future = loop.create_future()
    await q.queue.put((text, future))
    return await future


register_sender("slack", send)
