"""EventSub over websocket with twitchio 3, for channels we are authorized in.

twitchio has no constructor option for its endpoints; ``configure_twitchio`` sets the module/class
attributes from TWITCH_EVENTSUB_WS_URL / TWITCH_API_URL / TWITCH_AUTH_URL. twitchio owns the
websocket (welcome, keepalive, session_reconnect, dropped sockets -> reconnect + resubscribe)
and refreshes the token on a 401; every refreshed pair is saved encrypted
(``event_token_refreshed`` -> ``AccountTokens.adopt``). Tokens are never written to
``.tio.tokens.json`` (load_tokens/save_tokens are disabled).

We validate the token at start and every hour ourselves (Twitch requires it); a revoked token
marks the account ``needs_reconnect`` and raises FatalAdapterError (slow retry).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import twitchio
import twitchio.eventsub.websockets as tw_ws
from twitchio import eventsub as es
from twitchio.http import Route

from ..adapters.base import AdapterError, FatalAdapterError
from . import config
from .helix import Helix, HelixError
from .mapping import eventsub_to_event
from .oauth import AccountTokens, OAuthError, TokenRevoked

log = logging.getLogger(__name__)

_original_create = tw_ws.create_event_instance


def _create_event_instance(event_type, raw_data, *, http=None, headers=None):
    """twitchio's payload parser, made robust: log the raw payload of anything it cannot parse.

    Also works around twitchio 3.3.2 reading ``payload.event["id"]`` of stream.offline, which
    Twitch does not send.
    """
    try:
        event = raw_data["payload"]["event"]
        if event_type == "stream.offline" and isinstance(event, dict):
            event.setdefault("id", "")
        return _original_create(event_type, raw_data, http=http, headers=headers)
    except ValueError:
        raise
    except Exception as exc:
        try:
            raw = json.dumps(raw_data, ensure_ascii=False)[:4000]
        except Exception:
            raw = repr(raw_data)[:4000]
        log.warning("skipping EventSub %s payload that cannot be parsed (%r): %s", event_type, exc, raw)
        raise ValueError(f"unparseable {event_type} payload") from exc


def configure_twitchio() -> None:
    tw_ws.WSS = config.eventsub_ws_url()
    Route.BASE = config.api_url()
    Route.ID_BASE = config.auth_url()
    tw_ws.create_event_instance = _create_event_instance


class ChorusTwitchClient(twitchio.Client):
    """A twitchio Client that hands every notification to the runner, in order."""

    def __init__(self, runner: EventSubRunner, **kwargs):
        super().__init__(
            client_id=config.client_id(),
            client_secret=config.client_secret() or None,
            fetch_client_user=False,
            **kwargs,
        )
        self.runner = runner

    async def load_tokens(self, path: str | None = None) -> None:
        return None  # tokens live encrypted in the database, never in .tio.tokens.json

    async def save_tokens(self, path: str | None = None) -> None:
        return None

    def dispatch(self, event: str, payload=None) -> None:
        # Synchronous and in arrival order (twitchio's own listeners run as separate tasks).
        sub_type = getattr(type(payload), "subscription_type", None) if payload is not None else None
        if sub_type:
            self.runner.incoming.put_nowait((sub_type, payload))
        elif event == "token_refreshed":
            # twitchio refreshed on a 401: take the new pair at once (in memory, so our own
            # hourly validation never uses the consumed refresh token), save it in order.
            if str(payload.user_id) == self.runner.tokens.user_id:
                self.runner.tokens.access_token = payload.token
                self.runner.tokens.refresh_token = payload.refresh_token or self.runner.tokens.refresh_token
            self.runner.incoming.put_nowait(("token_refreshed", payload))
        elif event == "websocket_welcome":
            self.runner.welcomes += 1
            self.runner.welcome_times.append(time.monotonic())
        elif event == "subscription_revoked":
            self.runner.incoming.put_nowait(("revoked", payload))
        super().dispatch(event, payload)

    async def event_error(self, payload) -> None:
        log.error("twitchio listener error: %r", payload.error, exc_info=payload.error)


def subscriptions_for(broadcaster_id: str, reader_id: str) -> list:
    subs = [
        es.ChatMessageSubscription(broadcaster_user_id=broadcaster_id, user_id=reader_id),
        es.ChatNotificationSubscription(broadcaster_user_id=broadcaster_id, user_id=reader_id),
        es.ChatMessageDeleteSubscription(broadcaster_user_id=broadcaster_id, user_id=reader_id),
        es.ChatClearUserMessagesSubscription(broadcaster_user_id=broadcaster_id, user_id=reader_id),
        es.ChatClearSubscription(broadcaster_user_id=broadcaster_id, user_id=reader_id),
        es.StreamOnlineSubscription(broadcaster_user_id=broadcaster_id),
        es.StreamOfflineSubscription(broadcaster_user_id=broadcaster_id),
    ]
    if broadcaster_id == reader_id:  # channel.ban/unban need channel:moderate FROM the broadcaster
        subs += [
            es.ChannelBanSubscription(broadcaster_user_id=broadcaster_id),
            es.ChannelUnbanSubscription(broadcaster_user_id=broadcaster_id),
        ]
    else:  # a moderator sees bans, timeouts and unbans through channel.moderate v2
        subs.append(
            es.ChannelModerateV2Subscription(
                broadcaster_user_id=broadcaster_id, moderator_user_id=reader_id
            )
        )
    return subs


class EventSubRunner:
    def __init__(self, adapter, account):
        self.adapter = adapter
        self.account_id = account.pk
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.welcomes = 0
        self.tokens = AccountTokens(account.pk)
        self.client: ChorusTwitchClient | None = None
        self.helix: Helix | None = None
        self.broadcaster: dict = {}
        self.skipped: list[str] = []
        self.disconnected_since: float | None = None
        self.validate_now = False
        s = adapter.source.settings
        self.check_seconds = float(s.get("check_seconds", 2.0))
        self.validate_seconds = float(s.get("validate_seconds", 3600.0))
        self.socket_grace = float(s.get("socket_grace_seconds", 60.0))
        # twitchio reconnects at once after every close; more than this many new sessions
        # within storm_window seconds = a reconnect storm: stop and let the supervisor back off.
        self.storm_sessions = int(s.get("storm_sessions", 6))
        self.storm_window = float(s.get("storm_window_seconds", 60.0))
        self.welcome_times: list[float] = []

    async def run(self) -> None:
        if not config.client_id():
            raise FatalAdapterError(
                "a connected Twitch account needs TWITCH_CLIENT_ID (and TWITCH_CLIENT_SECRET) to "
                "use EventSub; set them, or unlink the account to read anonymously over IRC"
            )
        configure_twitchio()
        try:
            await self.tokens.load()
            await self.tokens.validate()
        except TokenRevoked as exc:
            raise FatalAdapterError(str(exc)) from exc
        except OAuthError as exc:
            raise AdapterError(str(exc)) from exc
        self.helix = Helix(self.tokens)
        try:
            await self._run()
        finally:
            if self.client is not None:
                with contextlib.suppress(Exception):
                    await self.client.close(save_tokens=False)
            await self.helix.close()

    async def _run(self) -> None:
        adapter = self.adapter
        try:
            user = await self.helix.user(login=adapter.channel)
        except TokenRevoked as exc:
            raise FatalAdapterError(str(exc)) from exc
        except HelixError as exc:
            raise AdapterError(str(exc)) from exc
        if user is None:
            raise FatalAdapterError(f"Twitch has no channel named {adapter.channel!r}")
        self.broadcaster = user
        adapter.room_id = user["id"]

        self.client = ChorusTwitchClient(self)
        await self.client.login(
            token=None if config.client_secret() else self.tokens.access_token,
            load_tokens=False,
            save_tokens=False,
        )
        try:
            await self.client.add_token(self.tokens.access_token, self.tokens.refresh_token)
        except Exception as exc:
            raise AdapterError(f"twitchio refused the token: {exc}") from exc

        async def push_to_twitchio(access, refresh):
            await self.client.add_token(access, refresh)

        self.tokens.listeners.append(push_to_twitchio)
        await self._subscribe()
        await self._initial_stream_state()
        detail = f"reading #{adapter.channel} via EventSub as {self.tokens.login}"
        if self.skipped:
            detail += f" (not subscribed: {', '.join(self.skipped)})"
        adapter.status.connected(detail)

        consumer = asyncio.create_task(self._consume())
        try:
            while True:
                await asyncio.sleep(self.check_seconds)
                if consumer.done():
                    consumer.result()  # re-raise what stopped it
                try:
                    if self.validate_now:
                        self.validate_now = False
                        await self.tokens.validate()
                    else:
                        await self.tokens.validate_if_due(self.validate_seconds)
                    await self.tokens.token()  # refreshes 10 minutes before expiry (no I/O otherwise)
                except TokenRevoked as exc:
                    raise FatalAdapterError(str(exc)) from exc
                except OAuthError as exc:
                    log.warning("token validation failed (will retry): %s", exc)
                self._check_sockets()
                self._check_storm()
        finally:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await consumer

    async def _subscribe(self) -> None:
        reader = self.tokens.user_id
        for sub in subscriptions_for(self.broadcaster["id"], reader):
            try:
                await self.client.subscribe_websocket(sub, token_for=reader)
            except twitchio.HTTPException as exc:
                if exc.status in (401, 403):
                    log.warning("cannot subscribe to %s for #%s: %s", sub.type, self.adapter.channel, exc)
                    self.skipped.append(f"{sub.type} ({exc.status})")
                    continue
                raise AdapterError(f"EventSub subscribe {sub.type} failed: {exc}") from exc
            except Exception as exc:
                raise AdapterError(f"EventSub subscribe {sub.type} failed: {exc}") from exc
        if any(s.startswith("channel.chat.message ") for s in self.skipped):
            raise FatalAdapterError(
                f"the token of {self.tokens.login} may not read the chat of #{self.adapter.channel} "
                "(needs user:read:chat; reconnect Twitch)"
            )

    async def _initial_stream_state(self) -> None:
        try:
            stream = await self.helix.stream(user_id=self.broadcaster["id"])
        except (HelixError, OAuthError) as exc:
            log.warning("cannot read the stream state of #%s: %s", self.adapter.channel, exc)
            return
        from .live import start_event_from_stream

        if stream:
            await self.adapter.emit(start_event_from_stream(stream, self.adapter.channel))

    def _check_sockets(self) -> None:
        sockets = [w for p in self.client._websockets.values() for w in p.values()]
        if any(w.connected for w in sockets):
            self.disconnected_since = None
            return
        now = time.monotonic()
        if self.disconnected_since is None:
            self.disconnected_since = now
            self.adapter.status.note("EventSub websocket reconnecting")
        elif now - self.disconnected_since > self.socket_grace:
            raise AdapterError("EventSub websocket closed and did not come back")

    def _check_storm(self) -> None:
        now = time.monotonic()
        self.welcome_times = [t for t in self.welcome_times if now - t < self.storm_window]
        if len(self.welcome_times) > self.storm_sessions:
            raise AdapterError(
                f"EventSub reconnect storm: {len(self.welcome_times)} sessions in "
                f"{self.storm_window:.0f} s; backing off"
            )

    async def _consume(self) -> None:
        while True:
            sub_type, payload = await self.incoming.get()
            if sub_type == "token_refreshed":
                if str(payload.user_id) == self.tokens.user_id:
                    await self.tokens.adopt(payload.token, payload.refresh_token, payload.expires_in)
                continue
            if sub_type == "revoked":
                log.warning("EventSub subscription revoked: %s", getattr(payload, "status", payload))
                self.adapter.status.note(f"subscription revoked ({getattr(payload, 'status', '')})")
                # Hourly validation would notice a revoked token; check now.
                self.validate_now = True
                continue
            try:
                event = eventsub_to_event(sub_type, payload)
            except Exception as exc:
                log.warning("skipping EventSub %s that cannot be mapped (%s): %r", sub_type, exc, payload)
                continue
            if event is None:
                continue
            if sub_type == "stream.online":
                await self._enrich_session(event)
            await self.adapter.emit(event)

    async def _enrich_session(self, event) -> None:
        """stream.online carries no title/game/viewers: ask Helix."""
        try:
            stream = await self.helix.stream(user_id=self.broadcaster["id"])
        except (HelixError, OAuthError) as exc:
            log.warning("cannot read stream details of #%s: %s", self.adapter.channel, exc)
            return
        if stream and event.session is not None:
            event.session.title = stream.get("title", "")
            event.session.category = stream.get("game_name", "")
            event.session.viewer_count = stream.get("viewer_count")


async def run_eventsub(adapter, account) -> None:
    adapter.eventsub = EventSubRunner(adapter, account)
    await adapter.eventsub.run()
