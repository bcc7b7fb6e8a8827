"""The meeting ends by itself at ``ends_at`` (its window, polls/window.py).

Like the question timers of polls/live.py: one timer per meeting and event loop (a process), set
when the window changes (``publish_window``) and re-armed after a restart by the first socket of
the meeting (``ensure``, called from the consumers' hello). When it fires, ``end_if_over`` ends the
meeting if its window is really over (idempotent: several processes may each have a timer) and
publishes the new state; if the end was moved later meanwhile, the timer is set again. Writes also
check the window lazily (polls/services.py), so a meeting whose timer never fired is ended by the
first write after ``ends_at``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import datetime

from django.utils import timezone

from . import live, services
from .aio import db as database_sync_to_async
from .models import Meeting

log = logging.getLogger(__name__)

# Fire a little after ends_at, so the database clock check (now >= ends_at) is true.
SLACK = 0.05

_timers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _loop_timers() -> dict[int, asyncio.TimerHandle]:
    loop = asyncio.get_running_loop()
    timers = _timers.get(loop)
    if timers is None:
        timers = _timers[loop] = {}
    return timers


def arm(meeting_id: int, ends_at: datetime | str | None) -> None:
    """(Re)schedule the end of the meeting at ``ends_at``; cancel it when there is none."""
    timers = _loop_timers()
    old = timers.pop(meeting_id, None)
    if old is not None:
        old.cancel()
    if not ends_at:
        return
    if isinstance(ends_at, str):
        ends_at = datetime.fromisoformat(ends_at)
    seconds = max((ends_at - timezone.now()).total_seconds(), 0) + SLACK

    def fire():
        if timers.get(meeting_id) is handle:
            del timers[meeting_id]
        asyncio.ensure_future(_fired(meeting_id))

    handle = asyncio.get_running_loop().call_later(seconds, fire)
    timers[meeting_id] = handle


def ensure(meeting_id: int, state: dict) -> None:
    """A socket connected (hello): arm the end timer if this process has none for the meeting."""
    ends_at = state["meeting"].get("ends_at")
    if ends_at and state["meeting"]["state"] != "after" and meeting_id not in _loop_timers():
        arm(meeting_id, ends_at)


def armed(meeting_id: int) -> bool:
    return meeting_id in _loop_timers()


async def end_if_over(meeting_id: int) -> bool:
    """End the meeting if its window is over and publish the new state (to participants and
    dashboards, like any state change). Idempotent; True if this call ended it."""
    try:
        m = await database_sync_to_async(services.end_if_over)(meeting_id)
    except Meeting.DoesNotExist:
        return False
    if m is None:
        return False
    await live.publish_state(meeting_id)
    return True


async def _fired(meeting_id: int) -> None:
    try:
        if await end_if_over(meeting_id):
            return
        # Not over: the end was moved later behind this process's back (another process, the
        # admin of another server). Follow it.
        row = await database_sync_to_async(
            lambda: Meeting.objects.filter(pk=meeting_id).values("ends_at").first()
        )()
        if row and row["ends_at"] and row["ends_at"] > timezone.now() and not armed(meeting_id):
            arm(meeting_id, row["ends_at"])
    except Exception:
        log.exception("the end of meeting %s at its window failed", meeting_id)


async def publish_window_async(meeting_id: int) -> None:
    state = await live.publish_state(meeting_id)
    arm(meeting_id, state["meeting"]["ends_at"])
    if state["meeting"]["ends_at"]:
        # An end already in the past ends the meeting now.
        await end_if_over(meeting_id)


def publish_window(meeting_id: int) -> None:
    """From sync code (the dashboard's window form, the admin) after the window changed: publish
    the state and (re)arm the end timer. Under the ASGI server this runs on the server's event
    loop, so the timer lives there."""
    from asgiref.sync import async_to_sync

    async_to_sync(publish_window_async)(meeting_id)
