"""Send to Twitch chat and moderate it (Helix), for bots and moderators.

    from ingest.twitch import service
    await service.send_message(source, "hello chat")
    await service.delete_message(source, platform_message_id)
    await service.timeout_user(source, user_id, 600, "spam")
    await service.ban_user(source, user_id, "repeated spam")
    await service.unban_user(source, user_id)

``source`` is a ChatSource, a SourceConfig or a ChatSource id. The source's connected account
(ChatSource.account) acts: it needs ``user:write:chat`` to send, ``moderator:manage:chat_messages``
to delete, ``moderator:manage:banned_users`` to time out/ban, and must be the broadcaster or one
of their moderators. Anything missing is a ``TwitchActionError`` with a clear text, raised before
calling Twitch when the stored scopes already say so.

Sending respects Twitch's limits with a queue: at most 20 messages per 30 s per sender, 100 when
the sender is the broadcaster or a moderator of the channel (source setting
``sender_is_moderator``). Callers wait for their turn (FIFO); nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass

from asgiref.sync import sync_to_async

from ..adapters.base import SourceConfig
from ..senders import SendError
from .helix import Helix, HelixError, HelixForbidden
from .oauth import AccountTokens, OAuthError

MAX_LENGTH = 500
USER_LIMIT = 20
MODERATOR_LIMIT = 100
WINDOW_SECONDS = 30.0
MAX_TIMEOUT = 1_209_600  # two weeks
RELOAD_SECONDS = 30.0  # re-read the account from the database at most this often


class TwitchActionError(SendError):
    """A send or moderation action that cannot be done; the text says why."""


class SlidingWindow:
    """At most ``limit`` sends per ``window`` seconds, granted in FIFO order.

    A slot is stamped again when its request completes, so the window is measured
    conservatively (Twitch counts when the message arrives, which is between the two).
    """

    def __init__(self, window: float):
        self.window = window
        self.slots: list[list[float]] = []
        self.lock = asyncio.Lock()
        self.waits = 0  # how many sends had to wait for the window
        self.sending = asyncio.Lock()

    async def acquire(self, limit: int) -> list[float]:
        """Wait for a slot; returns it (pass it to ``done`` when the request finished)."""
        async with self.lock:
            while True:
                now = time.monotonic()
                self.slots = [s for s in self.slots if now - s[0] < self.window]
                if len(self.slots) < limit:
                    slot = [now]
                    self.slots.append(slot)
                    return slot
                oldest = min(s[0] for s in self.slots)
                self.waits += 1
                await asyncio.sleep(self.window - (now - oldest) + 0.001)

    @staticmethod
    def done(slot: list[float]) -> None:
        slot[0] = time.monotonic()


@dataclass
class _Context:
    account_id: int
    channel: str
    moderator_setting: bool


def _resolve(source) -> _Context:
    from ..models import ChatSource

    if isinstance(source, int):
        source = ChatSource.objects.filter(pk=source).first()
        if source is None:
            raise TwitchActionError("no such chat source")
    if isinstance(source, ChatSource):
        source = SourceConfig.from_model(source)
    if source.platform != "twitch":
        raise TwitchActionError(f"source {source.id} is not a Twitch channel")
    if not source.account_id:
        raise TwitchActionError(
            f"#{source.identifier} has no connected Twitch account: connect Twitch and link the "
            "account to this source to send or moderate"
        )
    return _Context(
        account_id=source.account_id,
        channel=source.identifier.strip().lower().lstrip("#"),
        moderator_setting=bool(source.settings.get("sender_is_moderator")),
    )


class TwitchChatService:
    def __init__(self, *, window_seconds: float = WINDOW_SECONDS):
        self.window_seconds = window_seconds
        self._tokens: dict[int, AccountTokens] = {}
        self._windows: dict[int, SlidingWindow] = {}
        self._broadcasters: dict[str, str] = {}
        self._helix: dict[int, Helix] = {}
        self._loaded_at: dict[int, float] = {}
        self._lookup_lock = asyncio.Lock()

    async def _prepare(self, source) -> tuple[_Context, AccountTokens, Helix, str]:
        ctx = await sync_to_async(_resolve)(source)
        tokens = self._tokens.get(ctx.account_id)
        fresh = time.monotonic() - self._loaded_at.get(ctx.account_id, -1e9) < RELOAD_SECONDS
        if tokens is None or not fresh:
            tokens = self._tokens.get(ctx.account_id) or AccountTokens(ctx.account_id)
            try:
                await tokens.load()  # picks up a reconnect or a revocation made elsewhere
            except OAuthError as exc:
                self._tokens.pop(ctx.account_id, None)
                raise TwitchActionError(str(exc)) from exc
            self._tokens[ctx.account_id] = tokens
            self._loaded_at[ctx.account_id] = time.monotonic()
        helix = self._helix.get(ctx.account_id)
        if helix is None:
            helix = self._helix[ctx.account_id] = Helix(tokens)
        async with self._lookup_lock:
            broadcaster_id = self._broadcasters.get(ctx.channel)
            if broadcaster_id is None:
                try:
                    user = await helix.user(login=ctx.channel)
                except (HelixError, OAuthError) as exc:
                    raise TwitchActionError(f"cannot look up #{ctx.channel}: {exc}") from exc
                if user is None:
                    raise TwitchActionError(f"Twitch has no channel named {ctx.channel!r}")
                broadcaster_id = self._broadcasters[ctx.channel] = user["id"]
        return ctx, tokens, helix, broadcaster_id

    async def close(self) -> None:
        for helix in self._helix.values():
            await helix.close()
        self._helix.clear()

    @staticmethod
    def _need(tokens: AccountTokens, scope: str, what: str) -> None:
        if tokens.scopes and scope not in tokens.scopes:
            raise TwitchActionError(
                f"the Twitch token of {tokens.login} may not {what} (missing scope {scope}): "
                "reconnect Twitch to grant it"
            )

    @staticmethod
    def _forbidden(exc: HelixForbidden, tokens: AccountTokens, what: str, channel: str):
        return TwitchActionError(
            f"Twitch refused to let {tokens.login} {what} in #{channel}: {exc.message} "
            "(the account must be the broadcaster or a moderator, with the right scope)"
        )

    def limit_for(self, ctx: _Context, tokens: AccountTokens, broadcaster_id: str) -> int:
        if ctx.moderator_setting or tokens.user_id == broadcaster_id:
            return MODERATOR_LIMIT
        return USER_LIMIT

    async def send_message(self, source, text: str, *, reply_to: str = "") -> dict:
        if not text or not text.strip():
            raise TwitchActionError("cannot send an empty message")
        if len(text) > MAX_LENGTH:
            raise TwitchActionError(f"Twitch messages are at most {MAX_LENGTH} characters ({len(text)} given)")
        ctx, tokens, helix, broadcaster_id = await self._prepare(source)
        self._need(tokens, "user:write:chat", "send chat messages")
        window = self._windows.setdefault(ctx.account_id, SlidingWindow(self.window_seconds))
        # One send at a time per account: messages arrive in the order they were queued.
        async with window.sending:
            slot = await window.acquire(self.limit_for(ctx, tokens, broadcaster_id))
            try:
                result = await helix.send_chat_message(broadcaster_id, tokens.user_id, text, reply_to)
            except HelixForbidden as exc:
                raise self._forbidden(exc, tokens, "send messages", ctx.channel) from exc
            except (HelixError, OAuthError) as exc:
                raise TwitchActionError(f"sending to #{ctx.channel} failed: {exc}") from exc
            finally:
                window.done(slot)
        if not result.get("is_sent", False):
            reason = result.get("drop_reason") or {}
            raise TwitchActionError(
                f"Twitch dropped the message in #{ctx.channel}: "
                f"{reason.get('message') or reason.get('code') or 'no reason given'}"
            )
        return result

    async def delete_message(self, source, platform_message_id: str) -> None:
        ctx, tokens, helix, broadcaster_id = await self._prepare(source)
        try:
            self._need(tokens, "moderator:manage:chat_messages", "delete messages")
            await helix.delete_chat_message(broadcaster_id, tokens.user_id, platform_message_id)
        except HelixForbidden as exc:
            raise self._forbidden(exc, tokens, "delete messages", ctx.channel) from exc
        except (HelixError, OAuthError) as exc:
            raise TwitchActionError(f"deleting the message failed: {exc}") from exc

    async def timeout_user(self, source, user_id: str, seconds: int, reason: str = "") -> dict:
        if not 1 <= int(seconds) <= MAX_TIMEOUT:
            raise TwitchActionError(f"a timeout lasts 1 to {MAX_TIMEOUT} seconds ({seconds} given)")
        return await self._ban(source, user_id, int(seconds), reason, "time out users")

    async def ban_user(self, source, user_id: str, reason: str = "") -> dict:
        return await self._ban(source, user_id, None, reason, "ban users")

    async def unban_user(self, source, user_id: str) -> None:
        ctx, tokens, helix, broadcaster_id = await self._prepare(source)
        try:
            self._need(tokens, "moderator:manage:banned_users", "unban users")
            await helix.unban_user(broadcaster_id, tokens.user_id, str(user_id))
        except HelixForbidden as exc:
            raise self._forbidden(exc, tokens, "unban users", ctx.channel) from exc
        except (HelixError, OAuthError) as exc:
            raise TwitchActionError(f"unban failed: {exc}") from exc

    async def _ban(self, source, user_id, duration, reason, what) -> dict:
        ctx, tokens, helix, broadcaster_id = await self._prepare(source)
        try:
            self._need(tokens, "moderator:manage:banned_users", what)
            return await helix.ban_user(
                broadcaster_id, tokens.user_id, str(user_id), duration=duration, reason=reason
            )
        except HelixForbidden as exc:
            raise self._forbidden(exc, tokens, what, ctx.channel) from exc
        except (HelixError, OAuthError) as exc:
            raise TwitchActionError(f"{what} failed: {exc}") from exc


_services: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def get_service() -> TwitchChatService:
    """The shared service of the running event loop (HTTP clients and locks belong to a loop)."""
    loop = asyncio.get_running_loop()
    service = _services.get(loop)
    if service is None:
        service = _services[loop] = TwitchChatService()
    return service


async def send_message(source, text: str, **kw) -> dict:
    return await get_service().send_message(source, text, **kw)


async def delete_message(source, platform_message_id: str) -> None:
    await get_service().delete_message(source, platform_message_id)


async def timeout_user(source, user_id: str, seconds: int, reason: str = "") -> dict:
    return await get_service().timeout_user(source, user_id, seconds, reason)


async def ban_user(source, user_id: str, reason: str = "") -> dict:
    return await get_service().ban_user(source, user_id, reason)


async def unban_user(source, user_id: str) -> None:
    await get_service().unban_user(source, user_id)
