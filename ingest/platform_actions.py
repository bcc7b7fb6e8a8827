"""Moderate a platform's chat and post to it, from Chorus (the moderation dashboard, bots, API).

    await moderate(user, message_id, "delete")                    # remove the message there
    await moderate(user, message_id, "timeout", seconds=600, reason="spam")
    await moderate(user, message_id, "ban", reason="repeated spam")
    await post(user, source_id, "hello chat")                     # via ingest.senders.send_chat

Platform-neutral: the message's SOURCE decides which platform acts (a replay source replays
Twitch messages, but deleting one deletes it in the replay, not on Twitch). Platform packages
register what they can do (``register_moderation("twitch", {...}, run, explain)``), like
``ingest.senders``; there is no central if/else. The demo and replay sources apply the action
locally: they store the ModerationEvent the platform would send, so the dashboard shows the
whole loop (action -> moderation event stored -> ``chat.moderation`` -> row struck through).
For real platforms the platform's own moderation event comes back through the adapter.

Every failure is a ``ServiceError`` with a code a client can act on and a message meant for a
person: ``invalid``, ``not_found``, ``unsupported`` (the platform cannot do it), ``not_allowed``
(the connected token/account may not: missing scope, not a moderator, no account, revoked) or
``platform_error`` (the platform failed or refused for another reason, e.g. quota). A successful
action is recorded as a MessageAction (who, when, what; ``via``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async

from .adapters.base import SourceConfig
from .events import Author, ChatEvent, Kind
from .services import ServiceError

log = logging.getLogger(__name__)

ACTIONS = ("delete", "timeout", "ban")
DEFAULT_TIMEOUT = 600
MAX_TIMEOUT = 1_209_600  # two weeks (Twitch's limit)
MAX_REASON = 500
MAX_POST = 500
VERBS = {"delete": "delete messages", "timeout": "time out users", "ban": "ban users"}


@dataclass
class ActionRequest:
    """Everything a platform handler needs, read from the database beforehand."""

    action: str
    source: SourceConfig
    source_name: str
    account_scopes: list[str] | None  # None: no connected account; [] : scopes unknown
    account_name: str
    message_id: int
    message_platform: str
    platform_message_id: str
    author_id: str  # the platform's user id of the message's author ("" if none)
    author_login: str
    author_name: str
    seconds: int | None
    reason: str
    moderator: str  # who acts (Chorus username)


Runner = Callable[[ActionRequest], Awaitable[dict | None]]
Explainer = Callable[[Exception], ServiceError | None]


@dataclass
class PlatformModeration:
    actions: frozenset[str]
    run: Runner | None
    explain: Explainer | None = None
    extra: dict = field(default_factory=dict)


MODERATORS: dict[str, PlatformModeration] = {}
_PLUGINS = ("ingest.twitch.moderate", "ingest.youtube.moderate")


def register_moderation(
    platform: str, actions, run: Runner | None, explain: Explainer | None = None
) -> None:
    """``actions``: which of delete/timeout/ban the platform can do; ``run(request)`` does one
    (raise ServiceError, or any error ``explain(exc)`` turns into one); ``explain`` is also used
    for errors of posting to that platform."""
    unknown = set(actions) - set(ACTIONS)
    if unknown:
        raise ValueError(f"unknown moderation actions {sorted(unknown)}")
    MODERATORS[platform] = PlatformModeration(frozenset(actions), run, explain)


def _load() -> None:
    from importlib import import_module

    for name in _PLUGINS:
        try:
            import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise


def capabilities() -> dict[str, dict]:
    """What Chorus can do on each platform: ``{platform: {"moderate": [...], "post": bool}}``."""
    from .models import Platform
    from .senders import can_send

    _load()
    out = {}
    for platform in Platform.values:
        entry = MODERATORS.get(platform)
        actions = [a for a in ACTIONS if entry and a in entry.actions]
        out[platform] = {"moderate": actions, "post": can_send(platform)}
    return out


def _platform_label(platform: str) -> str:
    from .models import Platform

    return dict(Platform.choices).get(platform, platform)


def _unsupported(platform: str, what: str) -> ServiceError:
    return ServiceError(
        "unsupported", f"{_platform_label(platform)} does not let Chorus {what}"
    )


def _check(action: str, seconds, reason: str) -> tuple[int | None, str]:
    if action not in ACTIONS:
        raise ServiceError("invalid", f"action must be one of {', '.join(ACTIONS)}")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)):
        raise ServiceError("invalid", "seconds must be a whole number")
    if action == "timeout":
        seconds = DEFAULT_TIMEOUT if seconds is None else seconds
        if not 1 <= seconds <= MAX_TIMEOUT:
            raise ServiceError(
                "invalid", f"a timeout lasts 1 to {MAX_TIMEOUT} seconds ({seconds} given)"
            )
    elif seconds is not None:
        raise ServiceError("invalid", "seconds only applies to a timeout")
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ServiceError("invalid", f"the reason is at most {MAX_REASON} characters")
    return seconds, reason


def _request(user, message_id: int, action: str, seconds, reason) -> ActionRequest:
    from .models import ChatMessage

    msg = (
        ChatMessage.objects.select_related("source", "source__account", "author")
        .filter(pk=message_id)
        .first()
    )
    if msg is None:
        raise ServiceError("not_found", f"message {message_id} does not exist")
    src = msg.source
    account = src.account
    author = msg.author
    if action in ("timeout", "ban") and author is None:
        raise ServiceError("invalid", f"message {message_id} has no author to {action}")
    return ActionRequest(
        action=action,
        source=SourceConfig.from_model(src),
        source_name=str(src),
        account_scopes=None if account is None else list(account.scopes or []),
        account_name=(account.display_name or account.login or account.account_id) if account else "",
        message_id=msg.pk,
        message_platform=msg.platform,
        platform_message_id=msg.platform_message_id,
        author_id=author.platform_user_id if author else "",
        author_login=author.login if author else "",
        author_name=author.display_name if author else "",
        seconds=seconds,
        reason=reason,
        moderator=user.get_username() if user else "",
    )


def _record(user, message_id: int, req: ActionRequest, result: dict | None, via: str) -> None:
    from .models import MessageAction

    what = {"action": req.action, "platform": req.source.platform}
    if req.seconds is not None:
        what["seconds"] = req.seconds
    if req.reason:
        what["reason"] = req.reason
    if result:
        what["result"] = result
    MessageAction.objects.create(
        message_id=message_id, user=user, via=via, changes={"platform_action": what}
    )


def _explain(entry: PlatformModeration | None, exc: Exception) -> ServiceError | None:
    from .senders import SendError

    if isinstance(exc, ServiceError):
        return exc
    if entry is not None and entry.explain is not None:
        err = entry.explain(exc)
        if err is not None:
            return err
    if isinstance(exc, SendError):
        return ServiceError("platform_error", str(exc))
    return None


async def moderate(
    user,
    message_id: int,
    action: str,
    seconds: int | None = None,
    reason: str = "",
    *,
    via: str = "dashboard",
) -> dict:
    """Delete the message, or time out / ban its author, on the message's platform."""
    seconds, reason = _check(action, seconds, reason)
    req = await sync_to_async(_request)(user, message_id, action, seconds, reason)
    platform = req.source.platform
    _load()
    entry = MODERATORS.get(platform)
    if entry is None or entry.run is None or action not in entry.actions:
        raise _unsupported(platform, VERBS[action])
    try:
        result = await entry.run(req)
    except Exception as exc:
        err = _explain(entry, exc)
        if err is None:
            raise
        log.info("%s on %s refused (%s): %s", action, req.source_name, err.code, err.message)
        raise err from exc
    await sync_to_async(_record)(user, req.message_id, req, result, via)
    return {
        "message_id": req.message_id,
        "action": action,
        "platform": platform,
        "seconds": seconds,
        "result": result or {},
    }


