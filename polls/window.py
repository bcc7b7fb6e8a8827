"""The meeting's start/end window (Meeting.starts_at / ends_at) as plain functions (no database).

- No window (both empty) = no restriction. Either end may be open (only a start, only an end).
- Before ``starts_at``: participants cannot join, answer or capture flags (``not_started``); the
  host cannot run the meeting (every state command but ``end`` is refused with ``not_started``).
- From ``ends_at`` on the meeting is over: it ends by itself (a timer, polls/live.py) and every
  write checks it lazily as well (a write after ``ends_at`` ends the meeting and is refused).
- ``ends_at`` must be after ``starts_at``.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

NOT_STARTED = "not_started"
OPEN = "open"
ENDED = "ended"


def window_error(starts_at: datetime | None, ends_at: datetime | None) -> str | None:
    """The validation message of a window, or None when it is valid."""
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        return "the end must be after the start"
    return None


def phase(starts_at: datetime | None, ends_at: datetime | None, now: datetime) -> str:
    """``not_started`` before the start, ``ended`` from the end on, else ``open``."""
    if ends_at is not None and now >= ends_at:
        return ENDED
    if starts_at is not None and now < starts_at:
        return NOT_STARTED
    return OPEN


def format_time(dt: datetime) -> str:
    """A window time for a message: local time of the server (TIME_ZONE) with its zone."""
    local = timezone.localtime(dt)
    return local.strftime("%Y-%m-%d %H:%M %Z").strip()


def not_started_message(starts_at: datetime) -> str:
    return f"this meeting opens at {format_time(starts_at)}"


def host_not_started_message(starts_at: datetime) -> str:
    return (
        f"this meeting opens at {format_time(starts_at)}; to run it now, change its start time "
        "(dashboard: Window, or the admin)"
    )


def ended_message(ends_at: datetime | None) -> str:
    if ends_at is None:
        return "this meeting has ended"
    return f"this meeting ended at {format_time(ends_at)}"


def host_ended_message(ends_at: datetime) -> str:
    return (
        f"this meeting ended at {format_time(ends_at)} (its window); to continue, change its end "
        "time (dashboard: Window, or the admin)"
    )
