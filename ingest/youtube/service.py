"""Send and moderate on YouTube (bots, moderators): each call charged to the daily quota.

    send_message(source, "hello")             # liveChatMessages.insert
    delete_message(source, platform_msg_id)   # liveChatMessages.delete
    ban_user(source, channel_id, seconds=300) # liveChatBans.insert (temporary)
    ban_user(source, channel_id)              # ... permanent

``source`` is a ChatSource (or its pk) of platform "youtube"; its account (else the first
connected one) must have granted youtube.force-ssl. Blocking: call from sync code, or via
``sync_to_async``/``asyncio.to_thread`` from async code. Failures raise the YouTubeError
subclasses of ingest.youtube.client with a message meant for the user (ScopeError when the
token is read-only, NeedsReconnect, QuotaExceeded with the reset time, ChatUnavailable).
"""

from __future__ import annotations

import logging

from ..models import ChatSource, Platform
from . import oauth, quota
from .client import (
    WRITE_SCOPE,
    ChatUnavailable,
    NeedsReconnect,
    QuotaExceeded,
    ScopeError,
    YouTubeClient,
)
from .mapping import normalize_video_id

log = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 200  # YouTube's limit for a live chat message


def _source(source) -> ChatSource:
    if not isinstance(source, ChatSource):
        source = ChatSource.objects.get(pk=source)
    if source.platform != Platform.YOUTUBE:
        raise ValueError(f"{source} is not a YouTube source")
    return source


def _call(client: YouTubeClient, method: str, fn, *args):
    until = quota.blocked_until(method)
    if until is not None:
        raise QuotaExceeded(
            f"YouTube quota exhausted; {method} is possible again at {until.isoformat()}",
            reason="quotaExceeded",
        )
    token = client.credentials.token if client.credentials is not None else None
    try:
        return fn(*args)
    except NeedsReconnect as exc:
        if client.account_id:
            oauth.mark_needs_reconnect(client.account_id, str(exc))
        raise
    except QuotaExceeded:
        quota.mark_exhausted("quotaExceeded")
        raise
    finally:
        quota.charge(method)
        oauth.persist_if_refreshed(client, token)


def _writer(src: ChatSource) -> YouTubeClient:
    client = oauth.client_for(src.account_id, require_oauth=True)
    account = oauth.pick_account(src.account_id)
    if account is not None and account.scopes and WRITE_SCOPE not in account.scopes:
        raise ScopeError(
            f"the YouTube account {account.display_name or account.account_id} is connected "
            'read-only (youtube.readonly); reconnect it with "read, send and moderate" '
            "(scope youtube.force-ssl) to send or moderate",
            reason="insufficientPermissions",
        )
    return client


def _live_chat_id(client: YouTubeClient, src: ChatSource) -> str:
    chat_id = ((src.state or {}).get("youtube") or {}).get("live_chat_id")
    if chat_id:
        return chat_id
    if src.identifier.strip().lower() == "mine":
        broadcast = _call(client, "liveBroadcasts.list", client.my_active_broadcast)
        chat_id = ((broadcast or {}).get("snippet") or {}).get("liveChatId")
    else:
        video = _call(client, "videos.list", client.video, normalize_video_id(src.identifier))
        chat_id = ((video or {}).get("liveStreamingDetails") or {}).get("activeLiveChatId")
    if not chat_id:
        raise ChatUnavailable(f"{src.identifier} is not live: there is no chat to write to")
    state = dict(src.state or {})
    state["youtube"] = {**(state.get("youtube") or {}), "live_chat_id": chat_id}
    ChatSource.objects.filter(pk=src.pk).update(state=state)  # the next write saves a lookup
    src.state = state
    return chat_id


def send_message(source, text: str) -> dict:
    """Post ``text`` to the stream's live chat. Returns {"id", "text"} of the new message."""
    text = (text or "").strip()
    if not text:
        raise ValueError("the message is empty")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ValueError(f"YouTube live chat messages are at most {MAX_MESSAGE_CHARS} characters")
    src = _source(source)
    client = _writer(src)
    chat_id = _live_chat_id(client, src)
    result = _call(client, "liveChatMessages.insert", client.insert_message, chat_id, text)
    return {"id": result.get("id", ""), "text": text}


def delete_message(source, message_id: str) -> None:
    """Delete a live chat message by its YouTube id (ChatMessage.platform_message_id)."""
    if not message_id:
        raise ValueError("no message id")
    src = _source(source)
    client = _writer(src)
    _call(client, "liveChatMessages.delete", client.delete_message, message_id)


def ban_user(source, channel_id: str, *, seconds: int | None = None) -> dict:
    """Ban a viewer (channel id) from the chat: temporarily for ``seconds``, else permanently."""
    if not channel_id:
        raise ValueError("no channel id to ban")
    if seconds is not None and (int(seconds) <= 0):
        raise ValueError("a temporary ban needs a positive number of seconds")
    src = _source(source)
    client = _writer(src)
    chat_id = _live_chat_id(client, src)
    result = _call(
        client,
        "liveChatBans.insert",
        client.ban,
        chat_id,
        channel_id,
        int(seconds) if seconds else None,
    )
    return {"id": result.get("id", ""), "type": "temporary" if seconds else "permanent"}
