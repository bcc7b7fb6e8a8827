"""Source leases on a real Redis: one holder at a time, expiry, renewal, release, namespacing."""

import asyncio
import os
import secrets
import time

import pytest
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.db import connections

from ingest.locks import RedisLeases, lease_prefix
from ingest.models import ChatMessage, ChatSource
from ingest.pipeline import Pipeline
from ingest.supervisor import Supervisor

pytestmark = [pytest.mark.scaleout]


@pytest.fixture(autouse=True)
async def _close_thread_connections():
    yield
    await sync_to_async(connections.close_all)()  # see test_scaleout_websockets.py


@pytest.fixture
async def prefix():
    p = f"leasetest{secrets.token_hex(4)}:lease:source:"
    yield p
    r = aioredis.from_url(os.environ["REDIS_URL"])
    keys = [k async for k in r.scan_iter(match=f"{p}*")]
    if keys:
        await r.delete(*keys)
    await r.aclose()


async def test_one_holder_at_a_time_until_expiry_or_release(prefix):
    url = os.environ["REDIS_URL"]
    a, b = RedisLeases(url, ttl=0.4, prefix=prefix), RedisLeases(url, ttl=0.4, prefix=prefix)
    try:
        assert await a.acquire(7)
        assert not await b.acquire(7)
        assert await a.acquire(7), "the holder may take its own lease again"
        assert await a.holder(7) == a.token
        assert await a.renew(7) and not await b.renew(7)
        await b.release(7)  # not b's to release
        assert await a.holder(7) == a.token
        assert await b.acquire(8), "leases are per source"

        await asyncio.sleep(0.6)  # a stopped renewing (it died): the lease expires
        assert await b.acquire(7)
        assert not await a.renew(7), "a late renewal must not steal it back"
        assert 7 not in a.held
        await b.release(7)
        assert await a.acquire(7)
    finally:
        await a.close()
        await b.close()


async def test_lease_keys_live_under_the_channel_prefix(settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"prefix": "x1"}}
    }
    assert lease_prefix() == "x1:lease:source:"
    leases = RedisLeases(os.environ["REDIS_URL"])
    assert leases._key(3) == "x1:lease:source:3"
    await leases.close()


@pytest.mark.django_db(transaction=True)
async def test_a_finished_source_is_not_restarted_by_the_next_sync(prefix):
    src = await sync_to_async(ChatSource.objects.create)(
        platform="demo", identifier="short", settings={"rate": 200, "mix": "plain", "max_events": 3}
    )
    leases = RedisLeases(os.environ["REDIS_URL"], ttl=5.0, prefix=prefix)
    sup = Supervisor(Pipeline(listeners=[]), leases=leases, sync_seconds=0.05)
    starts = []
    original = sup._run_source

    async def counting(sid):
        starts.append(sid)
        await original(sid)

    sup._run_source = counting
    task = asyncio.create_task(sup.run())
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if src.pk in sup.finished:
                break
        assert src.pk in sup.finished
        await asyncio.sleep(0.6)  # many syncs later
        assert starts == [src.pk]
        await sync_to_async(ChatSource.objects.filter(pk=src.pk).update)(enabled=False)
        await asyncio.sleep(0.2)
        await sync_to_async(ChatSource.objects.filter(pk=src.pk).update)(enabled=True)
        for _ in range(40):
            await asyncio.sleep(0.05)
            if len(starts) == 2:
                break
        assert starts == [src.pk, src.pk], "re-enabling a finished source runs it again"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    ids = await sync_to_async(
        lambda: sorted(ChatMessage.objects.values_list("platform_message_id", flat=True))
    )()
    assert ids == [f"demo-{src.pk}-{n}" for n in range(3)]


@pytest.mark.django_db(transaction=True)
async def test_a_frozen_worker_emits_nothing_once_its_lease_ran_out(prefix):
    """The event loop freezes longer than the lease and another worker takes the source: on
    waking, the adapter's next emit is refused (local fence), not stored for a moment longer."""
    import redis as syncredis

    src = await sync_to_async(ChatSource.objects.create)(
        platform="demo", identifier="frozen", settings={"rate": 100, "mix": "plain"}
    )
    leases = RedisLeases(os.environ["REDIS_URL"], ttl=1.0, prefix=prefix)
    sup = Supervisor(Pipeline(listeners=[]), leases=leases, sync_seconds=0.05)
    submitted: list[int] = []
    real_submit = sup.pipeline.submit

    async def recording_submit(event):
        submitted.append(int(event.id.rsplit("-", 1)[1]))
        await real_submit(event)

    sup.pipeline.submit = recording_submit
    task = asyncio.create_task(sup.run())

    def numbers():
        return sorted(
            int(i.rsplit("-", 1)[1])
            for i in ChatMessage.objects.filter(source=src).values_list(
                "platform_message_id", flat=True
            )
        )

    other = syncredis.from_url(os.environ["REDIS_URL"])
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if len(await sync_to_async(numbers)()) >= 40:
                break
        assert len(await sync_to_async(numbers)()) >= 40
        last_before_freeze = submitted[-1]
        time.sleep(1.5)  # noqa: ASYNC251 - the point: the whole loop freezes
        # Meanwhile the lease expired and another worker took it.
        assert other.set(f"{prefix}{src.pk}", b"other-worker:1:x", nx=True, px=5000)
        await asyncio.sleep(0.6)
        after = await sync_to_async(numbers)()
        await asyncio.sleep(0.3)
        assert await sync_to_async(numbers)() == after, "still ingesting without the lease"
        # Only what was emitted before the freeze was stored; without the fence the demo
        # would catch up ~150 events (1.5 s x 100/s) before the renewal noticed.
        assert submitted[-1] == last_before_freeze
        assert after[-1] == last_before_freeze
        assert after == list(range(len(after)))
        assert src.pk not in sup.runners
        assert other.get(f"{prefix}{src.pk}") == b"other-worker:1:x"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        other.delete(f"{prefix}{src.pk}")
        other.close()
