"""Posting to chat: one entry point, one small sender per platform.

``await send_chat(source_id, text)`` posts ``text`` to the chat of a source. Platform packages
register a sender (``register_sender("twitch", fn)``) that respects the platform's own send
limits (a queue). TikTok is read-only. The demo source "sends" by adding the message to its own
chat, so bots are visible in the demo.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async

from .adapters.base import SourceConfig
from .events import Author, ChatEvent, Kind

log = logging.getLogger(__name__)

Sender = Callable[[SourceConfig, str], Awaitable[None]]
SENDERS: dict[str, Sender] = {}
BOT_AUTHOR = Author(id="chorus-bot", login="chorus", display_name="Chorus bot", roles=["bot"])


class SendError(Exception):
    """The message could not be posted; the text says why (read-only platform, missing scope...)."""


def register_sender(platform: str, sender: Sender) -> None:
    SENDERS[platform] = sender


def can_send(platform: str) -> bool:
    _load()
    return platform in SENDERS


def _load() -> None:
    from importlib import import_module

    for name in ("ingest.twitch.send", "ingest.youtube.send", "ingest.slack.send"):
        try:
            import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise


async def send_chat(source_id: int, text: str) -> None:
    from .models import ChatSource

    src = await sync_to_async(ChatSource.objects.filter(pk=source_id).first)()
    if src is None:
        raise SendError(f"no chat source {source_id}")
    _load()
    sender = SENDERS.get(src.platform)
    if sender is None:
        raise SendError(f"{src.get_platform_display()} chat is read-only for Chorus")
    await sender(SourceConfig.from_model(src), text)


async def _demo_sender(source: SourceConfig, text: str) -> None:
    """The demo chat shows bot posts as messages from "Chorus bot"."""
    from .pipeline import publish_batch
    from .store import store_batch

    event = ChatEvent(
        kind=Kind.MESSAGE,
        platform=source.platform,
        source_id=source.id,
        id=f"bot-{uuid.uuid4().hex}",
        author=BOT_AUTHOR,
        text=text,
    )
    stored = await sync_to_async(store_batch, thread_sensitive=True)([event])
    await publish_batch(stored)


register_sender("demo", _demo_sender)
register_sender("replay", _demo_sender)
