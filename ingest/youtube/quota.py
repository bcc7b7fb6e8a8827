"""The YouTube Data API daily quota: count every call, spread the budget, show what is left.

The quota (YOUTUBE_DAILY_QUOTA units, default 10,000) belongs to the Google Cloud project and
resets at midnight Pacific time. Usage is stored in the database (QuotaUsage), so every process
sees the same numbers. Chat polling may spend everything except YOUTUBE_QUOTA_RESERVE units,
which are kept for sending and moderating.

Costs per call (docs: developers.google.com/youtube/v3/determine_quota_cost; adjust COSTS if
Google changes them). Every request costs its units even when it fails.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..models import ChatSource, Platform, PlatformAccount, QuotaUsage

PACIFIC = ZoneInfo("America/Los_Angeles")
COSTS = {
    "videos.list": 1,
    "channels.list": 1,
    "liveBroadcasts.list": 1,
    "liveChatMessages.list": 5,
    "liveChatMessages.insert": 20,
    "liveChatMessages.delete": 20,
    "liveChatBans.insert": 50,
    "liveChatBans.delete": 50,
}
LIST_COST = COSTS["liveChatMessages.list"]
MIN_HORIZON = timedelta(minutes=15)


def quota_day(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(PACIFIC).date()


def reset_at(now: datetime | None = None) -> datetime:
    """The next midnight Pacific (DST-aware), as an aware UTC datetime."""
    local = (now or timezone.now()).astimezone(PACIFIC)
    tomorrow = local.date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=PACIFIC).astimezone(UTC)


def _row(now: datetime) -> QuotaUsage:
    day = quota_day(now)
    row = QuotaUsage.objects.filter(platform=Platform.YOUTUBE, day=day).first()
    if row is None:
        try:
            with transaction.atomic():
                row = QuotaUsage.objects.create(platform=Platform.YOUTUBE, day=day)
        except IntegrityError:  # another process created it first
            row = QuotaUsage.objects.get(platform=Platform.YOUTUBE, day=day)
    return row


def charge(method: str, calls: int = 1, now: datetime | None = None) -> int:
    """Count ``calls`` calls of ``method``; returns the units used today so far."""
    now = now or timezone.now()
    row = _row(now)
    units = COSTS.get(method, 1) * calls
    QuotaUsage.objects.filter(pk=row.pk).update(
        units=F("units") + units, calls=F("calls") + calls, updated_at=now
    )
    return row.units + units


def mark_exhausted(reason: str = "quotaExceeded", now: datetime | None = None) -> datetime:
    """Google said the quota is spent: block until the reset. Returns the reset time."""
    now = now or timezone.now()
    until = reset_at(now)
    row = _row(now)
    QuotaUsage.objects.filter(pk=row.pk).update(
        exhausted_until=until, exhausted_reason=reason[:255], updated_at=now
    )
    return until


def blocked_until(method: str = "liveChatMessages.list", now: datetime | None = None):
    """When calls of ``method`` may resume, or None if they may run now.

    Reads stop YOUTUBE_QUOTA_RESERVE units before the limit; writes may use the reserve.
    """
    now = now or timezone.now()
    row = QuotaUsage.objects.filter(platform=Platform.YOUTUBE, day=quota_day(now)).first()
    if row is None:
        return None
    if row.exhausted_until and row.exhausted_until > now:
        return row.exhausted_until
    reserve = 0 if method.endswith(("insert", "delete")) else settings.YOUTUBE_QUOTA_RESERVE
    if row.units + COSTS.get(method, 1) > settings.YOUTUBE_DAILY_QUOTA - reserve:
        return reset_at(now)
    return None


def budget_interval(
    *,
    used: int,
    now: datetime,
    session_started_at: datetime | None = None,
    expected_hours: float | None = None,
    pollers: int = 1,
    limit: int | None = None,
    reserve: int | None = None,
) -> float:
    """Seconds between chat polls so today's remaining budget lasts the expected stream.

    The stream is expected to run ``expected_hours`` from its start (at least 15 more minutes);
    the budget only needs to last until the reset at midnight Pacific. ``pollers`` sources share
    the budget. Returns math.inf when nothing is left.
    """
    limit = settings.YOUTUBE_DAILY_QUOTA if limit is None else limit
    reserve = settings.YOUTUBE_QUOTA_RESERVE if reserve is None else reserve
    hours = settings.YOUTUBE_EXPECTED_STREAM_HOURS if expected_hours is None else expected_hours
    start = session_started_at or now
    end = max(start + timedelta(hours=hours), now + MIN_HORIZON)
    end = min(end, reset_at(now))
    horizon = max((end - now).total_seconds(), 1.0)
    remaining = limit - reserve - used
    calls = remaining / LIST_COST / max(pollers, 1)
    if calls < 1:
        return math.inf
    return horizon / calls


def active_pollers() -> int:
    return max(
        ChatSource.objects.filter(
            platform=Platform.YOUTUBE, status=ChatSource.Status.CONNECTED
        ).count(),
        1,
    )


def usage(now: datetime | None = None) -> dict:
    """Today's numbers plus the projection from what the connected sources are doing now."""
    now = now or timezone.now()
    row = QuotaUsage.objects.filter(platform=Platform.YOUTUBE, day=quota_day(now)).first()
    used = row.units if row else 0
    limit = settings.YOUTUBE_DAILY_QUOTA
    exhausted_until = (
        row.exhausted_until if row and row.exhausted_until and row.exhausted_until > now else None
    )
    # Current burn rate: what each polling source planned (ChatSource.state["youtube"]).
    per_hour = 0.0
    for state in ChatSource.objects.filter(
        platform=Platform.YOUTUBE, status=ChatSource.Status.CONNECTED
    ).values_list("state", flat=True):
        interval = ((state or {}).get("youtube") or {}).get("interval_seconds")
        if interval:
            per_hour += LIST_COST * 3600 / max(float(interval), 0.001)
    remaining = max(limit - used, 0)
    reset = reset_at(now)
    projected = None
    if exhausted_until:
        projected = now
    elif per_hour > 0:
        projected = now + timedelta(hours=remaining / per_hour)
        if projected >= reset:
            projected = None  # lasts until the reset
    return {
        "day": quota_day(now).isoformat(),
        "limit": limit,
        "reserve": settings.YOUTUBE_QUOTA_RESERVE,
        "used": used,
        "remaining": remaining,
        "calls": row.calls if row else 0,
        "percent_used": round(100 * used / limit, 1) if limit else 100.0,
        "reset_at": reset.isoformat(),
        "exhausted": exhausted_until is not None,
        "exhausted_until": exhausted_until.isoformat() if exhausted_until else None,
        "exhausted_reason": row.exhausted_reason if exhausted_until else "",
        "burn_units_per_hour": round(per_hour, 1),
        "projected_exhaustion_at": projected.isoformat() if projected else None,
        "lasts_until_reset": projected is None and not exhausted_until,
    }


