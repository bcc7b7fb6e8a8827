"""Registers Twitch with ``ingest.platform_actions``: delete / time out / ban through Helix.

The source's connected account acts (ingest.twitch.service); what it may not do is a
``not_allowed`` error that says which scope is missing or that it is not a moderator there.
"""

from __future__ import annotations

from ..platform_actions import ActionRequest, register_moderation
from ..services import ServiceError
from . import service
from .helix import HelixForbidden, HelixUnauthorized
from .oauth import TokenRevoked
from .service import TwitchActionError

SCOPES = {
    "delete": "moderator:manage:chat_messages",
    "timeout": "moderator:manage:banned_users",
    "ban": "moderator:manage:banned_users",
}
RECONNECT = "reconnect Twitch with moderation scopes"


def _lacks(who: str, scope: str) -> ServiceError:
    return ServiceError("not_allowed", f"the Twitch token{who} lacks {scope} — {RECONNECT}")


async def run(req: ActionRequest) -> dict:
    channel = req.source.identifier.lstrip("#")
    scope = SCOPES[req.action]
    if req.account_scopes is None:
        raise ServiceError(
            "not_allowed",
            f"#{channel} has no connected Twitch account: connect Twitch (with moderation "
            "scopes) and link the account to this source to moderate from Chorus",
        )
    if req.account_scopes and scope not in req.account_scopes:
        raise _lacks(f" of {req.account_name}" if req.account_name else "", scope)
    if req.action == "delete":
        await service.delete_message(req.source, req.platform_message_id)
        return {"deleted": req.platform_message_id}
    if req.action == "timeout":
        ban = await service.timeout_user(req.source, req.author_id, req.seconds, req.reason)
    else:
        ban = await service.ban_user(req.source, req.author_id, req.reason)
    return {"user_id": req.author_id, "end_time": (ban or {}).get("end_time")}


def explain(exc: Exception) -> ServiceError | None:
    if not isinstance(exc, TwitchActionError):
        return None
    cause = exc.__cause__
    text = str(exc)
    if isinstance(cause, HelixForbidden):
        missing = cause.message.split("Missing scope:", 1)
        if len(missing) == 2:
            return _lacks("", missing[1].strip())
        return ServiceError("not_allowed", text)
    if isinstance(cause, HelixUnauthorized | TokenRevoked):
        return ServiceError("not_allowed", f"{text} — reconnect Twitch")
    if "missing scope" in text or "no connected Twitch account" in text:
        return ServiceError("not_allowed", text)
    return ServiceError("platform_error", text)


register_moderation("twitch", ("delete", "timeout", "ban"), run, explain)
