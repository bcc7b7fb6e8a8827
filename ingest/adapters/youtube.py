"""YouTube Live chat: poll liveChatMessages.list at the pace YouTube asks for, within the budget.

Source: ChatSource(platform="youtube", identifier=<video id>) -- a URL is normalized to the id --
or identifier "mine" for the connected account's active broadcast (liveBroadcasts.list).
Settings (ChatSource.settings, all optional): ``expected_hours`` (stream length the daily quota
is spread over), ``min_poll_seconds``, ``offline_check_seconds``, ``metadata_refresh_seconds``.

Pacing: the next call waits max(pollingIntervalMillis, YOUTUBE_MIN_POLL_SECONDS, the quota
budget's interval) after the previous response; never a fixed sleep. Resume: the cursor is
``{"chat": liveChatId, "page": nextPageToken}`` on the LAST event of each page, and the
pipeline stores it only once that page's events are stored, so a restart continues from the
next page without duplicates or gaps. A quota error stops polling until midnight Pacific;
rate limits, 5xx and network errors retry the same page token with exponential backoff and
jitter; an ended/missing/disabled chat ends the session (with the reason) and drops to a slow
"is it live again" check.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from ..events import ChatEvent, Kind, SessionInfo
from ..models import ChatSource
from ..supervisor import backoff_delay
from ..youtube import oauth, quota, signals  # noqa: F401 (URL -> video id on save)
from ..youtube.client import (
    AuthError,
    ChatUnavailable,
    NeedsReconnect,
    QuotaExceeded,
    ScopeError,
    TransientError,
    YouTubeClient,
)
from ..youtube.mapping import MalformedItem, map_item, normalize_video_id, parse_time
from .base import Adapter, FatalAdapterError, register

log = logging.getLogger(__name__)
STATUS_EVERY = 15.0  # seconds between status-detail updates while polling


@dataclass
class LiveInfo:
    chat_id: str
    session_id: str
    title: str = ""
    viewers: int | None = None
    started_at: datetime | None = None


def _parse_cursor(cursor: str) -> dict:
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@register
class YouTubeAdapter(Adapter):
    platform = "youtube"

    def __init__(
        self,
        source,
        emit,
        *,
        cursor: str = "",
        status=None,
        max_polls: int | None = None,
        min_interval: float | None = None,
        metadata_refresh_seconds: float | None = None,
        progress=None,
    ):
        super().__init__(source, emit, cursor=cursor, status=status)
        opts = source.settings or {}
        self.max_polls = max_polls
        self.min_interval = float(
            min_interval
            if min_interval is not None
            else opts.get("min_poll_seconds", settings.YOUTUBE_MIN_POLL_SECONDS)
        )
        self.offline_check = float(
            opts.get("offline_check_seconds", settings.YOUTUBE_OFFLINE_CHECK_SECONDS)
        )
        self.metadata_refresh = float(
            metadata_refresh_seconds
            if metadata_refresh_seconds is not None
            else opts.get("metadata_refresh_seconds", settings.YOUTUBE_METADATA_REFRESH_SECONDS)
        )
        self.expected_hours = float(
            opts.get("expected_hours", settings.YOUTUBE_EXPECTED_STREAM_HOURS)
        )
        self.progress = progress
        self.client: YouTubeClient | None = None
        self._token: str | None = None
        self.polls = 0
        self.messages = 0
        self.interval = 0.0
        self.quota_used = 0
        self.last_detail = ""
        self._start_count = 0
        self.end_reason = ""
        self._stop = False

    # --- plumbing -----------------------------------------------------------------------------
    def _report(self, text: str) -> None:
        self.last_detail = text
        if self.progress:
            self.progress(text)

    def _done(self) -> bool:
        return self._stop or (self.max_polls is not None and self.polls >= self.max_polls)

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)

    async def _make_client(self) -> YouTubeClient:
        try:
            kwargs = await sync_to_async(oauth.client_kwargs)(self.source.account_id)
        except NeedsReconnect as exc:
            raise FatalAdapterError(str(exc)) from exc
        # Building parses the bundled discovery document: not on the event loop.
        client = await asyncio.to_thread(lambda: YouTubeClient(**kwargs))
        self._token = client.credentials.token if client.credentials is not None else None
        return client

    def _after_call_sync(self, method: str) -> int:
        used = quota.charge(method)
        self._token = oauth.persist_if_refreshed(self.client, self._token)
        return used

    async def _call(self, method: str, fn, *args):
        """Run one blocking API call in a thread; charge it; keep a refreshed token."""
        try:
            return await asyncio.to_thread(fn, *args)
        except NeedsReconnect as exc:
            if self.client.account_id:
                await sync_to_async(oauth.mark_needs_reconnect)(self.client.account_id, str(exc))
            raise FatalAdapterError(f"reconnect YouTube: {exc}") from exc
        except (AuthError, ScopeError) as exc:
            if self.client.account_id and isinstance(exc, AuthError):
                await sync_to_async(oauth.mark_needs_reconnect)(self.client.account_id, str(exc))
            raise FatalAdapterError(str(exc)) from exc
        finally:
            self.quota_used = await sync_to_async(self._after_call_sync)(method)

    async def _emit_many(self, events: list[ChatEvent], cursor: dict) -> None:
        if not events:
            return
        events[-1].cursor = json.dumps(cursor, separators=(",", ":"))
        for ev in events:
            await self.emit(ev)
            if ev.is_message:
                self.messages += 1

    # --- live detection -----------------------------------------------------------------------
    async def _resolve(self) -> LiveInfo | None:
        """The active chat of the video (or of my active broadcast), or None if not live."""
        ident = self.source.identifier.strip()
        if ident.lower() == "mine":
            if self.client.mode != "oauth":
                raise FatalAdapterError("'mine' needs a connected YouTube account (OAuth)")
            b = await self._call("liveBroadcasts.list", self.client.my_active_broadcast)
            if not b or not (b.get("snippet") or {}).get("liveChatId"):
                return None
            snip = b["snippet"]
            return LiveInfo(
                chat_id=snip["liveChatId"],
                session_id=str(b.get("id") or snip["liveChatId"]),
                title=str(snip.get("title") or ""),
                started_at=parse_time(snip.get("actualStartTime")),
            )
        try:
            video_id = normalize_video_id(ident)
        except ValueError as exc:
            raise FatalAdapterError(str(exc)) from exc
        video = await self._call("videos.list", self.client.video, video_id)
        if video is None:
            raise FatalAdapterError(f"YouTube video {video_id} not found (private or deleted?)")
        details = video.get("liveStreamingDetails") or {}
        chat_id = details.get("activeLiveChatId")
        if not chat_id:
            return None
        return LiveInfo(
            chat_id=chat_id,
            session_id=video_id,
            title=str((video.get("snippet") or {}).get("title") or ""),
            viewers=_int_or_none(details.get("concurrentViewers")),
            started_at=parse_time(details.get("actualStartTime")),
        )

    async def _emit_start(self, live: LiveInfo) -> None:
        self._start_count += 1
        now = timezone.now()
        await self.emit(
            ChatEvent(
                kind=Kind.STREAM_START,
                platform=self.platform,
                id=f"{live.session_id}:start:{live.chat_id}:{int(now.timestamp() * 1000)}"[:255],
                session=SessionInfo(
                    platform_session_id=live.session_id,
                    title=live.title[:500],
                    viewer_count=live.viewers,
                ),
                sent_at=live.started_at or now,
                extra={"live_chat_id": live.chat_id},
            )
        )

    async def _emit_end(self, live: LiveInfo, reason: str, at: datetime | None, cursor: dict):
        ev = ChatEvent(
            kind=Kind.STREAM_END,
            platform=self.platform,
            id=f"{live.session_id}:end:{live.chat_id}"[:255],
            session=SessionInfo(platform_session_id=live.session_id, reason=reason[:255]),
            sent_at=at or timezone.now(),
            extra={"live_chat_id": live.chat_id},
        )
        await self._emit_many([ev], {**cursor, "ended": True})

    # --- quota --------------------------------------------------------------------------------
    async def _wait_for_quota(self) -> bool:
        """Sleep while the quota is exhausted (re-checking, another process may see a reset)."""
        until = await sync_to_async(quota.blocked_until)()
        if until is None:
            return False
        local = until.astimezone(quota.PACIFIC)
        self.status.offline(
            f"YouTube quota exhausted ({self.quota_used:,}/{settings.YOUTUBE_DAILY_QUOTA:,} "
            f"units); polling resumes at {local:%H:%M} Pacific ({until.astimezone(UTC):%H:%M} UTC)"
        )
        self._report(f"quota exhausted; polling resumes at {until.isoformat()}")
        if self.max_polls is not None:
            self._stop = True  # a bounded run (command) stops instead of sleeping for hours
            return True
        await self._sleep(min(max((until - timezone.now()).total_seconds(), 1.0), 60.0))
        return True

    def _plan_sync(self, live: LiveInfo, session_started: datetime | None) -> tuple[float, str]:
        now = timezone.now()
        budget = quota.budget_interval(
            used=self.quota_used,
            now=now,
            session_started_at=session_started,
            expected_hours=self.expected_hours,
            pollers=quota.active_pollers(),
        )
        return budget, quota.describe(now)

    def _save_state_sync(self, live: LiveInfo, interval: float) -> None:
        src = ChatSource.objects.filter(pk=self.source.id).only("state").first()
        if src is None:
            return
        state = dict(src.state or {})
        state["youtube"] = {
            "live_chat_id": live.chat_id,
            "session_id": live.session_id,
            "interval_seconds": round(interval, 3) if math.isfinite(interval) else None,
            "last_poll_at": timezone.now().isoformat(),
            "polls": self.polls,
        }
        ChatSource.objects.filter(pk=self.source.id).update(state=state)

    # --- the main loop ------------------------------------------------------------------------
    async def run(self) -> None:
        self.client = await self._make_client()
        ended_chat = _parse_cursor(self.cursor)
        ended_chat = ended_chat.get("chat") if ended_chat.get("ended") else None
        failures = 0
        while True:
            if await self._wait_for_quota():
                if self._done():
                    return
                continue
            try:
                live = await self._resolve()
            except QuotaExceeded:
                await sync_to_async(quota.mark_exhausted)("quotaExceeded")
                continue
            except TransientError as exc:
                failures += 1
                delay = backoff_delay(
                    failures, settings.INGEST_BACKOFF_INITIAL, settings.INGEST_BACKOFF_MAX
                )
                self.status.note(f"{exc}; retrying in {delay:.1f} s")
                await self._sleep(delay)
                continue
            failures = 0
            if live is None or live.chat_id == ended_chat:
                what = "not live"
                if self.end_reason:
                    what = f"session ended: {self.end_reason}"
                elif live is not None:
                    what = "stream ended"
                self.status.offline(
                    f"{what}; checking every {self.offline_check:g} s whether it is live again"
                )
                self._report(f"{self.source.identifier}: {what}")
                if self.max_polls is not None:
                    return
                await self._sleep(self.offline_check)
                continue
            await self._emit_start(live)
            self.end_reason = ""
            ended_chat = await self._poll_chat(live)
            if ended_chat is None or self._done():
                return

    async def _poll_chat(self, live: LiveInfo) -> str | None:
        """Poll one live chat until it ends (returns its id) or max_polls (returns None)."""
        stored = _parse_cursor(self.cursor)
        page = stored.get("page", "") if stored.get("chat") == live.chat_id else ""
        attempt = 0
        next_at = 0.0
        last_meta = time.monotonic()
        session_started = live.started_at
        detail_due = 0.0
        self.status_state = ""
        while True:
            await self._sleep(next_at - time.monotonic())
            if await self._wait_for_quota():
                if self._done():
                    return None
                continue
            if self.metadata_refresh >= 0 and time.monotonic() - last_meta >= self.metadata_refresh:
                last_meta = time.monotonic()
                try:
                    fresh = await self._resolve()
                except (TransientError, QuotaExceeded):
                    fresh = live
                if fresh is None or fresh.chat_id != live.chat_id:
                    await self._emit_end(
                        live, "stream ended", None, {"chat": live.chat_id, "page": page}
                    )
                    self.end_reason = "stream ended"
                    return live.chat_id
                if fresh.viewers != live.viewers or fresh.title != live.title:
                    live = fresh
                    await self._emit_start(live)
            try:
                response = await self._call(
                    "liveChatMessages.list", self.client.list_messages, live.chat_id, page
                )
            except QuotaExceeded:
                until = await sync_to_async(quota.mark_exhausted)("quotaExceeded")
                log.warning("YouTube quota exceeded; polling stops until %s", until)
                continue
            except TransientError as exc:
                attempt += 1
                delay = backoff_delay(
                    attempt, settings.INGEST_BACKOFF_INITIAL, settings.INGEST_BACKOFF_MAX
                )
                self.status.note(
                    f"{exc}; retrying the same page in {delay:.1f} s (attempt {attempt})"
                )
                log.warning("youtube %s: %s; retry %d in %.1f s", live.chat_id, exc, attempt, delay)
                next_at = time.monotonic() + delay
                continue
            except ChatUnavailable as exc:
                reason = self.end_reason = str(exc)
                await self._emit_end(live, reason, None, {"chat": live.chat_id, "page": page})
                self.status.offline(
                    f"session ended: {reason}; checking every {self.offline_check:g} s whether "
                    "it is live again"
                )
                self._report(f"session ended: {reason}")
                return live.chat_id
            received = time.monotonic()
            attempt = 0
            self.polls += 1
            events, end_event = [], None
            for raw in response.get("items") or []:
                try:
                    ev = map_item(raw)
                except MalformedItem as exc:
                    log.warning(
                        "skipping a malformed YouTube item in %s: %s: %.500r",
                        live.chat_id,
                        exc,
                        raw,
                    )
                    continue
                if ev is None:
                    continue
                if ev.kind == Kind.STREAM_END:
                    ev.session = SessionInfo(
                        platform_session_id=live.session_id, reason="chat ended"
                    )
                    end_event = end_event or ev
                    continue
                events.append(ev)
            page = response.get("nextPageToken") or page
            cursor = {"chat": live.chat_id, "page": page}
            offline_at = response.get("offlineAt")
            if end_event is None and offline_at:
                end_event = ChatEvent(
                    kind=Kind.STREAM_END,
                    platform=self.platform,
                    id=f"{live.session_id}:offline:{live.chat_id}"[:255],
                    session=SessionInfo(
                        platform_session_id=live.session_id, reason="stream went offline"
                    ),
                    sent_at=parse_time(offline_at) or timezone.now(),
                    extra={"live_chat_id": live.chat_id, "offline_at": offline_at},
                )
            if end_event is not None:
                await self._emit_many(events, cursor)
                await self._emit_many([end_event], {**cursor, "ended": True})
                reason = end_event.session.reason if end_event.session else "chat ended"
                self.end_reason = reason
                self.status.offline(
                    f"session ended: {reason}; checking every {self.offline_check:g} s whether "
                    "it is live again"
                )
                self._report(f"poll {self.polls}: {len(events)} events; session ended: {reason}")
                return live.chat_id
            await self._emit_many(events, cursor)
            youtube_ms = _int_or_none(response.get("pollingIntervalMillis")) or 0
            budget, quota_text = await sync_to_async(self._plan_sync)(live, session_started)
            self.interval = max(youtube_ms / 1000, self.min_interval, budget)
            await sync_to_async(self._save_state_sync)(live, self.interval)
            if math.isinf(self.interval):
                self.interval = 60.0  # _wait_for_quota takes over on the next round
            detail = (
                f"live chat: {self.messages} messages; next poll in {self.interval:.1f} s "
                f"(YouTube asks {youtube_ms / 1000:g} s); {quota_text}"
            )
            if detail_due <= time.monotonic() or self.status_state != "connected":
                # Throttled: a status change is a DB write and a dashboard frame.
                self.status.connected(detail)
                self.status_state = "connected"
                detail_due = time.monotonic() + STATUS_EVERY
            self._report(f"poll {self.polls}: {len(events)} new events; {detail}")
            if self._done():
                return None
            next_at = received + self.interval
