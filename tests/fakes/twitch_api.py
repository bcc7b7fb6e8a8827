"""A local fake of Twitch's HTTP side and EventSub websocket, real wire formats (aiohttp).

One server, three roots (point the real clients at it):
  /helix/...   Helix: eventsub/subscriptions (POST 202 / GET / DELETE), users, streams,
               chat/messages, moderation/chat, moderation/bans      (TWITCH_API_URL, Route.BASE)
  /oauth2/...  id.twitch.tv: authorize (redirects with code+state), token (authorization_code,
               refresh_token, client_credentials), validate, revoke (TWITCH_AUTH_URL, Route.ID_BASE)
  /ws          EventSub websocket: session_welcome, session_keepalive, notification,
               session_reconnect, revocation                          (TWITCH_EVENTSUB_WS_URL)

Tests create users and tokens, then drive it: ``notify(type, event)``, ``session_reconnect()``,
``drop_sockets()``, ``fail_next(path, status, headers)``, ``revoke_user(user_id)``...
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from datetime import UTC, datetime, timedelta

from aiohttp import WSMsgType, web

CLIENT_ID = "fakeclientid0000000000000000"
CLIENT_SECRET = "fakeclientsecret000000000000"


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakeTwitch:
    def __init__(self, *, keepalive_seconds: float = 10, send_keepalives: bool = True):
        self.keepalive_seconds = keepalive_seconds
        self.send_keepalives = send_keepalives
        self.users: dict[str, dict] = {}  # id -> {id, login, display_name}
        self.tokens: dict[str, dict] = {}  # access token -> {user_id, scopes, expires}
        self.refresh_tokens: dict[str, str] = {}  # refresh -> user_id
        self.codes: dict[str, tuple[str, list[str]]] = {}
        self.streams: dict[str, dict] = {}  # user_id -> stream
        self.subscriptions: dict[str, dict] = {}
        self.sessions: dict[str, web.WebSocketResponse] = {}
        self.session_order: list[str] = []
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, query)
        self.chat_sent: list[dict] = []
        self.deleted: list[dict] = []
        self.bans: list[dict] = []
        self.unbans: list[dict] = []
        self.failures: dict[str, list[tuple[int, dict]]] = {}
        self.ws_connects = 0
        self.validations = 0
        self.refreshes = 0
        self.moderators: dict[str, set[str]] = {}  # broadcaster id -> moderator ids
        self.send_drop_reason: dict | None = None
        self.storm = False  # close every new session right after its welcome (code 4000)
        self._counter = itertools.count(1)
        self._runner = None
        self._tasks: set[asyncio.Task] = set()
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------
    async def __aenter__(self) -> FakeTwitch:
        app = web.Application()
        app.router.add_route("*", "/helix/{path:.*}", self._helix)
        app.router.add_get("/oauth2/authorize", self._authorize)
        app.router.add_post("/oauth2/token", self._token)
        app.router.add_get("/oauth2/validate", self._validate)
        app.router.add_post("/oauth2/revoke", self._revoke)
        app.router.add_get("/ws", self._ws)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        for t in list(self._tasks):
            t.cancel()
        for ws in list(self.sessions.values()):
            with contextlib.suppress(Exception):
                await ws.close()
        await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def helix_url(self) -> str:
        return self.base + "helix/"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    # --- data --------------------------------------------------------------------------
    def add_user(self, user_id: str, login: str, display_name: str = "") -> dict:
        u = {"id": user_id, "login": login, "display_name": display_name or login,
             "type": "", "broadcaster_type": "", "description": "", "profile_image_url": "",
             "offline_image_url": "", "view_count": 0, "created_at": "2020-01-01T00:00:00Z"}
        self.users[user_id] = u
        return u

    def issue_tokens(self, user_id: str, scopes: list[str], expires_in: int = 14400) -> dict:
        access = f"at{next(self._counter)}{uuid.uuid4().hex[:12]}"
        refresh = f"rt{next(self._counter)}{uuid.uuid4().hex[:12]}"
        self.tokens[access] = {"user_id": user_id, "scopes": list(scopes),
                               "expires": time.time() + expires_in}
        self.refresh_tokens[refresh] = user_id
        return {"access_token": access, "refresh_token": refresh, "expires_in": expires_in,
                "scope": list(scopes), "token_type": "bearer"}

    def expire_access_tokens(self, user_id: str) -> None:
        for data in self.tokens.values():
            if data["user_id"] == user_id:
                data["expires"] = 0

    def revoke_user(self, user_id: str) -> None:
        """The user disconnected the app: access and refresh tokens all die."""
        for tok in [t for t, d in self.tokens.items() if d["user_id"] == user_id]:
            del self.tokens[tok]
        for r in [r for r, u in self.refresh_tokens.items() if u == user_id]:
            del self.refresh_tokens[r]

    def issue_code(self, user_id: str, scopes: list[str]) -> str:
        code = uuid.uuid4().hex
        self.codes[code] = (user_id, list(scopes))
        return code

    def set_live(self, user_id: str, *, title="Live now", game="Just Chatting", viewers=10,
                 stream_id=None) -> dict:
        u = self.users[user_id]
        s = {"id": stream_id or str(40000000000 + next(self._counter)), "user_id": user_id,
             "user_login": u["login"], "user_name": u["display_name"], "game_id": "509658",
             "game_name": game, "type": "live", "title": title, "viewer_count": viewers,
             "started_at": now_iso(), "language": "en", "thumbnail_url": "", "tag_ids": [],
             "tags": [], "is_mature": False}
        self.streams[user_id] = s
        return s

    def set_offline(self, user_id: str) -> None:
        self.streams.pop(user_id, None)

    def fail_next(self, path: str, status: int, headers: dict | None = None, times: int = 1):
        self.failures.setdefault(path, []).extend([(status, headers or {})] * times)

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p == path)

    # --- OAuth ---------------------------------------------------------------------------
    def _bearer_user(self, request, prefix="Bearer ") -> tuple[str | None, str]:
        auth = request.headers.get("Authorization", "")
        token = auth[len(prefix):] if auth.startswith(prefix) else ""
        data = self.tokens.get(token)
        if data is None or data["expires"] < time.time():
            return None, token
        return data["user_id"], token

    async def _authorize(self, request):
        q = request.query
        if q.get("client_id") != CLIENT_ID:
            return web.json_response({"status": 400, "message": "invalid client"}, status=400)
        user_id = next(iter(self.users))
        code = self.issue_code(user_id, q.get("scope", "").split())
        raise web.HTTPFound(f"{q['redirect_uri']}?code={code}&scope={q.get('scope', '')}&state={q['state']}")

    async def _token(self, request):
        form = dict(await request.post())
        params = {**dict(request.query), **form}
        if params.get("client_id") != CLIENT_ID or params.get("client_secret") != CLIENT_SECRET:
            return web.json_response({"status": 403, "message": "invalid client secret"}, status=403)
        grant = params.get("grant_type")
        if grant == "authorization_code":
            entry = self.codes.pop(params.get("code", ""), None)
            if entry is None:
                return web.json_response({"status": 400, "message": "Invalid authorization code"}, status=400)
            return web.json_response(self.issue_tokens(*entry))
        if grant == "refresh_token":
            self.refreshes += 1
            user_id = self.refresh_tokens.pop(params.get("refresh_token", ""), None)
            if user_id is None:
                return web.json_response({"error": "Bad Request", "status": 400,
                                          "message": "Invalid refresh token"}, status=400)
            old_scopes = next((d["scopes"] for d in self.tokens.values() if d["user_id"] == user_id), [])
            return web.json_response(self.issue_tokens(user_id, old_scopes))
        if grant == "client_credentials":
            access = f"app{next(self._counter)}"
            self.tokens[access] = {"user_id": "", "scopes": [], "expires": time.time() + 5000000}
            return web.json_response({"access_token": access, "expires_in": 5000000, "token_type": "bearer"})
        return web.json_response({"status": 400, "message": "unsupported grant type"}, status=400)

    async def _validate(self, request):
        self.validations += 1
        auth = request.headers.get("Authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        data = self.tokens.get(token)
        if data is None or data["expires"] < time.time():
            return web.json_response({"status": 401, "message": "invalid access token"}, status=401)
        user = self.users.get(data["user_id"], {})
        body = {"client_id": CLIENT_ID, "scopes": data["scopes"],
                "expires_in": max(int(data["expires"] - time.time()), 0)}
        if user:
            body.update({"login": user["login"], "user_id": user["id"]})
        return web.json_response(body)

    async def _revoke(self, request):
        form = dict(await request.post())
        self.tokens.pop(form.get("token", ""), None)
        return web.Response(status=200)

    # --- Helix ---------------------------------------------------------------------------
    async def _helix(self, request):
        path = request.match_info["path"].strip("/")
        self.requests.append((request.method, path, dict(request.query)))
        queued = self.failures.get(path)
        if queued:
            status, headers = queued.pop(0)
            return web.json_response({"error": "fake", "status": status, "message": "injected failure"},
                                     status=status, headers=headers)
        if request.headers.get("Client-Id") != CLIENT_ID:
            return web.json_response({"error": "Unauthorized", "status": 401,
                                      "message": "Client ID and OAuth token do not match"}, status=401)
        user_id, token = self._bearer_user(request)
        if user_id is None:
            return web.json_response({"error": "Unauthorized", "status": 401,
                                      "message": "Invalid OAuth token"}, status=401)
        handler = {
            ("POST", "eventsub/subscriptions"): self._sub_create,
            ("GET", "eventsub/subscriptions"): self._sub_list,
            ("DELETE", "eventsub/subscriptions"): self._sub_delete,
            ("GET", "users"): self._users,
            ("GET", "streams"): self._streams,
            ("POST", "chat/messages"): self._chat_send,
            ("DELETE", "moderation/chat"): self._chat_delete,
            ("POST", "moderation/bans"): self._ban,
            ("DELETE", "moderation/bans"): self._unban,
        }.get((request.method, path))
        if handler is None:
            return web.json_response({"error": "Not Found", "status": 404, "message": path}, status=404)
        return await handler(request, user_id, token)

    def _scopes(self, token):
        return self.tokens.get(token, {}).get("scopes", [])

    def _forbidden(self, message):
        return web.json_response({"error": "Forbidden", "status": 403, "message": message}, status=403)

    async def _sub_create(self, request, user_id, token):
        body = await request.json()
        session_id = body.get("transport", {}).get("session_id")
        if body.get("transport", {}).get("method") != "websocket" or session_id not in self.sessions:
            return web.json_response({"error": "Bad Request", "status": 400,
                                      "message": "websocket transport session does not exist or has already disconnected"}, status=400)
        need = {"channel.chat.message": "user:read:chat", "channel.chat.notification": "user:read:chat", "channel.chat.message_delete": "user:read:chat",
                "channel.chat.clear": "user:read:chat", "channel.chat.clear_user_messages": "user:read:chat",
                "channel.ban": "channel:moderate", "channel.unban": "channel:moderate"}.get(body["type"])
        if need and need not in self._scopes(token):
            return self._forbidden(f"subscription missing proper authorization ({need})")
        if body["type"] in ("channel.ban", "channel.unban") and body["condition"].get("broadcaster_user_id") != user_id:
            return self._forbidden("subscription missing proper authorization")
        if body["type"] == "channel.moderate":
            cond = body["condition"]
            needed = ["moderator:read:blocked_terms", "moderator:read:chat_settings",
                      "moderator:read:unban_requests", "moderator:read:warnings",
                      "moderator:read:moderators", "moderator:read:vips"]
            if (cond.get("moderator_user_id") != user_id
                    or not self._is_mod(cond.get("broadcaster_user_id"), user_id)
                    or any(n not in self._scopes(token) for n in needed)):
                return self._forbidden("subscription missing proper authorization")
        for s in self.subscriptions.values():
            if s["type"] == body["type"] and s["condition"] == body["condition"] and s["transport"]["session_id"] == session_id:
                return web.json_response({"error": "Conflict", "status": 409,
                                          "message": f"subscription already exists id={s['id']}"}, status=409)
        sub = {"id": str(uuid.uuid4()), "status": "enabled", "type": body["type"],
               "version": body.get("version", "1"), "condition": body["condition"], "created_at": now_iso(),
               "transport": {"method": "websocket", "session_id": session_id, "connected_at": now_iso()},
               "cost": 0}
        self.subscriptions[sub["id"]] = sub
        return web.json_response({"data": [sub], "total": len(self.subscriptions), "total_cost": 0,
                                  "max_total_cost": 10}, status=202)

    async def _sub_list(self, request, user_id, token):
        data = list(self.subscriptions.values())
        return web.json_response({"data": data, "total": len(data), "total_cost": 0,
                                  "max_total_cost": 10, "pagination": {}})

    async def _sub_delete(self, request, user_id, token):
        self.subscriptions.pop(request.query.get("id", ""), None)
        return web.Response(status=204)

    async def _users(self, request, user_id, token):
        logins = request.query.getall("login", [])
        ids = request.query.getall("id", [])
        if not logins and not ids:
            ids = [user_id]
        data = [u for u in self.users.values() if u["login"] in logins or u["id"] in ids]
        return web.json_response({"data": data})

    async def _streams(self, request, user_id, token):
        logins = request.query.getall("user_login", [])
        ids = request.query.getall("user_id", [])
        data = [s for s in self.streams.values() if s["user_login"] in logins or s["user_id"] in ids]
        return web.json_response({"data": data, "pagination": {}})

    def _is_mod(self, broadcaster_id, user_id):
        return user_id == broadcaster_id or user_id in self.moderators.get(broadcaster_id, set())

    async def _chat_send(self, request, user_id, token):
        body = await request.json()
        if "user:write:chat" not in self._scopes(token):
            return self._forbidden("Missing scope: user:write:chat")
        if body.get("sender_id") != user_id:
            return self._forbidden("The sender must match the user in the token")
        if len(body.get("message", "")) > 500:
            return web.json_response({"error": "Bad Request", "status": 400, "message": "message too long"}, status=400)
        mid = str(uuid.uuid4())
        entry = {**body, "message_id": mid, "at": time.monotonic()}
        if self.send_drop_reason:
            return web.json_response({"data": [{"message_id": "", "is_sent": False,
                                                "drop_reason": self.send_drop_reason}]})
        self.chat_sent.append(entry)
        return web.json_response({"data": [{"message_id": mid, "is_sent": True, "drop_reason": None}]})

    async def _chat_delete(self, request, user_id, token):
        q = request.query
        if "moderator:manage:chat_messages" not in self._scopes(token):
            return self._forbidden("Missing scope: moderator:manage:chat_messages")
        if q.get("moderator_id") != user_id or not self._is_mod(q.get("broadcaster_id"), user_id):
            return self._forbidden("The user in moderator_id is not one of the broadcaster's moderators")
        self.deleted.append(dict(q))
        return web.Response(status=204)

    async def _ban(self, request, user_id, token):
        q = request.query
        body = (await request.json()).get("data", {})
        if "moderator:manage:banned_users" not in self._scopes(token):
            return self._forbidden("Missing scope: moderator:manage:banned_users")
        if q.get("moderator_id") != user_id or not self._is_mod(q.get("broadcaster_id"), user_id):
            return self._forbidden("The user in moderator_id is not one of the broadcaster's moderators")
        entry = {"broadcaster_id": q["broadcaster_id"], "moderator_id": user_id, "user_id": body["user_id"],
                 "created_at": now_iso(), "end_time": None, "reason": body.get("reason", ""),
                 "duration": body.get("duration")}
        if body.get("duration"):
            entry["end_time"] = (datetime.now(UTC) + timedelta(seconds=int(body["duration"]))).isoformat().replace("+00:00", "Z")
        self.bans.append(entry)
        return web.json_response({"data": [{k: entry[k] for k in ("broadcaster_id", "moderator_id", "user_id", "created_at", "end_time")}]})

    async def _unban(self, request, user_id, token):
        self.unbans.append(dict(request.query))
        return web.Response(status=204)

    # --- EventSub websocket ----------------------------------------------------------------
    async def _ws(self, request):
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.ws_connects += 1
        session_id = f"sess-{next(self._counter)}-{uuid.uuid4().hex[:8]}"
        reconnect_from = request.query.get("from")
        self.sessions[session_id] = ws
        self.session_order.append(session_id)
        await ws.send_json(self._frame("session_welcome", {"session": {
            "id": session_id, "status": "connected", "connected_at": now_iso(),
            "keepalive_timeout_seconds": int(self.keepalive_seconds), "reconnect_url": None,
            "recovery_url": None}}))
        if reconnect_from:
            # Twitch moves the subscriptions to the new session, then closes the old socket.
            for s in self.subscriptions.values():
                if s["transport"]["session_id"] == reconnect_from:
                    s["transport"]["session_id"] = session_id
            old = self.sessions.pop(reconnect_from, None)
            if old is not None:
                await old.close(code=4004, message=b"reconnect grace time expired")
        if self.storm:
            await asyncio.sleep(0.05)
            await ws.close(code=4000, message=b"internal server error")
        task = asyncio.create_task(self._keepalive(ws))
        self._tasks.add(task)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    # The client must never send: Twitch closes with 4001.
                    await ws.close(code=4001, message=b"client sent inbound traffic")
                    break
        finally:
            task.cancel()
            self._tasks.discard(task)
            if self.sessions.get(session_id) is ws:
                del self.sessions[session_id]
                for sid in [k for k, s in self.subscriptions.items() if s["transport"]["session_id"] == session_id]:
                    del self.subscriptions[sid]
        return ws

    async def _keepalive(self, ws):
        while not ws.closed:
            await asyncio.sleep(self.keepalive_seconds * 0.6)
            if self.send_keepalives and not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.send_json(self._frame("session_keepalive", {}))

    def _frame(self, message_type, payload, **meta):
        return {"metadata": {"message_id": str(uuid.uuid4()), "message_type": message_type,
                             "message_timestamp": now_iso(), **meta}, "payload": payload}

    async def wait_subscriptions(self, n: int, timeout: float = 8.0, types=None) -> None:
        deadline = time.monotonic() + timeout
        while True:
            subs = [s for s in self.subscriptions.values() if types is None or s["type"] in types]
            if len(subs) >= n:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(subs)} subscriptions: {[s['type'] for s in subs]}")
            await asyncio.sleep(0.05)

    async def notify(self, sub_type: str, event: dict, *, message_id: str | None = None,
                     raw_event: bool = False) -> int:
        """Send a notification to every session subscribed to ``sub_type`` (returns how many)."""
        sent = 0
        for s in list(self.subscriptions.values()):
            if s["type"] != sub_type:
                continue
            ws = self.sessions.get(s["transport"]["session_id"])
            if ws is None or ws.closed:
                continue
            frame = self._frame("notification", {"subscription": s, "event": event},
                                subscription_type=sub_type, subscription_version=s["version"])
            if message_id:
                frame["metadata"]["message_id"] = message_id
            await ws.send_json(frame)
            sent += 1
        return sent

    async def send_raw(self, text: str) -> None:
        for ws in list(self.sessions.values()):
            await ws.send_str(text)

    async def session_reconnect(self) -> None:
        for sid, ws in list(self.sessions.items()):
            await ws.send_json(self._frame("session_reconnect", {"session": {
                "id": sid, "status": "reconnecting", "keepalive_timeout_seconds": None,
                "reconnect_url": f"{self.ws_url}?from={sid}", "connected_at": now_iso()}}))

    async def drop_sockets(self) -> None:
        for ws in list(self.sessions.values()):
            # No close frame: the TCP connection just dies.
            ws._req.transport.abort() if ws._req and ws._req.transport else await ws.close()

    async def revoke_subscriptions(self, status: str = "authorization_revoked") -> None:
        for s in list(self.subscriptions.values()):
            ws = self.sessions.get(s["transport"]["session_id"])
            if ws is not None:
                s2 = {**s, "status": status}
                await ws.send_json(self._frame("revocation", {"subscription": s2},
                                               subscription_type=s["type"], subscription_version=s["version"]))
            self.subscriptions.pop(s["id"], None)


def chat_message_event(broadcaster: dict, chatter: dict, text: str, *, message_id=None, badges=None,
                       cheer=None, reply=None, color="#00FF7F", message_type="text", fragments=None) -> dict:
    """A channel.chat.message event with EVERY key Twitch sends (null ones too)."""
    return {
        "broadcaster_user_id": broadcaster["id"], "broadcaster_user_login": broadcaster["login"],
        "broadcaster_user_name": broadcaster["display_name"],
        "chatter_user_id": chatter["id"], "chatter_user_login": chatter["login"],
        "chatter_user_name": chatter["display_name"],
        "message_id": message_id or str(uuid.uuid4()),
        "message": {"text": text, "fragments": fragments if fragments is not None else
                    [{"type": "text", "text": text, "cheermote": None, "emote": None, "mention": None}]},
        "color": color, "badges": badges or [], "message_type": message_type,
        "cheer": cheer, "reply": reply, "channel_points_custom_reward_id": None,
        "channel_points_animation_id": None, "source_broadcaster_user_id": None,
        "source_broadcaster_user_login": None, "source_broadcaster_user_name": None,
        "source_message_id": None, "source_badges": None, "is_source_only": None,
    }


def chat_notification_event(broadcaster, chatter, notice_type, *, text="", system_message="",
                            message_id=None, badges=None, **data) -> dict:
    """A channel.chat.notification event with every key (null except ``notice_type``'s)."""
    keys = ["sub", "resub", "sub_gift", "community_sub_gift", "gift_paid_upgrade",
            "prime_paid_upgrade", "raid", "unraid", "pay_it_forward", "announcement",
            "bits_badge_tier", "charity_donation", "watch_streak", "modiversary",
            "shared_chat_sub", "shared_chat_resub", "shared_chat_sub_gift",
            "shared_chat_community_sub_gift", "shared_chat_gift_paid_upgrade",
            "shared_chat_prime_paid_upgrade", "shared_chat_raid", "shared_chat_pay_it_forward",
            "shared_chat_announcement", "shared_chat_modiversary"]
    event = {**_bc(broadcaster), "chatter_user_id": chatter["id"], "chatter_user_login": chatter["login"],
             "chatter_user_name": chatter["display_name"], "chatter_is_anonymous": False,
             "color": "#FF4500", "badges": badges or [], "system_message": system_message,
             "message_id": message_id or str(uuid.uuid4()),
             "message": {"text": text, "fragments": [{"type": "text", "text": text, "cheermote": None,
                                                      "emote": None, "mention": None}] if text else []},
             "notice_type": notice_type, "source_broadcaster_user_id": None,
             "source_broadcaster_user_login": None, "source_broadcaster_user_name": None,
             "source_message_id": None, "source_badges": None, "is_source_only": None}
    event.update({k: None for k in keys})
    event[notice_type] = data
    return event


def _bc(b):
    return {"broadcaster_user_id": b["id"], "broadcaster_user_login": b["login"],
            "broadcaster_user_name": b["display_name"]}


def message_delete_event(broadcaster, user, message_id):
    return {**_bc(broadcaster), "target_user_id": user["id"], "target_user_login": user["login"],
            "target_user_name": user["display_name"], "message_id": message_id}


def clear_user_event(broadcaster, user):
    return {**_bc(broadcaster), "target_user_id": user["id"], "target_user_login": user["login"],
            "target_user_name": user["display_name"]}


def clear_event(broadcaster):
    return _bc(broadcaster)


def ban_event(broadcaster, user, moderator, *, reason="", duration=None, banned_at=None):
    banned = banned_at or datetime.now(UTC)
    ends = None if duration is None else banned + timedelta(seconds=duration)
    iso = lambda d: d.isoformat().replace("+00:00", "Z")  # noqa: E731
    return {**_bc(broadcaster), "user_id": user["id"], "user_login": user["login"],
            "user_name": user["display_name"], "moderator_user_id": moderator["id"],
            "moderator_user_login": moderator["login"], "moderator_user_name": moderator["display_name"],
            "reason": reason, "banned_at": iso(banned), "ends_at": iso(ends) if ends else None,
            "is_permanent": duration is None}


def unban_event(broadcaster, user, moderator):
    return {**_bc(broadcaster), "user_id": user["id"], "user_login": user["login"],
            "user_name": user["display_name"], "moderator_user_id": moderator["id"],
            "moderator_user_login": moderator["login"], "moderator_user_name": moderator["display_name"]}


def moderate_event(broadcaster, moderator, action, **data):
    """A channel.moderate v2 event: every action key present, null except ``action``'s."""
    keys = ["followers", "slow", "vip", "unvip", "mod", "unmod", "ban", "unban", "timeout",
            "untimeout", "raid", "unraid", "delete", "automod_terms", "unban_request", "warn",
            "shared_chat_ban", "shared_chat_unban", "shared_chat_timeout", "shared_chat_untimeout",
            "shared_chat_delete"]
    event = {**_bc(broadcaster), "source_broadcaster_user_id": None,
             "source_broadcaster_user_login": None, "source_broadcaster_user_name": None,
             "moderator_user_id": moderator["id"], "moderator_user_login": moderator["login"],
             "moderator_user_name": moderator["display_name"], "action": action}
    event.update({k: None for k in keys})
    event[action] = data
    return event


def user_ref(user):
    return {"user_id": user["id"], "user_login": user["login"], "user_name": user["display_name"]}


def stream_online_event(broadcaster, stream_id, started_at=None):
    return {"id": stream_id, **_bc(broadcaster), "type": "live", "started_at": started_at or now_iso()}


def stream_offline_event(broadcaster):
    # The real payload has no stream id (only the broadcaster).
    return _bc(broadcaster)
