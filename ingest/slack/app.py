"""The Slack side of Chorus: one Bolt app per set of credentials, shared by every channel source.

- ``Workspace``: a sync Bolt ``App`` (its WebClient points at ``SLACK_API_URL``), the users
  cache, and routing from channel id to the chat source that reads it.
- Socket Mode (default): ``SocketModeHandler`` (slack-sdk's built-in client, threads) opened once
  per app token however many channels use it; envelopes are handled one at a time, in order,
  and acked after handling (so an edit never overtakes its message).
- HTTP: ``/slack/events`` (ingest/slack/views.py) hands signed requests to the same app.

Every event of a delivery goes through the listeners below (``@app.event("message")`` catches
every subtype: new, changed, deleted). Events for a channel whose adapter runs in this process
go to that adapter's ``emit`` (its pipeline); others (HTTP mode, or a channel another worker
leads) are stored directly through a pipeline of their own. Approval reactions and images are
handled off the event path (threads), so ingest never waits for them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from ..events import ChatEvent, Kind
from . import images
from .config import ChannelInfo, Credentials, SlackConfigError, api_url, parse_settings
from .convert import (
    changed_events,
    deletion_event,
    image_files,
    message_event,
    message_id,
    skip_reason,
)
from .db import retry_locked, run_async, run_db
from .followups import FOLLOWUPS, Followup
from .users import UserCache

log = logging.getLogger(__name__)
DB_LOOKUP_TTL = 10.0
STORED_WAIT_SECONDS = 10.0


def make_client(token: str) -> WebClient:
    return WebClient(
        token=token,
        base_url=api_url(),
        timeout=15,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )


# --- where events go ----------------------------------------------------------------------------
class SinkError(Exception):
    """Events could not be handed on (storage down, lease lost): Slack must deliver them again."""


class AdapterSink:
    """Into a running adapter's pipeline (its ``emit`` on its event loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, emit):
        self.loop = loop
        self.emit = emit

    def submit(self, events: list[ChatEvent]) -> None:
        async def put():
            for ev in events:
                await self.emit(ev)

        try:
            asyncio.run_coroutine_threadsafe(put(), self.loop).result(timeout=60)
        except Exception as exc:
            raise SinkError(f"could not queue Slack events: {exc!r}") from exc


class DirectSink:
    """Store and publish now (HTTP mode, or a channel no adapter here reads)."""

    def __init__(self, source_id: int, *, via_loop: bool = False):
        self.source_id = source_id
        self.via_loop = via_loop

    def submit(self, events: list[ChatEvent]) -> None:
        from django.conf import settings
        from django.utils.module_loading import import_string

        from ..pipeline import publish_batch
        from ..store import store_batch

        for ev in events:
            ev.source_id = self.source_id
        try:
            stored = (run_db if self.via_loop else retry_locked)(store_batch, events)
        except Exception as exc:
            raise SinkError(f"could not store Slack events: {exc!r}") from exc
        run_async(publish_batch, stored)
        for path in settings.CHORUS_PIPELINE_LISTENERS:
            try:
                run_async(import_string(path.replace(":", ".")), stored)
            except Exception:
                log.exception("pipeline listener %s failed", path)


class Route:
    def __init__(self, info: ChannelInfo, sink):
        self.info = info
        self.sink = sink


def channel_info_from_db(channel: str) -> ChannelInfo | None:
    from ..models import ChatSource

    src = (
        ChatSource.objects.filter(platform="slack", identifier=channel, enabled=True)
        .select_related("account")
        .order_by("pk")
        .first()
    )
    if src is None:
        return None
    from .config import credentials_for_source

    try:
        settings = parse_settings(src.settings)
    except SlackConfigError as exc:
        log.error("slack source %s: %s", src.pk, exc)
        return None
    return ChannelInfo(src.pk, channel, settings, credentials_for_source(src))


