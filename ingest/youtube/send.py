"""Registers YouTube with ``ingest.senders``: ``send_chat(source_id, text)`` posts to the live
chat with liveChatMessages.insert (20 quota units), in a thread (googleapiclient blocks)."""

from __future__ import annotations

from asgiref.sync import sync_to_async

from ..adapters.base import SourceConfig
from ..senders import SendError, register_sender
from .client import YouTubeError


class YouTubeSendError(SendError):
    """The message could not be posted; ``__cause__`` is the YouTube error."""


async def youtube_sender(source: SourceConfig, text: str) -> None:
    from .service import send_message

    try:
        await sync_to_async(send_message)(source.id, text)
    except (YouTubeError, ValueError) as exc:
        raise YouTubeSendError(str(exc)) from exc


register_sender("youtube", youtube_sender)