def describe(now: datetime | None = None) -> str:
    """One line for status details: "quota 1,234/10,000 units, lasts until reset"."""
    u = usage(now)
    text = f"quota {u['used']:,}/{u['limit']:,} units"
    if u["exhausted"]:
        return f"{text}; exhausted until {u['exhausted_until']}"
    if u["projected_exhaustion_at"]:
        return f"{text}; runs out ~{u['projected_exhaustion_at'][11:16]} UTC"
    return f"{text}; lasts until the reset"


def youtube_health() -> dict:
    """For GET /api/health/: quota, accounts (reconnect needed?) and YouTube sources."""
    q = usage()
    accounts = [
        {
            "id": a.pk,
            "name": a.display_name or a.login or a.account_id,
            "status": a.status,
            "status_reason": a.status_reason,
            "scopes": a.scopes,
        }
        for a in PlatformAccount.objects.filter(platform=Platform.YOUTUBE).order_by("pk")
    ]
    sources = []
    for s in ChatSource.objects.filter(platform=Platform.YOUTUBE).order_by("pk"):
        yt = (s.state or {}).get("youtube") or {}
        sources.append(
            {
                "id": s.pk,
                "video_id": s.identifier,
                "status": s.status,
                "status_reason": s.status_reason,
                "live_chat_id": yt.get("live_chat_id", ""),
                "interval_seconds": yt.get("interval_seconds"),
                "last_poll_at": yt.get("last_poll_at"),
            }
        )
    ok = not q["exhausted"] and all(a["status"] == PlatformAccount.Status.OK for a in accounts)
    return {
        "ok": ok,
        "api_key_configured": bool(settings.YOUTUBE_API_KEY),
        "oauth_configured": bool(settings.GOOGLE_CLIENT_ID and settings.GOOGLE_CLIENT_SECRET),
        "quota": q,
        "accounts": accounts,
        "sources": sources,
    }