# --- the workspace ------------------------------------------------------------------------------
class Workspace:
    def __init__(self, creds: Credentials, *, http: bool = False):
        if not creds.bot_token:
            raise SlackConfigError(
                "no Slack bot token: set SLACK_BOT_TOKEN or the source's bot_token"
            )
        self.creds = creds
        self.http = http
        self.client = make_client(creds.bot_token)
        try:
            auth = self.client.auth_test()
        except SlackApiError as exc:
            raise SlackConfigError(
                f"Slack refused the bot token: {exc.response.get('error')}"
            ) from None
        self.bot_user_id = auth.get("user_id", "")
        self.team_id = auth.get("team_id", "")
        self.team = auth.get("team", "")
        self.users = UserCache(self.client)
        self._routes: dict[str, Route] = {}
        self._db_routes: dict[str, tuple[float, Route | None]] = {}
        self._lock = threading.Lock()
        # Approval changes: one at a time, in order, off the event path.
        self.actions = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slack-approval")
        self.app = App(
            client=self.client,
            signing_secret=creds.signing_secret or None,
            process_before_response=True,
            token_verification_enabled=False,  # auth.test done above
            request_verification_enabled=http,
        )
        register_listeners(self.app, self)

    # routing
    def register(self, channel: str, route: Route) -> None:
        with self._lock:
            self._routes[channel] = route

    def unregister(self, channel: str, route: Route) -> None:
        with self._lock:
            if self._routes.get(channel) is route:
                del self._routes[channel]

    def route(self, channel: str | None) -> Route | None:
        if not channel:
            return None
        with self._lock:
            route = self._routes.get(channel)
        if route is not None:
            return route
        now = time.monotonic()
        cached = self._db_routes.get(channel)
        if cached and cached[0] > now:
            return cached[1]
        info = (retry_locked if self.http else run_db)(channel_info_from_db, channel)
        route = Route(info, DirectSink(info.source_id, via_loop=not self.http)) if info else None
        self._db_routes[channel] = (now + DB_LOOKUP_TTL, route)
        return route

    # event handling (Bolt listener threads)
    def on_message(self, event: dict) -> None:
        route = self.route(event.get("channel"))
        if route is None:
            return
        settings = route.info.settings
        channel = event["channel"]
        subtype = event.get("subtype")
        if subtype == "message_changed":
            events = changed_events(event, settings, self.users, team=self.team_id)
            self._submit(route, events)
            return
        if subtype == "message_deleted":
            ts = event.get("deleted_ts")
            if ts:
                prev = event.get("previous_message") or {}
                self._submit(
                    route,
                    [
                        deletion_event(
                            channel, ts, text=prev.get("text", ""), reason="deleted in Slack"
                        )
                    ],
                )
            return
        if not event.get("ts"):
            return
        reason = skip_reason(event, settings)
        if reason:
            log.debug("slack %s/%s not ingested: %s", channel, event.get("ts"), reason)
            return
        ev = message_event(event, channel, settings, self.users, team=self.team_id)
        self._submit(route, [ev])
        files = image_files(event)
        if files and settings.images:
            images.schedule(
                self.client, self.creds.bot_token, channel, event["ts"], files, settings.max_width()
            )

    def _submit(self, route: Route, events: list[ChatEvent]) -> None:
        if not events:
            return
        route.sink.submit(events)
        for ev in events:
            if ev.kind == Kind.MESSAGE and ev.extra.get("auto_publish"):
                FOLLOWUPS.add(Followup(ev.id, publish=True))
            elif ev.kind == Kind.EDIT:
                FOLLOWUPS.add(
                    Followup(
                        ev.target_message_id, html_for_text=(ev.text, ev.extra.get("html", ""))
                    )
                )

    def on_reaction(self, event: dict, added: bool) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message":
            return
        route = self.route(item.get("channel"))
        if route is None or route.info.settings.publish != "approval":
            return
        if event.get("reaction") != route.info.settings.approval_reaction:
            return
        if event.get("user") == self.bot_user_id:
            return  # the bot's own reactions never count
        self.actions.submit(self._reconcile_guarded, route, item["channel"], item["ts"])

    # approval
    def _reconcile_guarded(self, route: Route, channel: str, ts: str) -> None:
        try:
            self.reconcile_approval(route, channel, ts)
        except Exception:
            log.exception("slack approval of %s/%s failed", channel, ts)
        finally:
            close_old_connections()

    def fetch_message(self, channel: str, ts: str, thread_ts: str = "") -> dict | None:
        """The message as Slack has it now (text, reactions): reaction events carry neither."""
        if not thread_ts:
            resp = self.client.conversations_history(
                channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
            )
            for m in resp.get("messages") or []:
                if m.get("ts") == ts:
                    return m
        resp = self.client.conversations_replies(
            channel=channel, ts=thread_ts or ts, latest=ts, oldest=ts, inclusive=True, limit=1
        )
        for m in resp.get("messages") or []:
            if m.get("ts") == ts:
                return m
        return None

    def permitted(self, user_id: str, approvers: list[str]) -> bool:
        if not user_id or user_id == self.bot_user_id:
            return False
        if approvers:
            return user_id in approvers
        return self.users.get(user_id).is_admin

    def reconcile_approval(self, route: Route, channel: str, ts: str) -> str | None:
        """Make the stored status match Slack's reactions: approved -> sent, else held (new)."""
        settings = route.info.settings
        pmid = message_id(channel, ts)
        stored = run_db(_stored_message, pmid)
        thread_ts = (stored.extra or {}).get("thread_ts", "") if stored else ""
        msg = self.fetch_message(channel, ts, thread_ts if thread_ts != ts else "")
        if msg is None:
            log.info("slack approval: %s is gone", pmid)
            return None
        if skip_reason(msg, settings):
            return None  # a comment or a skipped thread reply is never published
        approvers = [
            u
            for r in msg.get("reactions") or []
            if r.get("name") == settings.approval_reaction
            for u in r.get("users") or []
        ]
        approved = any(self.permitted(u, settings.approvers) for u in approvers)
        if stored is None:
            ev = message_event(msg, channel, settings, self.users, team=self.team_id)
            ev.extra["auto_publish"] = False
            route.sink.submit([ev])
            deadline = time.monotonic() + STORED_WAIT_SECONDS
            while stored is None and time.monotonic() < deadline:
                time.sleep(0.05)
                stored = run_db(_stored_message, pmid)
            if stored is None:
                log.warning("slack approval: %s was not stored in time", pmid)
                return None
        return run_db(_apply_approval, stored.pk, approved)