async def post(user, source_id: int, text: str) -> dict:
    """Post ``text`` to a source's chat as the source's connected account (send_chat)."""
    from .models import ChatSource
    from .senders import can_send, send_chat

    text = (text or "").strip()
    if not text:
        raise ServiceError("invalid", "cannot post an empty message")
    if len(text) > MAX_POST:
        raise ServiceError("invalid", f"a chat message is at most {MAX_POST} characters")
    src = await sync_to_async(ChatSource.objects.filter(pk=source_id).first)()
    if src is None:
        raise ServiceError("not_found", f"no chat source {source_id}")
    if not can_send(src.platform):
        raise _unsupported(src.platform, "post to its chat (read-only)")
    _load()
    try:
        await send_chat(src.pk, text)
    except Exception as exc:
        err = _explain(MODERATORS.get(src.platform), exc)
        if err is None:
            raise
        raise err from exc
    log.info("%s posted to %s", user.get_username() if user else "?", src)
    return {"source_id": src.pk, "text": text}


# --- demo / replay: apply locally, as the platform's own moderation event -----------------------
async def _apply_locally(req: ActionRequest) -> dict:
    """Store and publish the moderation event a platform would send back for this action."""
    from .pipeline import publish_batch
    from .store import store_batch

    kind = {"delete": Kind.DELETION, "timeout": Kind.TIMEOUT, "ban": Kind.BAN}[req.action]
    author = None
    if req.author_id:
        author = Author(id=req.author_id, login=req.author_login, display_name=req.author_name)
    event = ChatEvent(
        kind=kind,
        platform=req.message_platform,  # the stored message's platform (replays keep theirs)
        source_id=req.source.id,
        id=f"chorus-{req.action}-{uuid.uuid4().hex}",
        author=author,
        target_message_id=req.platform_message_id if kind == Kind.DELETION else "",
        moderator=req.moderator,
        reason=req.reason,
        duration_seconds=req.seconds if kind == Kind.TIMEOUT else None,
    )
    stored = await sync_to_async(store_batch, thread_sensitive=True)([event])
    await publish_batch(stored)
    affected = [a["id"] for m in stored.moderation for a in m.get("affected", [])]
    return {"applied": "locally", "affected": affected}


register_moderation("demo", ACTIONS, _apply_locally)
register_moderation("replay", ACTIONS, _apply_locally)
