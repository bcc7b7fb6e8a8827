"""TikTok LIVE through TikTokLive (unofficial client; needs a sign server).

One source = one @handle. While the user is not live the adapter checks again at
TIKTOK_OFFLINE_CHECK_SECONDS, doubling up to TIKTOK_OFFLINE_CHECK_MAX_SECONDS, and shows
"offline"; when they go live it connects. A missing or refusing sign server is a clear failed
state (FatalAdapterError: retried slowly), not a crash loop. A dropped websocket raises, so the
supervisor reconnects with backoff; TikTok re-sends recent messages on connect, and they are
deduplicated by message id.

Every endpoint is configurable (TIKTOK_APP_URL, TIKTOK_WEBCAST_URL, TIKTOK_SIGN_API_URL,
TIKTOK_SIGN_API_KEY) so tests run the real client against a local fake (tests/fakes/tiktok.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from django.conf import settings

from ..events import ChatEvent, Kind
from ..tiktok import mapping
from .base import Adapter, AdapterError, FatalAdapterError, register

log = logging.getLogger(__name__)


def normalize_handle(identifier: str) -> str:
    handle = identifier.strip()
    for prefix in (
        "https://www.tiktok.com/",
        "https://tiktok.com/",
        "www.tiktok.com/",
        "tiktok.com/",
    ):
        if handle.startswith(prefix):
            handle = handle[len(prefix) :]
    handle = handle.split("/")[0].split("?")[0]
    return handle.lstrip("@")


def _configure_library() -> None:
    from TikTokLive.client.web.web_settings import WebDefaults

    WebDefaults.tiktok_app_url = settings.TIKTOK_APP_URL.rstrip("/")
    WebDefaults.tiktok_webcast_url = settings.TIKTOK_WEBCAST_URL.rstrip("/")
    WebDefaults.tiktok_sign_url = settings.TIKTOK_SIGN_API_URL.rstrip("/")
    WebDefaults.tiktok_sign_api_key = settings.TIKTOK_SIGN_API_KEY or None


class _LikeWindow:
    def __init__(self):
        self.count = 0
        self.total = 0
        self.users: set[int] = set()
        self.first_id = ""

    def add(self, event) -> None:
        self.count += int(event.count or 0)
        self.total = max(self.total, int(event.total or 0))
        if event.user is not None:
            self.users.add(event.user.id)
        if not self.first_id and event.common is not None:
            self.first_id = str(event.common.msg_id)


@register
class TikTokAdapter(Adapter):
    platform = "tiktok"

    def make_client(self, handle: str):
        from TikTokLive import TikTokLiveClient

        _configure_library()
        return TikTokLiveClient(
            unique_id=f"@{handle}",
            web_kwargs={
                "signer_kwargs": {
                    "sign_api_base": settings.TIKTOK_SIGN_API_URL.rstrip("/"),
                    "sign_api_key": settings.TIKTOK_SIGN_API_KEY or None,
                }
            },
        )

    async def run(self) -> None:
        from TikTokLive.client.errors import (
            SignAPIError,
            SignatureRateLimitError,
            UserNotFoundError,
            UserOfflineError,
        )

        handle = normalize_handle(self.source.identifier)
        if not handle:
            raise FatalAdapterError("a TikTok source needs a @handle as its identifier")
        delay = settings.TIKTOK_OFFLINE_CHECK_SECONDS
        while True:
            client = self.make_client(handle)
            queue: asyncio.Queue[ChatEvent | None] = asyncio.Queue()
            session = {"ended": False, "room_id": 0}
            likes = _LikeWindow()
            self._listen(client, queue, session, likes)
            try:
                self.status.note(f"checking whether @{handle} is live")
                task = await client.start(fetch_live_check=True)
            except UserOfflineError:
                await self._close(client)
                self.status.offline(f"@{handle} is not live; next check in {delay:.0f} s")
                await asyncio.sleep(delay)
                delay = min(delay * 2, settings.TIKTOK_OFFLINE_CHECK_MAX_SECONDS)
                continue
            except UserNotFoundError as exc:
                await self._close(client)
                raise FatalAdapterError(f"@{handle}: {exc}") from exc
            except SignatureRateLimitError as exc:
                await self._close(client)
                raise FatalAdapterError(f"the sign server refused: rate limited ({exc})") from exc
            except SignAPIError as exc:
                await self._close(client)
                raise FatalAdapterError(
                    f"the sign server at {settings.TIKTOK_SIGN_API_URL} failed: {exc}"
                ) from exc
            except Exception:
                await self._close(client)
                raise
            delay = settings.TIKTOK_OFFLINE_CHECK_SECONDS
            session["room_id"] = client.room_id
            self.status.connected(f"@{handle} is live (room {client.room_id})")
            pump = asyncio.create_task(
                self._pump(queue, mapping.stream_start(client.room_id, handle))
            )
            flusher = asyncio.create_task(self._flush_likes(likes, session))
            try:
                await task
            finally:
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
                await self._emit_likes(likes, session)
                queue.put_nowait(None)
                await pump
                await self._close(client)
            if session["ended"]:
                await self.emit(mapping.stream_end(session["room_id"]))
                self.status.offline(f"@{handle}'s live ended; next check in {delay:.0f} s")
                await asyncio.sleep(delay)  # TikTok may still list the room as live for a moment
                continue
            raise AdapterError("the TikTok websocket closed")

    def _listen(self, client, queue, session, likes) -> None:
        from TikTokLive.events import (
            CommentEvent,
            FollowEvent,
            GiftEvent,
            LikeEvent,
            LiveEndEvent,
            ShareEvent,
        )

        def safe(fn):
            def handler(event):
                try:
                    out = fn(event)
                except Exception:
                    log.warning(
                        "skipping a malformed TikTok %s: %r",
                        type(event).__name__,
                        event,
                        exc_info=True,
                    )
                    return
                if out is not None:
                    queue.put_nowait(out)

            return handler

        def on_like(event):
            likes.add(event)

        def on_end(event):
            session["ended"] = True

        client.add_listener(CommentEvent, safe(mapping.comment))
        client.add_listener(GiftEvent, safe(mapping.gift))
        client.add_listener(FollowEvent, safe(lambda e: mapping.social(e, Kind.FOLLOW)))
        client.add_listener(ShareEvent, safe(lambda e: mapping.social(e, Kind.SHARE)))
        client.add_listener(LikeEvent, on_like)
        client.add_listener(LiveEndEvent, on_end)

    async def _pump(self, queue, start: ChatEvent) -> None:
        """Emit the session start, then the events in order.

        TikTok re-sends the last messages of the live on connect; the session cannot have started
        after them, so its start is the earliest of now and those messages.
        """
        first = []
        with contextlib.suppress(TimeoutError):
            first.append(await asyncio.wait_for(queue.get(), 0.5))
        while not queue.empty():
            first.append(queue.get_nowait())
        times = [e.sent_at for e in first if e is not None]
        if times:
            start.sent_at = min(min(times), start.sent_at)
        await self.emit(start)
        for event in first:
            if event is None:
                return
            await self.emit(event)
        while True:
            event = await queue.get()
            if event is None:
                return
            await self.emit(event)

    async def _flush_likes(self, likes: _LikeWindow, session) -> None:
        while True:
            await asyncio.sleep(settings.TIKTOK_LIKE_FLUSH_SECONDS)
            await self._emit_likes(likes, session)

    async def _emit_likes(self, likes: _LikeWindow, session) -> None:
        if likes.count <= 0:
            return
        event = mapping.likes(
            session["room_id"], likes.first_id or "0", likes.count, likes.total, len(likes.users)
        )
        likes.count, likes.users, likes.first_id = 0, set(), ""
        await self.emit(event)

    async def _close(self, client) -> None:
        with contextlib.suppress(Exception):
            await client.disconnect()
        with contextlib.suppress(Exception):
            await client.web.close()