def _stored_message(pmid: str):
    from ..models import ChatMessage

    return ChatMessage.objects.filter(platform="slack", platform_message_id=pmid).first()


def _apply_approval(pk: int, approved: bool) -> str | None:
    from ..models import ChatMessage, MessageStatus
    from ..services import update_message

    stored = ChatMessage.objects.filter(pk=pk).first()
    if stored is None or stored.platform_state != "visible":
        return None
    if approved and stored.status != MessageStatus.SENT:
        update_message(user=None, message_id=pk, changes={"status": "sent"}, via="slack")
        return "sent"
    if not approved and stored.status == MessageStatus.SENT:
        update_message(user=None, message_id=pk, changes={"status": "new"}, via="slack")
        return "new"
    return None


def register_listeners(app: App, ws: Workspace) -> None:
    """Listeners for every event type the app subscribes to (an unmatched event is never acked
    in Socket Mode, so Slack would re-send it)."""

    def guarded(fn):
        def listener(event, **_):
            try:
                fn(event)
            except SinkError:
                # Not acknowledged (Socket Mode) / answered 500 (HTTP): Slack re-delivers it,
                # and the store deduplicates whatever did get through.
                log.exception("slack event %s not stored; Slack will retry", event.get("type"))
                raise
            except Exception:
                log.exception("slack event %s failed", event.get("type"))
            finally:
                close_old_connections()

        return listener

    app.event("message")(guarded(ws.on_message))
    app.event("reaction_added")(guarded(lambda e: ws.on_reaction(e, True)))
    app.event("reaction_removed")(guarded(lambda e: ws.on_reaction(e, False)))
    # Images arrive with their message (subtype file_share, ``files``); this only acks.
    app.event("file_shared")(guarded(lambda e: None))


# --- shared instances ---------------------------------------------------------------------------
_workspaces: dict[tuple, Workspace] = {}
_ws_lock = threading.Lock()


def get_workspace(creds: Credentials, *, http: bool = False) -> Workspace:
    key = (*creds.key(), http, api_url())
    with _ws_lock:
        ws = _workspaces.get(key)
        if ws is None:
            ws = Workspace(creds, http=http)
            _workspaces[key] = ws
        return ws


def wait_idle(timeout: float = 30.0) -> bool:
    """Let approvals, images and follow-ups in flight finish (tests, shutdown)."""
    ok = True
    for ws in list(_workspaces.values()):
        ws.actions.submit(lambda: None).result(timeout)
    ok = images.wait_idle(timeout) and ok
    return FOLLOWUPS.wait_idle(timeout) and ok


def reset() -> None:
    """Forget cached workspaces and connections (tests, credential changes)."""
    for conn in list(_sockets.values()):
        conn.close()
    _sockets.clear()
    wait_idle()
    FOLLOWUPS.clear()
    with _ws_lock:
        for ws in _workspaces.values():
            ws.actions.shutdown(wait=True)
        _workspaces.clear()


class SocketConnection:
    """One Socket Mode connection per app token, shared by every channel using it."""

    def __init__(self, creds: Credentials):
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        self.workspace = get_workspace(creds)
        if not creds.app_token:
            raise SlackConfigError(
                "Socket Mode needs an app-level token (xapp-...): set SLACK_APP_TOKEN or the "
                "source's app_token, or use the HTTP Events API (SLACK_MODE=http)"
            )
        self.handler = SocketModeHandler(
            self.workspace.app, creds.app_token, concurrency=1, ping_interval=10
        )
        self.refs = 0

    def connect(self) -> None:
        try:
            self.handler.connect()
        except SlackApiError as exc:
            raise SlackConfigError(
                f"Slack refused the app token: {exc.response.get('error')}"
            ) from None

    def is_connected(self) -> bool:
        return self.handler.client.is_connected()

    def close(self) -> None:
        try:
            self.handler.close()
        except Exception:
            log.exception("closing the Slack socket failed")


_sockets: dict[tuple, SocketConnection] = {}
_sock_lock = threading.Lock()


def acquire_socket(creds: Credentials) -> SocketConnection:
    key = (*creds.key(), api_url())
    with _sock_lock:
        conn = _sockets.get(key)
        if conn is None:
            conn = SocketConnection(creds)
            conn.connect()
            _sockets[key] = conn
        conn.refs += 1
        return conn


def release_socket(conn: SocketConnection) -> None:
    with _sock_lock:
        conn.refs -= 1
        if conn.refs > 0:
            return
        for key, c in list(_sockets.items()):
            if c is conn:
                del _sockets[key]
    # slack-sdk's close() joins its interval threads (seconds): disconnect now, join elsewhere.
    threading.Thread(target=conn.close, name="slack-socket-close", daemon=True).start()
