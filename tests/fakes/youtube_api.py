"""A local fake of the YouTube Data API v3 + Google's OAuth token endpoint.

It speaks the real wire format (paths under /youtube/v3/, JSON bodies and error envelopes as
Google sends them), so the REAL google-api-python-client can be pointed at it with
``client_options={"api_endpoint": fake.url}`` and google-auth with ``token_uri=fake.token_url``.

    fake = FakeYouTube().start()
    chat = fake.add_video("dQw4w9WgXcQ", chat_id="chat-1", title="Show")
    chat.add(text_item("m1", "hello"))
    fake.fail("liveChatMessages.list", 403, "quotaExceeded")   # next call fails
    fake.drop("liveChatMessages.list")                         # next call: connection dropped
    fake.requests  # every request: time.monotonic(), route, params, headers, body
    fake.stop()
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

FORCE_SSL = "https://www.googleapis.com/auth/youtube.force-ssl"
READONLY = "https://www.googleapis.com/auth/youtube.readonly"

ROUTES = {
    ("GET", "/youtube/v3/videos"): "videos.list",
    ("GET", "/youtube/v3/liveBroadcasts"): "liveBroadcasts.list",
    ("GET", "/youtube/v3/channels"): "channels.list",
    ("GET", "/youtube/v3/liveChat/messages"): "liveChatMessages.list",
    ("POST", "/youtube/v3/liveChat/messages"): "liveChatMessages.insert",
    ("DELETE", "/youtube/v3/liveChat/messages"): "liveChatMessages.delete",
    ("POST", "/youtube/v3/liveChat/bans"): "liveChatBans.insert",
    ("POST", "/token"): "token",
}

ERROR_MESSAGES = {
    "quotaExceeded": (
        "youtube.quota",
        "The request cannot be completed because you have exceeded your "
        '<a href="/youtube/v3/getting-started#quota">quota</a>.',
    ),
    "rateLimitExceeded": ("youtube.api", "The request was sent too frequently."),
    "liveChatNotFound": (
        "youtube.liveChat",
        "The live chat that you are trying to retrieve cannot be found.",
    ),
    "liveChatEnded": ("youtube.liveChat", "The specified live chat is no longer live."),
    "liveChatDisabled": (
        "youtube.liveChat",
        "Live chat is not enabled for the specified broadcast.",
    ),
    "commentsDisabled": (
        "youtube.video",
        "The video identified by the videoId parameter has disabled comments.",
    ),
    "backendError": ("global", "Backend Error"),
    "authError": ("global", "Invalid Credentials"),
    "insufficientPermissions": ("global", "Insufficient Permission"),
    "forbidden": ("youtube.liveChat", "The caller does not have permission"),
}


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def error_body(status: int, reason: str, message: str | None = None) -> dict:
    domain, default = ERROR_MESSAGES.get(reason, ("global", reason))
    message = message or default
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }
    if status == 401:
        body["error"]["errors"][0].update(location="Authorization", locationType="header")
        body["error"]["status"] = "UNAUTHENTICATED"
    elif status == 403:
        body["error"]["status"] = "PERMISSION_DENIED"
    return body


# --- item builders (the shapes liveChatMessages.list returns) --------------------------------
_T0 = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
_counter = iter(range(10**9))


def _author(channel_id="UCviewer0000000000000001", name="Viewer", **flags) -> dict:
    details = {
        "channelId": channel_id,
        "channelUrl": f"http://www.youtube.com/channel/{channel_id}",
        "displayName": name,
        "profileImageUrl": f"https://yt3.ggpht.com/{channel_id}=s88",
        "isVerified": False,
        "isChatOwner": False,
        "isChatSponsor": False,
        "isChatModerator": False,
    }
    details.update(flags)
    return details


def item(
    item_id: str,
    type_: str,
    display: str = "",
    author: dict | None = None,
    at=None,
    chat_id="chat-1",
    **details,
) -> dict:
    at = at or _T0 + timedelta(seconds=next(_counter))
    snippet = {
        "type": type_,
        "liveChatId": chat_id,
        "authorChannelId": (author or _author()).get("channelId", ""),
        "publishedAt": iso(at),
        "hasDisplayContent": bool(display),
        "displayMessage": display,
    }
    snippet.update(details)
    return {
        "kind": "youtube#liveChatMessage",
        "etag": secrets.token_urlsafe(8),
        "id": item_id,
        "snippet": snippet,
        "authorDetails": author or _author(),
    }


def text_item(item_id, text, author=None, **kw):
    return item(
        item_id, "textMessageEvent", text, author, textMessageDetails={"messageText": text}, **kw
    )


def superchat_item(item_id, micros, currency, comment, tier=2, author=None):
    display = f"{int(micros) / 1e6:.2f} {currency}"
    return item(
        item_id,
        "superChatEvent",
        comment,
        author,
        superChatDetails={
            "amountMicros": str(micros),
            "currency": currency,
            "amountDisplayString": display,
            "userComment": comment,
            "tier": tier,
        },
    )


def supersticker_item(item_id, micros, currency, alt="a sticker", tier=1, author=None):
    return item(
        item_id,
        "superStickerEvent",
        "",
        author,
        superStickerDetails={
            "superStickerMetadata": {"stickerId": "stk_1", "altText": alt, "altTextLanguage": "en"},
            "amountMicros": str(micros),
            "currency": currency,
            "amountDisplayString": f"{int(micros) / 1e6:.2f} {currency}",
            "tier": tier,
        },
    )


def new_sponsor_item(item_id, level="Gold", author=None):
    return item(
        item_id,
        "newSponsorEvent",
        f"Welcome to {level}!",
        author,
        newSponsorDetails={"memberLevelName": level, "isUpgrade": False},
    )


def milestone_item(item_id, months, comment="", author=None):
    return item(
        item_id,
        "memberMilestoneChatEvent",
        comment,
        author,
        memberMilestoneChatDetails={
            "userComment": comment,
            "memberMonth": months,
            "memberLevelName": "Gold",
        },
    )


def gifting_item(item_id, count, author=None):
    return item(
        item_id,
        "membershipGiftingEvent",
        f"Gifted {count} memberships",
        author,
        membershipGiftingDetails={
            "giftMembershipsCount": count,
            "giftMembershipsLevelName": "Gold",
        },
    )


def gift_received_item(item_id, gifter_channel, gifting_id, author=None):
    return item(
        item_id,
        "giftMembershipReceivedEvent",
        "received a gift membership",
        author,
        giftMembershipReceivedDetails={
            "memberLevelName": "Gold",
            "gifterChannelId": gifter_channel,
            "associatedMembershipGiftingMessageId": gifting_id,
        },
    )


def deleted_item(item_id, target_id, moderator=None):
    return item(
        item_id,
        "messageDeletedEvent",
        "",
        moderator or _author("UCmod", "Mod", isChatModerator=True),
        messageDeletedDetails={"deletedMessageId": target_id},
    )


def retracted_item(item_id, target_id, author=None):
    return item(
        item_id,
        "messageRetractedEvent",
        "",
        author,
        messageRetractedDetails={"retractedMessageId": target_id},
    )


def tombstone_item(target_id):
    return item(target_id, "tombstone", "", _author())


def banned_item(
    item_id, user_channel, user_name, ban_type="permanent", seconds=None, moderator=None
):
    details = {
        "banType": ban_type,
        "bannedUserDetails": {
            "channelId": user_channel,
            "channelUrl": f"http://www.youtube.com/channel/{user_channel}",
            "displayName": user_name,
            "profileImageUrl": "https://yt3.ggpht.com/x",
        },
    }
    if seconds is not None:
        details["banDurationSeconds"] = str(seconds)
    return item(
        item_id,
        "userBannedEvent",
        "",
        moderator or _author("UCmod", "Mod", isChatModerator=True),
        userBannedDetails=details,
    )


def chat_ended_item(item_id):
    return item(item_id, "chatEndedEvent", "", _author("UCowner", "Owner", isChatOwner=True))


# --- state ----------------------------------------------------------------------------------
@dataclass
class Chat:
    chat_id: str
    items: list = field(default_factory=list)
    polling_ms: int = 100
    offline_at: str | None = None
    error: tuple[int, str] | None = None  # a permanent error for every list call (ended chats)

    def add(self, *items):
        self.items.extend(items)
        return self


@dataclass
class Recorded:
    t: float
    route: str
    params: dict
    headers: dict
    body: dict | None


class FakeYouTube:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.videos: dict[str, dict] = {}
        self.chats: dict[str, Chat] = {}
        self.broadcasts: list[dict] = []
        self.access_tokens: dict[str, dict] = {}
        self.refresh_tokens: dict[str, dict] = {}
        self.auth_codes: dict[str, dict] = {}
        self.api_keys: set[str] = set()
        self.channels: dict[str, dict] = {}
        self.failures: dict[str, deque] = defaultdict(deque)
        self.client_id = "fake-client-id.apps.googleusercontent.com"
        self.client_secret = "fake-client-secret"
        self.token_lifetime = 3599
        self._server = None

    # lifecycle
    def start(self) -> FakeYouTube:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def token_url(self) -> str:
        return f"{self.url}token"

    # setup helpers
    def add_video(
        self,
        video_id,
        chat_id=None,
        title="Live show",
        viewers=123,
        channel_id="UCowner",
        started=None,
        ended=None,
        polling_ms=100,
    ) -> Chat | None:
        details = {
            "actualStartTime": iso(started or _T0),
            "scheduledStartTime": iso(started or _T0),
        }
        if chat_id:
            details["activeLiveChatId"] = chat_id
        if viewers is not None:
            details["concurrentViewers"] = str(viewers)
        if ended:
            details["actualEndTime"] = iso(ended)
        self.videos[video_id] = {
            "kind": "youtube#video",
            "etag": "e",
            "id": video_id,
            "snippet": {
                "publishedAt": iso(started or _T0),
                "channelId": channel_id,
                "title": title,
                "description": "",
                "channelTitle": "Owner",
                "liveBroadcastContent": "live" if chat_id else "none",
            },
            "liveStreamingDetails": details,
        }
        if chat_id:
            return self.chats.setdefault(chat_id, Chat(chat_id, polling_ms=polling_ms))
        return None

    def end_video(self, video_id):
        details = self.videos[video_id]["liveStreamingDetails"]
        chat_id = details.pop("activeLiveChatId", None)
        details["actualEndTime"] = iso(datetime.now(UTC))
        self.videos[video_id]["snippet"]["liveBroadcastContent"] = "none"
        return chat_id

    def add_broadcast(self, broadcast_id, chat_id, title="My broadcast", channel_id="UCowner"):
        self.broadcasts.append(
            {
                "kind": "youtube#liveBroadcast",
                "etag": "e",
                "id": broadcast_id,
                "channel": channel_id,
                "snippet": {
                    "publishedAt": iso(_T0),
                    "channelId": channel_id,
                    "title": title,
                    "liveChatId": chat_id,
                    "actualStartTime": iso(_T0),
                },
                "status": {"lifeCycleStatus": "live"},
            }
        )
        return self.chats.setdefault(chat_id, Chat(chat_id))

    def grant(self, channel_id="UCowner", name="Owner Channel", scopes=(FORCE_SSL,)) -> dict:
        """Issue an access + refresh token as Google's consent would."""
        access, refresh = "ya29." + secrets.token_urlsafe(16), "1//" + secrets.token_urlsafe(16)
        info = {"channel": channel_id, "scopes": list(scopes)}
        self.access_tokens[access] = info
        self.refresh_tokens[refresh] = info
        self.channels[channel_id] = {
            "kind": "youtube#channel",
            "id": channel_id,
            "snippet": {"title": name, "customUrl": "@" + name.lower().replace(" ", "")},
        }
        return {"access_token": access, "refresh_token": refresh}

    def auth_code(
        self, channel_id="UCowner", name="Owner Channel", scopes=(FORCE_SSL,), redirect_uri=""
    ) -> str:
        code = "4/" + secrets.token_urlsafe(12)
        self.channels[channel_id] = {
            "kind": "youtube#channel",
            "id": channel_id,
            "snippet": {"title": name, "customUrl": "@" + name.lower().replace(" ", "")},
        }
        self.auth_codes[code] = {
            "channel": channel_id,
            "scopes": list(scopes),
            "redirect_uri": redirect_uri,
        }
        return code

    def expire_access_tokens(self):
        self.access_tokens.clear()

    def revoke(self, refresh_token):
        self.refresh_tokens.pop(refresh_token, None)
        self.access_tokens.clear()

    def fail(self, route, status, reason, times=1, message=None):
        for _ in range(times):
            self.failures[route].append(("error", status, reason, message))

    def drop(self, route, times=1):
        for _ in range(times):
            self.failures[route].append(("drop",))

    def calls(self, route) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.route == route]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeYouTube
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    # plumbing
    def _send(self, status, body=None, content_type="application/json; charset=UTF-8"):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status, reason, message=None):
        self._send(status, error_body(status, reason, message))

    def _dispatch(self, method):
        fake = self.fake
        url = urlparse(self.path)
        params = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        route = ROUTES.get((method, url.path), f"{method} {url.path}")
        body = None
        if raw:
            if route == "token":
                body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            else:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_raw": raw.decode(errors="replace")}
        with fake.lock:
            fake.requests.append(
                Recorded(
                    time.monotonic(),
                    route,
                    params,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
            )
            failure = fake.failures[route].popleft() if fake.failures[route] else None
        if failure and failure[0] == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if failure:
            _, status, reason, message = failure
            return self._error(status, reason, message)
        if route == "token":
            return self._token(body or {})
        if route not in ROUTES.values():
            return self._error(404, "notFound", "Not Found")
        who = self._authenticate(params)
        if who is None:
            return
        handler = getattr(self, "_" + route.replace(".", "_"))
        return handler(params, body, who)

    def _authenticate(self, params):
        fake = self.fake
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            info = fake.access_tokens.get(auth[7:])
            if info is None:
                self._error(
                    401,
                    "authError",
                    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                )
                return None
            return info
        key = params.get("key")
        if key and key in fake.api_keys:
            return {"channel": None, "scopes": [], "key": key}
        if key:
            self._error(400, "badRequest", "API key not valid. Please pass a valid API key.")
        else:
            self._error(401, "authError", "The request is missing a valid API key.")
        return None

    def _require_write(self, who) -> bool:
        if FORCE_SSL not in who.get("scopes", []):
            self._error(
                403, "insufficientPermissions", "Request had insufficient authentication scopes."
            )
            return False
        return True

    # --- OAuth token endpoint ---
    def _token(self, form):
        fake = self.fake
        if (
            form.get("client_id") != fake.client_id
            or form.get("client_secret") != fake.client_secret
        ):
            return self._send(
                401,
                {"error": "invalid_client", "error_description": "The OAuth client was not found."},
            )
        grant = form.get("grant_type")
        if grant == "refresh_token":
            info = fake.refresh_tokens.get(form.get("refresh_token", ""))
            if info is None:
                return self._send(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                )
            access = "ya29." + secrets.token_urlsafe(16)
            fake.access_tokens[access] = info
            return self._send(
                200,
                {
                    "access_token": access,
                    "expires_in": fake.token_lifetime,
                    "scope": " ".join(info["scopes"]),
                    "token_type": "Bearer",
                },
            )
        if grant == "authorization_code":
            info = fake.auth_codes.pop(form.get("code", ""), None)
            if info is None or (
                info["redirect_uri"] and info["redirect_uri"] != form.get("redirect_uri")
            ):
                return self._send(
                    400, {"error": "invalid_grant", "error_description": "Bad Request"}
                )
            access, refresh = "ya29." + secrets.token_urlsafe(16), "1//" + secrets.token_urlsafe(16)
            grant_info = {"channel": info["channel"], "scopes": info["scopes"]}
            fake.access_tokens[access] = grant_info
            fake.refresh_tokens[refresh] = grant_info
            return self._send(
                200,
                {
                    "access_token": access,
                    "expires_in": fake.token_lifetime,
                    "refresh_token": refresh,
                    "scope": " ".join(info["scopes"]),
                    "token_type": "Bearer",
                },
            )
        return self._send(400, {"error": "unsupported_grant_type"})

    # --- API ---
    def _videos_list(self, params, body, who):
        ids = str(params.get("id", "")).split(",")
        items = [self.fake.videos[i] for i in ids if i in self.fake.videos]
        self._send(
            200,
            {
                "kind": "youtube#videoListResponse",
                "etag": "e",
                "items": items,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
            },
        )

    def _channels_list(self, params, body, who):
        channel = (
            self.fake.channels.get(who.get("channel")) if params.get("mine") == "true" else None
        )
        items = [channel] if channel else []
        self._send(
            200,
            {
                "kind": "youtube#channelListResponse",
                "etag": "e",
                "items": items,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
            },
        )

    def _liveBroadcasts_list(self, params, body, who):
        if who.get("channel") is None:
            return self._error(401, "authError", "Login Required.")
        items = [
            {k: v for k, v in b.items() if k != "channel"}
            for b in self.fake.broadcasts
            if b["channel"] == who["channel"] and b["status"]["lifeCycleStatus"] == "live"
        ]
        self._send(
            200,
            {
                "kind": "youtube#liveBroadcastListResponse",
                "etag": "e",
                "items": items,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
            },
        )

    def _liveChatMessages_list(self, params, body, who):
        chat = self.fake.chats.get(params.get("liveChatId", ""))
        if chat is None:
            return self._error(404, "liveChatNotFound")
        if chat.error:
            return self._error(*chat.error)
        token = params.get("pageToken")
        try:
            start = int(token[1:]) if token else 0
        except ValueError:
            return self._error(
                400, "pageTokenInvalid", "The request specifies an invalid page token."
            )
        limit = int(params.get("maxResults", 500))
        with self.fake.lock:
            page = chat.items[start : start + limit]
        response = {
            "kind": "youtube#liveChatMessageListResponse",
            "etag": "e",
            "pollingIntervalMillis": chat.polling_ms,
            "pageInfo": {"totalResults": len(page), "resultsPerPage": len(page)},
            "nextPageToken": f"T{start + len(page):08d}",
            "items": page,
        }
        if chat.offline_at:
            response["offlineAt"] = chat.offline_at
        self._send(200, response)

    def _liveChatMessages_insert(self, params, body, who):
        if not self._require_write(who):
            return
        snippet = (body or {}).get("snippet") or {}
        chat = self.fake.chats.get(snippet.get("liveChatId", ""))
        if chat is None:
            return self._error(404, "liveChatNotFound")
        text = (snippet.get("textMessageDetails") or {}).get("messageText", "")
        if not text:
            return self._error(400, "messageTextInvalid", "The message text is missing or invalid.")
        owner = self.fake.channels.get(who["channel"], {}).get("snippet", {}).get("title", "Owner")
        new = text_item(
            "ins-" + secrets.token_hex(6),
            text,
            _author(who["channel"], owner, isChatOwner=True),
            chat_id=chat.chat_id,
        )
        chat.add(new)
        self._send(200, new)

    def _liveChatMessages_delete(self, params, body, who):
        if not self._require_write(who):
            return
        target = params.get("id", "")
        for chat in self.fake.chats.values():
            if any(i["id"] == target for i in chat.items):
                chat.add(
                    deleted_item(
                        "del-" + secrets.token_hex(6),
                        target,
                        _author(who["channel"], "Owner", isChatOwner=True),
                    )
                )
                return self._send(204)
        self._error(
            404,
            "liveChatMessageNotFound",
            "The live chat message that you are trying to delete cannot be found.",
        )

    def _liveChatBans_insert(self, params, body, who):
        if not self._require_write(who):
            return
        snippet = (body or {}).get("snippet") or {}
        chat = self.fake.chats.get(snippet.get("liveChatId", ""))
        if chat is None:
            return self._error(404, "liveChatNotFound")
        user = (snippet.get("bannedUserDetails") or {}).get("channelId")
        ban_type = snippet.get("type")
        if not user or ban_type not in ("permanent", "temporary"):
            return self._error(400, "invalidValue", "Invalid ban.")
        seconds = snippet.get("banDurationSeconds", 300) if ban_type == "temporary" else None
        chat.add(
            banned_item(
                "ban-" + secrets.token_hex(6),
                user,
                user,
                ban_type,
                seconds,
                _author(who["channel"], "Owner", isChatOwner=True),
            )
        )
        ban = {
            "kind": "youtube#liveChatBan",
            "etag": "e",
            "id": "banid-" + secrets.token_hex(4),
            "snippet": {
                "liveChatId": chat.chat_id,
                "type": ban_type,
                "bannedUserDetails": {"channelId": user},
            },
        }
        if seconds is not None:
            ban["snippet"]["banDurationSeconds"] = str(seconds)
        self._send(200, ban)
