"""Live fan-out to overlays, throttled and coalesced.

Groups (channel layer):
- ``overlay.<meeting>.featured`` / ``.ticker`` / ``.alerts``: the overlays of one kind of a meeting.
- ``overlays.removed``: every overlay socket. ``overlay.remove`` frames (ids of messages that
  must leave the screen) go here without any lookup, so a platform deletion or a moderator's
  "ignore" reaches every overlay at once.
- ``overlay.<id>``: one overlay (settings changed, token revoked).
- Meeting overlays also listen to polls' ``meeting.<id>`` and ``meeting.<id>.host`` groups and
  bots' ``alerts.<id>`` group (see consumers/overlay.py).

Throttle: per group at most one frame per ``OVERLAY_FRAME_INTERVAL_MS`` (default 100 ms, so ~10
frames/s). What arrives meanwhile is coalesced: removals merge their ids, ticker messages and
chat alerts are appended, and the featured state is recomputed once (one query) when it is sent.
The capture delay holds ticker messages and chat alerts back in memory; featured messages are
held back by ``featured_state`` (their ``received_at``) and re-sent when the first is released.

One hub per event loop (the web server's, the ingest worker's; tests run a loop per test).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import weakref
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from ingest.publish import publish

from . import services

log = logging.getLogger(__name__)

REMOVED_GROUP = "overlays.removed"
CONFIG_TTL = 5.0


def kind_group(meeting_id: int, kind: str) -> str:
    return f"overlay.{meeting_id}.{kind}"


def overlay_group(overlay_id: int) -> str:
    return f"overlay.{overlay_id}"


class Hub:
    def __init__(self):
        self.interval = getattr(settings, "OVERLAY_FRAME_INTERVAL_MS", 100) / 1000
        self.last_sent: dict[str, float] = {}
        self.pending: dict[str, dict] = {}
        self.flushers: dict[str, asyncio.Task] = {}
        self.release_timers: dict[int, asyncio.TimerHandle] = {}
        self.recently_removed: dict[int, float] = {}
        self.source_meetings: dict[int, list[int]] = {}
        self.delays: dict[int, int] = {}
        self.config_at = -1e9
        self.frames_sent = 0

    # --- coalescing ----------------------------------------------------------------------------
    def _queue(self, group: str, merge) -> None:
        self.pending[group] = merge(self.pending.get(group))
        task = self.flushers.get(group)
        if task is None or task.done():
            # A fresh context: a caller inside async_to_sync (a signal in a sync view) must not
            # leave its short-lived thread executor to this long-lived task.
            self.flushers[group] = asyncio.get_running_loop().create_task(
                self._flush(group), context=contextvars.Context()
            )

    async def _flush(self, group: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            while group in self.pending:
                wait = self.last_sent.get(group, -1e9) + self.interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                item = self.pending.pop(group)
                self.last_sent[group] = loop.time()
                frame = await self._render(group, item)
                if frame is not None:
                    await publish(group, frame)
                    self.frames_sent += 1
        except Exception:
            log.exception("overlay frame for %s failed", group)
        finally:
            if self.flushers.get(group) is asyncio.current_task():
                del self.flushers[group]

    async def _render(self, group: str, item: dict) -> dict | None:
        kind = item["kind"]
        if kind == "remove":
            return {"type": "overlay.remove", "ids": sorted(item["ids"])}
        if kind == "featured":
            state = await database_sync_to_async(services.featured_state)(item["meeting_id"])
            self._schedule_release(item["meeting_id"], state.get("release_at"))
            return {"type": "featured.state", **state}
        removed = self.recently_removed
        msgs = [m for m in item["messages"] if m["id"] not in removed]
        if not msgs:
            return None
        if kind == "ticker":
            return {"type": "ticker.messages", "meeting_id": item["meeting_id"], "messages": msgs}
        return {"type": "chat.alert", "meeting_id": item["meeting_id"], "messages": msgs}

    # --- public entry points (async) ------------------------------------------------------------
    def remove(self, ids: list[int]) -> None:
        if not ids:
            return
        now = time.monotonic()
        for i in ids:
            self.recently_removed[i] = now
        if len(self.recently_removed) > 10_000:  # keep ids for the longest capture delay
            cutoff = now - 700
            self.recently_removed = {k: t for k, t in self.recently_removed.items() if t > cutoff}
        self._queue(
            REMOVED_GROUP,
            lambda old: {"kind": "remove", "ids": (old["ids"] if old else set()) | set(ids)},
        )

    def featured(self, meeting_id: int) -> None:
        self._queue(
            kind_group(meeting_id, "featured"), lambda old: {"kind": "featured", "meeting_id": meeting_id}
        )

    def chat(self, meeting_id: int, kind: str, messages: list[dict], delay: float = 0) -> None:
        """Queue messages for the ticker ("ticker") or alerts ("alerts") after ``delay`` s."""
        if not messages:
            return
        if delay > 0:
            asyncio.get_running_loop().call_later(
                delay, self._release_held, meeting_id, kind, messages, context=contextvars.Context()
            )
            return
        group = kind_group(meeting_id, kind)
        self._queue(
            group,
            lambda old: {
                "kind": kind,
                "meeting_id": meeting_id,
                "messages": (old["messages"] if old else []) + messages,
            },
        )

    def _release_held(self, meeting_id: int, kind: str, messages: list[dict]) -> None:
        asyncio.get_running_loop().create_task(
            self._release_still_showable(meeting_id, kind, messages), context=contextvars.Context()
        )

    async def _release_still_showable(self, meeting_id: int, kind: str, messages: list[dict]):
        """The capture delay is over: put on air what is still showable. What happened meanwhile
        may have happened in ANOTHER process (a moderator's ignore in a web server while this
        worker held the message; recently_removed only knows this process), so ask the database:
        one query per held batch, not per message or per overlay."""
        try:
            ids = await database_sync_to_async(_still_showable)([m["id"] for m in messages])
        except Exception:
            log.exception("capture delay: could not re-check %d held messages", len(messages))
            return  # when in doubt, keep them off the air
        self.chat(meeting_id, kind, [m for m in messages if m["id"] in ids])

    def _schedule_release(self, meeting_id: int, release_at: str | None) -> None:
        old = self.release_timers.pop(meeting_id, None)
        if old is not None:
            old.cancel()
        if not release_at:
            return
        seconds = (datetime.fromisoformat(release_at) - timezone.now()).total_seconds() + 0.05
        loop = asyncio.get_running_loop()
        self.release_timers[meeting_id] = loop.call_later(
            max(seconds, 0.05), self.featured, meeting_id, context=contextvars.Context()
        )

    # --- which meetings a chat source belongs to (cached, refreshed every CONFIG_TTL) -----------
    async def config(self) -> tuple[dict[int, list[int]], dict[int, int]]:
        now = time.monotonic()
        if now - self.config_at > CONFIG_TTL:
            self.source_meetings, self.delays = await database_sync_to_async(_load_config)()
            self.config_at = now
        return self.source_meetings, self.delays

    def forget_config(self) -> None:
        self.config_at = -1e9


def _still_showable(ids: list[int]) -> set[int]:
    from ingest.models import ChatMessage, MessageStatus, PlatformState

    return set(
        ChatMessage.objects.filter(pk__in=ids, platform_state=PlatformState.VISIBLE)
        .exclude(status=MessageStatus.IGNORED)
        .values_list("pk", flat=True)
    )


def _load_config():
    from polls.models import Meeting

    from .models import DisplaySettings

    pairs = Meeting.sources.through.objects.values_list("chatsource_id", "meeting_id")
    by_source: dict[int, list[int]] = {}
    for sid, mid in pairs:
        by_source.setdefault(sid, []).append(mid)
    delays = dict(DisplaySettings.objects.values_list("meeting_id", "capture_delay_seconds"))
    return by_source, delays


_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hub() -> Hub:
    loop = asyncio.get_running_loop()
    h = _hubs.get(loop)
    if h is None:
        h = _hubs[loop] = Hub()
    return h


# --- pipeline listener (settings.CHORUS_PIPELINE_LISTENERS) -------------------------------------
async def on_batch(stored) -> None:
    """Stored chat -> tickers and alerts (after the capture delay); platform removals -> every
    overlay at once."""
    h = hub()
    removed = [a["id"] for ev in stored.moderation for a in ev.get("affected", [])]
    if removed:
        h.remove(removed)
    if not stored.messages and not removed:
        return
    by_source, delays = await h.config()
    if removed:
        for mid in {m for ev in stored.moderation for m in by_source.get(ev["source_id"], [])}:
            h.featured(mid)
    per_meeting: dict[int, list[dict]] = {}
    for d in stored.messages:
        for mid in by_source.get(d["source_id"], []):
            per_meeting.setdefault(mid, []).append(services.overlay_message(d))
    for mid, msgs in per_meeting.items():
        delay = delays.get(mid, 0)
        h.chat(mid, "ticker", msgs, delay)
        h.chat(mid, "alerts", [m for m in msgs if m["kind"] in services.ALERT_KINDS], delay)


# --- sync entry points (signals, views): run on the server's event loop --------------------------
async def _message_changed(message: dict, meetings: list[int], removed: bool, approved: bool):
    h = hub()
    if removed:
        h.remove([message["id"]])
    for mid in meetings:
        h.featured(mid)
        if approved and not removed:
            h.chat(mid, "ticker", [message])


def message_changed(message: dict, meetings: list[int], *, removed: bool, approved: bool) -> None:
    async_to_sync(_message_changed)(message, meetings, removed, approved)


async def _featured_changed(meeting_id: int):
    h = hub()
    h.forget_config()
    h.featured(meeting_id)


def featured_changed(meeting_id: int) -> None:
    async_to_sync(_featured_changed)(meeting_id)


async def _overlay_changed(overlay_id: int, frame: dict | None, close: bool):
    if frame is not None:
        await publish(overlay_group(overlay_id), frame)
    if close:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is not None:
            await layer.group_send(overlay_group(overlay_id), {"type": "overlay.close"})


def overlay_changed(overlay_id: int, *, frame: dict | None = None, close: bool = False) -> None:
    """Settings changed (frame) or the token was revoked/regenerated (close the sockets)."""
    async_to_sync(_overlay_changed)(overlay_id, frame, close)
