"""A local fake of the Slack Web API, file downloads and a Socket Mode websocket.

Speaks what slack-sdk 3.47 / slack-bolt 1.30 send and expect:
- ``POST /api/<method>`` (form or JSON, token in ``Authorization: Bearer``): auth.test, users.info,
  conversations.history, conversations.replies, files.info, chat.postMessage, reactions.add,
  reactions.remove, apps.connections.open (needs an ``xapp-`` token; returns our ``ws://`` URL).
- ``GET /files/<id>/<name>``: the private file download (needs the bot token, else an HTML
  login page with status 200, as Slack does).
- ``GET /link``: Socket Mode: ``hello``, then ``events_api`` envelopes; records the client's acks
  (``{"envelope_id": ...}``); ``refresh()`` sends ``disconnect``/``refresh_requested``.

The server runs on its own event loop in a thread, so sync tests, Bolt's worker threads and
async tests can all use it. Point slack-sdk at it with ``SLACK_API_URL=<fake.api_url>``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from urllib.parse import parse_qs

from aiohttp import WSMsgType, web

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-1-test-app-token"
BOT_USER = "UBOT"
BOT_ID = "BBOT"
TEAM = "T0NEWS"


class FakeSlack:
    def __init__(self):
        self.users: dict[str, dict] = {}
        self.channels: dict[str, list[dict]] = {}
        self.files: dict[str, dict] = {}  # id -> {"info": {...}, "data": bytes}
        self.calls: list[tuple[str, dict]] = []
        self.posted: list[dict] = []
        self.post_times: list[float] = []
        self.reaction_log: list[tuple[str, str, str, str]] = []  # (add|remove, name, channel, ts)
        self.ratelimit_posts = 0  # answer this many chat.postMessage with 429
        self.retry_after = 1
        self.acks: list[str] = []
        self.connections = 0
        self.sockets: list[web.WebSocketResponse] = []
        self.downloads: list[str] = []
        self._env_ids = itertools.count(1)
        self._ts = itertools.count(1)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.add_user(BOT_USER, "chorus", "Chorus", is_bot=True)

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        ready = threading.Event()

        def run():
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self._start())
            ready.set()
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-slack", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Slack did not start")
        return self

    async def _start(self):
        app = web.Application()
        app.router.add_post("/api/{method}", self.api)
        app.router.add_get("/api/{method}", self.api)
        app.router.add_get("/files/{file_id}/{name}", self.download)
        app.router.add_get("/link", self.socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self.loop is None:
            return

        async def shutdown():
            for ws in list(self.sockets):
                await ws.close()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    # --- test data ------------------------------------------------------------------------
    def add_user(
        self, uid, name, display_name="", *, title="", is_admin=False, is_bot=False, avatar=None
    ):
        self.users[uid] = {
            "id": uid,
            "team_id": TEAM,
            "name": name,
            "real_name": display_name or name,
            "is_admin": is_admin,
            "is_owner": False,
            "is_bot": is_bot,
            "profile": {
                "display_name": display_name,
                "real_name": display_name or name,
                "title": title,
                "image_72": avatar or f"https://avatars.example/{uid}_72.png",
                "image_192": avatar or f"https://avatars.example/{uid}_192.png",
            },
        }

    def next_ts(self) -> str:
        return f"{1_790_000_000 + next(self._ts)}.000100"

    def add_message(self, channel, user, text, *, thread_ts=None, files=None, ts=None) -> dict:
        msg = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts or self.next_ts(),
            "team": TEAM,
        }
        if thread_ts:
            msg["thread_ts"] = thread_ts
        if files:
            msg["files"] = [self.files[f]["info"] for f in files]
            msg["subtype"] = "file_share"
        self.channels.setdefault(channel, []).append(msg)
        return msg

    def find(self, channel, ts) -> dict | None:
        for m in self.channels.get(channel, []):
            if m["ts"] == ts:
                return m
        return None

    def add_file(self, file_id, data: bytes, *, name="photo.png", mimetype="image/png") -> dict:
        info = {
            "id": file_id,
            "name": name,
            "mimetype": mimetype,
            "url_private": f"{self.base}/files/{file_id}/{name}",
            "url_private_download": f"{self.base}/files/{file_id}/{name}",
        }
        self.files[file_id] = {"info": info, "data": data}
        return info

    def react(self, channel, ts, name, user, *, remove=False):
        """Change a reaction in the fake's store (what users do in the Slack client)."""
        msg = self.find(channel, ts)
        reactions = msg.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if not remove:
            if entry is None:
                entry = {"name": name, "users": [], "count": 0}
                reactions.append(entry)
            if user not in entry["users"]:
                entry["users"].append(user)
        elif entry is not None and user in entry["users"]:
            entry["users"].remove(user)
            if not entry["users"]:
                reactions.remove(entry)
        if entry is not None:
            entry["count"] = len(entry["users"])

    def names_called(self) -> list[str]:
        return [name for name, _ in self.calls]

    # --- event payloads -------------------------------------------------------------------
    @staticmethod
    def callback(event: dict, event_id: str | None = None) -> dict:
        return {
            "token": "deprecated-verification-token",
            "team_id": TEAM,
            "api_app_id": "A0CHORUS",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        }

    @staticmethod
    def message_event(channel: str, msg: dict) -> dict:
        return {**msg, "channel": channel, "event_ts": msg["ts"], "channel_type": "channel"}

    def edit(self, channel, ts, new_text) -> dict:
        msg = self.find(channel, ts)
        previous = dict(msg)
        msg["text"] = new_text
        msg["edited"] = {"user": msg["user"], "ts": self.next_ts()}
        return {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": channel,
            "message": dict(msg),
            "previous_message": previous,
            "event_ts": msg["edited"]["ts"],
            "ts": msg["edited"]["ts"],
        }

    def delete(self, channel, ts) -> dict:
        msg = self.find(channel, ts)
        self.channels[channel].remove(msg)
        ets = self.next_ts()
        return {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": channel,
            "deleted_ts": ts,
            "previous_message": msg,
            "event_ts": ets,
            "ts": ets,
        }

    def reaction_event(self, channel, ts, name, user, *, remove=False) -> dict:
        self.react(channel, ts, name, user, remove=remove)
        return {
            "type": "reaction_removed" if remove else "reaction_added",
            "user": user,
            "reaction": name,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "item_user": self.find(channel, ts)["user"],
            "event_ts": self.next_ts(),
        }

    # --- Socket Mode ----------------------------------------------------------------------
    def send_events(self, events: list[dict]) -> list[str]:
        """Send each event as an events_api envelope, back to back. Returns the envelope ids."""
        envelopes = []
        for ev in events:
            eid = f"env-{next(self._env_ids)}"
            envelopes.append(
                {
                    "envelope_id": eid,
                    "type": "events_api",
                    "accepts_response_payload": False,
                    "retry_attempt": 0,
                    "retry_reason": "",
                    "payload": self.callback(ev),
                }
            )

        async def push():
            ws = self.sockets[-1]
            for env in envelopes:
                await ws.send_str(json.dumps(env))

        asyncio.run_coroutine_threadsafe(push(), self.loop).result(10)
        return [e["envelope_id"] for e in envelopes]

    def refresh(self) -> None:
        async def push():
            await self.sockets[-1].send_str(
                json.dumps(
                    {
                        "type": "disconnect",
                        "reason": "refresh_requested",
                        "debug_info": {"host": "fake"},
                    }
                )
            )

        asyncio.run_coroutine_threadsafe(push(), self.loop).result(10)

    def wait_acked(self, envelope_ids, timeout=10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(e in self.acks for e in envelope_ids):
                return
            time.sleep(0.02)
        raise AssertionError(f"not acked: {[e for e in envelope_ids if e not in self.acks]}")

    def wait_connections(self, n: int, timeout=10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connections >= n and self.sockets and not self.sockets[-1].closed:
                return
            time.sleep(0.02)
        raise AssertionError(f"{self.connections} socket connections, wanted {n}")

    async def socket(self, request: web.Request):
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        self.sockets.append(ws)
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": "A0CHORUS"},
                }
            )
        )
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                if "envelope_id" in data:
                    self.acks.append(data["envelope_id"])
            elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
        return ws

    # --- Web API --------------------------------------------------------------------------
    async def download(self, request: web.Request):
        fid = request.match_info["file_id"]
        self.downloads.append(fid)
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}" or fid not in self.files:
            return web.Response(text="<html>login</html>", content_type="text/html")
        return web.Response(
            body=self.files[fid]["data"], content_type=self.files[fid]["info"]["mimetype"]
        )

    async def api(self, request: web.Request):
        method = request.match_info["method"]
        params: dict = {k: v[0] for k, v in parse_qs(request.query_string).items()}
        if request.method == "POST":
            body = await request.read()
            if request.content_type == "application/json" and body:
                params.update(json.loads(body))
            elif body:
                params.update({k: v[0] for k, v in parse_qs(body.decode()).items()})
        self.calls.append((method, params))
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") or params.get("token", "")
        if method == "apps.connections.open":
            if not token.startswith("xapp-"):
                return self.error("not_allowed_token_type")
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"})
        if token != BOT_TOKEN:
            return self.error("invalid_auth")
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return self.error("unknown_method")
        return handler(params)

    @staticmethod
    def error(code: str, status: int = 200, headers=None):
        return web.json_response({"ok": False, "error": code}, status=status, headers=headers)

    def m_auth_test(self, p):
        return web.json_response(
            {
                "ok": True,
                "url": "https://newsroom.slack.example/",
                "team": "Newsroom",
                "user": "chorus",
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        )

    def m_users_info(self, p):
        user = self.users.get(p.get("user"))
        if user is None:
            return self.error("user_not_found")
        return web.json_response({"ok": True, "user": user})

    def m_conversations_history(self, p):
        msgs = [m for m in self.channels.get(p.get("channel"), []) if not self._is_reply(m)]
        return web.json_response({"ok": True, "messages": self._window(msgs, p), "has_more": False})

    def m_conversations_replies(self, p):
        parent = p.get("ts")
        msgs = [
            m
            for m in self.channels.get(p.get("channel"), [])
            if m["ts"] == parent or m.get("thread_ts") == parent
        ]
        if not msgs:
            return self.error("thread_not_found")
        return web.json_response({"ok": True, "messages": self._window(msgs, p), "has_more": False})

    @staticmethod
    def _is_reply(m):
        return m.get("thread_ts") and m["thread_ts"] != m["ts"]

    @staticmethod
    def _window(msgs, p):
        inclusive = str(p.get("inclusive", "")).lower() in ("1", "true")
        latest, oldest = p.get("latest"), p.get("oldest")

        def ok(m):
            t = float(m["ts"])
            if latest and (t > float(latest) or (not inclusive and t == float(latest))):
                return False
            if oldest and (t < float(oldest) or (not inclusive and t == float(oldest))):
                return False
            return True

        out = sorted((m for m in msgs if ok(m)), key=lambda m: float(m["ts"]), reverse=True)
        return out[: int(p.get("limit", 100))]

    def m_files_info(self, p):
        f = self.files.get(p.get("file"))
        if f is None:
            return self.error("file_not_found")
        return web.json_response({"ok": True, "file": f["info"]})

    def m_chat_postMessage(self, p):
        if self.ratelimit_posts > 0:
            self.ratelimit_posts -= 1
            return self.error("ratelimited", 429, {"Retry-After": str(self.retry_after)})
        channel = p.get("channel")
        if channel not in self.channels:
            return self.error("channel_not_found")
        ts = self.next_ts()
        msg = {
            "type": "message",
            "bot_id": BOT_ID,
            "user": BOT_USER,
            "text": p.get("text", ""),
            "ts": ts,
        }
        self.channels[channel].append(msg)
        self.posted.append({"channel": channel, "text": p.get("text", ""), "ts": ts})
        self.post_times.append(time.monotonic())
        return web.json_response({"ok": True, "channel": channel, "ts": ts, "message": msg})

    def m_reactions_add(self, p):
        msg = self.find(p.get("channel"), p.get("timestamp"))
        if msg is None:
            return self.error("message_not_found")
        self.react(p["channel"], p["timestamp"], p["name"], BOT_USER)
        self.reaction_log.append(("add", p["name"], p["channel"], p["timestamp"]))
        return web.json_response({"ok": True})

    def m_reactions_remove(self, p):
        msg = self.find(p.get("channel"), p.get("timestamp"))
        if msg is None:
            return self.error("message_not_found")
        self.react(p["channel"], p["timestamp"], p["name"], BOT_USER, remove=True)
        self.reaction_log.append(("remove", p["name"], p["channel"], p["timestamp"]))
        return web.json_response({"ok": True})
