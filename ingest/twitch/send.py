"""Registers Twitch with ``ingest.senders`` (bots call ``send_chat(source_id, text)``)."""

from ..adapters.base import SourceConfig
from ..senders import register_sender
from .service import send_message


async def twitch_sender(source: SourceConfig, text: str) -> None:
    await send_message(source, text)


register_sender("twitch", twitch_sender)
