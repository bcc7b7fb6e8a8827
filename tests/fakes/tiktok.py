"""A local fake of everything TikTokLive 7.0.1 talks to, speaking the real wire formats.

- ``GET /@<user>/live``: the live page with ``<script id="SIGI_STATE">`` (room id, status 2 live / 4 offline)
- ``GET /webcast/room/check_alive/``: ``{"data": [{"alive": ..., "room_id": ...}]}``
- ``GET /webcast/fetch`` (the sign server): raw protobuf ``ProtoMessageFetchResult`` with
  ``push_server`` pointing at our websocket, plus the mandatory ``X-Set-TT-Cookie`` header
- ``GET /ws`` (the push server): binary ``WebcastPushFrame``s whose payload is a gzipped
  ``ProtoMessageFetchResult``; the client sends ``im_enter_room``, heartbeats and acks.

Messages are built from TikTokLiveProto classes and serialized to bytes, so TikTokLive's own
parser decodes them (``fixtures/tiktok/*.bin`` keep such payloads as binary fixtures).
"""

from __future__ import annotations

import asyncio
import gzip
import json

from aiohttp import WSMsgType, web
from TikTokLive.proto import (
    ProtoMessageFetchResult,
    ProtoMessageFetchResultBaseProtoMessage,
    WebcastPushFrame,
)
from TikTokLiveProto.v3.webcast.im import PushHeader


def base_message(
    method: str, payload: bytes, msg_id: int
) -> ProtoMessageFetchResultBaseProtoMessage:
    return ProtoMessageFetchResultBaseProtoMessage(method=method, payload=payload, msg_id=msg_id)


class FakeTikTok:
    def __init__(self, user: str = "streamer", room_id: int = 7_000_123):
        self.user = user
        self.room_id = room_id
        self.live = True
        self.sign_status = 200
        self.required_api_key: str | None = None
        self.initial: list[ProtoMessageFetchResultBaseProtoMessage] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.client_frames: list[str] = []
        self.sign_calls = 0
        self.page_calls = 0
        self.connected = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle --------------------------------------------------------------------------
    async def start(self) -> FakeTikTok:
        app = web.Application()
        app.router.add_get("/@{user}/live", self.live_page)
        app.router.add_get("/webcast/room/check_alive/", self.check_alive)
        app.router.add_get("/webcast/fetch", self.sign_fetch)
        app.router.add_get("/ws", self.push_server)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- HTTP -------------------------------------------------------------------------------
    async def live_page(self, request):
        self.page_calls += 1
        user = request.match_info["user"]
        state = {
            "LiveRoom": {
                "liveRoomUserInfo": {
                    "user": {
                        "roomId": str(self.room_id),
                        "uniqueId": user,
                        "status": 2 if self.live else 4,
                    }
                }
            }
        }
        html = f'<html><body><script id="SIGI_STATE" type="application/json">{json.dumps(state)}</script></body></html>'
        return web.Response(text=html, content_type="text/html")

    async def check_alive(self, request):
        return web.json_response({"data": [{"alive": self.live, "room_id": self.room_id}]})

    async def sign_fetch(self, request):
        self.sign_calls += 1
        if self.required_api_key and request.headers.get("X-Api-Key") != self.required_api_key:
            return web.json_response({"message": "invalid API key"}, status=401)
        if self.sign_status == 429:
            # Euler Stream answers 429 with the seconds until its window resets.
            return web.json_response(
                {"message": "slow down", "limit_label": "free tier"},
                status=429,
                headers={"RateLimit-Remaining": "42", "RateLimit-Reset": "42"},
            )
        if self.sign_status != 200:
            return web.json_response({"message": "sign server broken"}, status=self.sign_status)
        result = ProtoMessageFetchResult(
            messages=self.initial,
            cursor="cursor-1",
            fetch_interval=1000,
            now=1,
            internal_ext="ext",
            route_params={"wrss": "fake-route"},
            push_server=f"ws://127.0.0.1:{self.port}/ws",
            is_first=True,
            need_ack=False,
        )
        return web.Response(
            body=bytes(result), headers={"X-Set-TT-Cookie": "ttwid=fake; tt-target-idc=fake"}
        )

    # --- websocket --------------------------------------------------------------------------
    async def push_server(self, request):
        ws = web.WebSocketResponse(protocols=("echo-protocol",), autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        self.connected.set()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    frame = WebcastPushFrame().parse(msg.data)
                    self.client_frames.append(frame.payload_type)
        finally:
            if ws in self.sockets:
                self.sockets.remove(ws)
        return ws

    async def push(self, messages: list[ProtoMessageFetchResultBaseProtoMessage]) -> None:
        """Send one push frame (gzip) with these messages to every connected client."""
        result = ProtoMessageFetchResult(
            messages=messages, cursor="c", need_ack=True, internal_ext="ext"
        )
        frame = WebcastPushFrame(
            seq_id=1,
            log_id=1,
            payload_type="msg",
            payload_encoding="pb",
            headers=[PushHeader(key="compress_type", value="gzip")],
            payload=gzip.compress(bytes(result)),
        )
        for ws in list(self.sockets):
            await ws.send_bytes(bytes(frame))

    async def drop(self) -> None:
        """Close every push socket abnormally (a network drop)."""
        self.connected.clear()
        for ws in list(self.sockets):
            await ws.close(code=1011, message=b"gone")
