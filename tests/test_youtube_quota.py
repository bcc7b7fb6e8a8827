"""The daily quota budget: costs counted in the DB, polling spread over the stream, health."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from ingest.models import ChatSource, QuotaUsage
from ingest.youtube import quota
from tests.fakes import youtube_api as f
from tests.youtube_support import (  # noqa: F401 (fixtures)
    CHAT,
    VIDEO,
    Run,
    close_thread_connections_fixture,
    db,
    fake_fixture,
    make_account,
    make_source,
    yt_fixture,
)


def test_reset_is_midnight_pacific_also_across_daylight_saving():
    # 20:40 PST on Nov 21 -> reset at 08:00 UTC
    assert quota.reset_at(datetime(2026, 11, 22, 4, 40, tzinfo=UTC)) == datetime(
        2026, 11, 22, 8, tzinfo=UTC
    )
    # DST starts on Mar 8, 2026: that midnight is PDT (UTC-7)
    assert quota.reset_at(datetime(2026, 3, 8, 12, tzinfo=UTC)) == datetime(
        2026, 3, 9, 7, tzinfo=UTC
    )
    assert quota.quota_day(datetime(2026, 11, 22, 7, 59, tzinfo=UTC)).isoformat() == "2026-11-21"
    assert quota.quota_day(datetime(2026, 11, 22, 8, 0, tzinfo=UTC)).isoformat() == "2026-11-22"


def test_budget_spreads_the_day_over_the_expected_stream():
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # 01:00 Pacific: the whole day ahead
    # 10,000 units, 500 kept for sending/moderating, 4 h stream: a list call (5 units) every ~7.6 s
    four_h = quota.budget_interval(
        used=0, now=now, session_started_at=now, expected_hours=4, limit=10_000, reserve=500
    )
    assert four_h == pytest.approx(4 * 3600 / (9500 / 5))
    # two streams share the budget
    two = quota.budget_interval(
        used=0,
        now=now,
        session_started_at=now,
        expected_hours=4,
        pollers=2,
        limit=10_000,
        reserve=500,
    )
    assert two == pytest.approx(2 * four_h)
    # half spent, 2 h left of the stream: the same pace
    later = now + timedelta(hours=2)
    assert quota.budget_interval(
        used=4750, now=later, session_started_at=now, expected_hours=4, limit=10_000, reserve=500
    ) == pytest.approx(four_h)
    # a stream running over its expected length still gets at least 15 minutes of budget
    over = quota.budget_interval(
        used=9000,
        now=now + timedelta(hours=5),
        session_started_at=now,
        expected_hours=4,
        limit=10_000,
        reserve=500,
    )
    assert over == pytest.approx(15 * 60 / (500 / 5))
    # it only has to last until the reset at midnight Pacific
    near_reset = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 23:00 Pacific
    assert quota.budget_interval(
        used=0,
        now=near_reset,
        session_started_at=near_reset,
        expected_hours=4,
        limit=10_000,
        reserve=500,
    ) == pytest.approx(3600 / 1900)
    # nothing left: no more polls today
    assert math.isinf(quota.budget_interval(used=9500, now=now, limit=10_000, reserve=500))


@pytest.mark.django_db
def test_usage_projection_and_health():
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    QuotaUsage.objects.create(platform="youtube", day=quota.quota_day(now), units=1000, calls=200)
    ChatSource.objects.create(
        platform="youtube",
        identifier=VIDEO,
        status="connected",
        state={"youtube": {"interval_seconds": 5.0, "live_chat_id": CHAT}},
    )
    u = quota.usage(now)
    assert (u["used"], u["remaining"], u["limit"], u["calls"]) == (1000, 9000, 10000, 200)
    assert u["burn_units_per_hour"] == 3600.0  # 5 units every 5 s
    assert u["projected_exhaustion_at"] == (now + timedelta(hours=2.5)).isoformat()
    assert "runs out ~11:30 UTC" in quota.describe(now)
    # a slow pace lasts until the reset
    ChatSource.objects.update(state={"youtube": {"interval_seconds": 60.0}})
    assert (
        quota.usage(now)["projected_exhaustion_at"] is None
        and quota.usage(now)["lasts_until_reset"]
    )


@pytest.mark.django_db(transaction=True)
async def test_every_call_is_charged_in_the_database(yt):
    yt.add_video(VIDEO, chat_id=CHAT).add(f.text_item("m1", "hi"))
    account, _ = await db(make_account, yt)
    src = await db(make_source, account=account)
    await Run(src.pk, max_polls=3).run()
    row = await db(QuotaUsage.objects.get)
    assert (row.units, row.calls) == (1 + 3 * 5, 4)  # videos.list + 3 x liveChatMessages.list
    assert row.day == quota.quota_day()


@pytest.mark.django_db(transaction=True)
async def test_polling_slows_down_to_fit_the_budget(yt, settings):
    now = timezone.now()
    horizon = min(15 * 60, (quota.reset_at(now) - now).total_seconds())
    settings.YOUTUBE_DAILY_QUOTA = int(horizon / 0.5 * 5)  # budget = one call per 0.5 s
    yt.add_video(VIDEO, chat_id=CHAT, polling_ms=50, started=now).add(f.text_item("m1", "hi"))
    account, _ = await db(make_account, yt)
    src = await db(make_source, account=account, expected_hours=0.001)
    run = Run(src.pk, max_polls=4)
    await run.run()
    calls = yt.calls("liveChatMessages.list")
    gaps = [b.t - a.t for a, b in zip(calls, calls[1:], strict=False)]
    assert len(gaps) == 3 and all(0.45 <= g < 1.5 for g in gaps), gaps  # not YouTube's 50 ms
    assert "quota" in run.adapter.last_detail
    state = (await db(ChatSource.objects.get, pk=src.pk)).state["youtube"]
    assert state["interval_seconds"] >= 0.45 and state["live_chat_id"] == CHAT


@pytest.mark.django_db(transaction=True)
async def test_an_exhausted_budget_makes_no_calls(yt, settings):
    settings.YOUTUBE_DAILY_QUOTA = 1000
    settings.YOUTUBE_QUOTA_RESERVE = 100
    await db(QuotaUsage.objects.create, platform="youtube", day=quota.quota_day(), units=898)
    yt.add_video(VIDEO, chat_id=CHAT).add(f.text_item("m1", "hi"))
    account, _ = await db(make_account, yt)
    src = await db(make_source, account=account)
    run = Run(src.pk, max_polls=1)
    await run.run()
    assert yt.calls("liveChatMessages.list") == []  # 898 + 5 > 1000 - 100: saved for sending
    assert "quota exhausted" in run.status.detail


@pytest.mark.django_db
def test_writes_may_use_the_reserve(settings):
    settings.YOUTUBE_DAILY_QUOTA = 1000
    settings.YOUTUBE_QUOTA_RESERVE = 100
    QuotaUsage.objects.create(platform="youtube", day=quota.quota_day(), units=950)
    assert quota.blocked_until("liveChatMessages.list") is not None
    assert quota.blocked_until("liveChatMessages.insert") is None
    QuotaUsage.objects.update(units=990)
    assert quota.blocked_until("liveChatMessages.insert") == quota.reset_at()


@pytest.mark.django_db
def test_health_endpoint_shows_youtube_quota(client):
    from ingest.youtube.health import register

    register()
    QuotaUsage.objects.create(platform="youtube", day=quota.quota_day(), units=1234, calls=250)
    body = client.get("/api/health/").json()
    assert body["checks"]["youtube"] == "ok"
    assert body["youtube"]["quota"]["used"] == 1234
    assert body["youtube"]["quota"]["reset_at"] == quota.reset_at().isoformat()
    quota.mark_exhausted()
    body = client.get("/api/health/").json()
    assert body["checks"]["youtube"] == "degraded" and body["youtube"]["quota"]["exhausted"]
