"""Registers YouTube with ``ingest.platform_actions``: delete a message (liveChatMessages.delete),
time out (temporary liveChatBans.insert) or ban (permanent) its author.

ingest.youtube.service is blocking (googleapiclient): it runs in a thread, charged to the quota.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async

from ..platform_actions import ActionRequest, register_moderation
from ..senders import SendError
from ..services import ServiceError
from . import service
from .client import AuthError, QuotaExceeded, ScopeError, YouTubeError


def _delete(source_id: int, message_id: str) -> dict:
    service.delete_message(source_id, message_id)
    return {"deleted": message_id}


def _ban(source_id: int, channel_id: str, seconds: int | None) -> dict:
    return service.ban_user(source_id, channel_id, seconds=seconds)


async def run(req: ActionRequest) -> dict:
    if req.action == "delete":
        return await sync_to_async(_delete)(req.source.id, req.platform_message_id)
    seconds = req.seconds if req.action == "timeout" else None
    return await sync_to_async(_ban)(req.source.id, req.author_id, seconds)


def explain(exc: Exception) -> ServiceError | None:
    if isinstance(exc, SendError) and exc.__cause__ is not None:  # posting (ingest.youtube.send)
        exc = exc.__cause__
    if isinstance(exc, ScopeError):
        text = str(exc)
        if "force-ssl" not in text:
            text += " — reconnect YouTube with the youtube.force-ssl scope (read, send and moderate)"
        return ServiceError("not_allowed", text)
    if isinstance(exc, AuthError):  # NeedsReconnect, rejected credentials
        return ServiceError("not_allowed", f"{exc} — reconnect YouTube")
    if isinstance(exc, QuotaExceeded):
        return ServiceError("platform_error", str(exc))
    if isinstance(exc, YouTubeError):
        return ServiceError("platform_error", f"YouTube refused: {exc}")
    if isinstance(exc, ValueError):
        return ServiceError("invalid", str(exc))
    return None


register_moderation("youtube", ("delete", "timeout", "ban"), run, explain)
