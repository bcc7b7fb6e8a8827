"""Supervisor: reconnect with backoff, health reporting, resume from the stored cursor."""

import asyncio
import random

import pytest
from asgiref.sync import sync_to_async

from ingest.adapters.base import REGISTRY, Adapter, FatalAdapterError
from ingest.events import Author, ChatEvent, Kind
from ingest.locks import LocalLeases
from ingest.models import ChatMessage, ChatSource
from ingest.pipeline import Pipeline
from ingest.supervisor import Supervisor, backoff_delay

pytestmark = pytest.mark.django_db(transaction=True)


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rng = random.Random(1)
    delays = [backoff_delay(a, 1.0, 30.0, rng) for a in range(1, 9)]
    for attempt, d in enumerate(delays, start=1):
        ceiling = min(30.0, 2 ** (attempt - 1))
        assert ceiling / 2 <= d <= ceiling
    assert max(delays) <= 30.0
    # jitter: two workers failing together do not retry in lockstep
    assert backoff_delay(5, 1.0, 30.0, random.Random(1)) != backoff_delay(
        5, 1.0, 30.0, random.Random(2)
    )


class FlakyAdapter(Adapter):
    """Emits one message per run; the first two runs then lose their connection."""

    platform = "flaky"
    runs = 0

    async def run(self):
        FlakyAdapter.runs += 1
        n = int(self.cursor or 0) + 1
        self.status.connected("up")
        await self.emit(
            ChatEvent(
                kind=Kind.MESSAGE,
                platform="demo",
                id=f"flaky-{n}",
                cursor=str(n),
                author=Author(id="1", login="a"),
                text=f"run {n}",
            )
        )
        if FlakyAdapter.runs <= 2:
            raise ConnectionError("socket closed by peer")
        await asyncio.sleep(3600)


class BadCredentialsAdapter(Adapter):
    platform = "badcreds"

    async def run(self):
        raise FatalAdapterError("token revoked: reconnect the account")


@pytest.fixture
def fake_platforms(settings):
    settings.INGEST_BACKOFF_INITIAL = 0.05
    settings.INGEST_BACKOFF_MAX = 0.2
    REGISTRY["flaky"] = FlakyAdapter
    REGISTRY["badcreds"] = BadCredentialsAdapter
    FlakyAdapter.runs = 0
    yield
    REGISTRY.pop("flaky")
    REGISTRY.pop("badcreds")


async def _wait_for(predicate, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not await sync_to_async(predicate)():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_reconnects_after_failures_and_resumes_from_cursor(fake_platforms):
    src = await sync_to_async(ChatSource.objects.create)(platform="flaky", identifier="x")
    sup = Supervisor(Pipeline(listeners=[]), leases=LocalLeases(), sync_seconds=0.1)
    task = asyncio.create_task(sup.run())
    try:
        await _wait_for(lambda: ChatMessage.objects.count() == 3)
        await _wait_for(lambda: ChatSource.objects.get(pk=src.pk).status == "connected")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    texts = sorted(
        await sync_to_async(lambda: list(ChatMessage.objects.values_list("text", flat=True)))()
    )
    assert texts == ["run 1", "run 2", "run 3"]  # each run resumed after the last stored event
    assert FlakyAdapter.runs == 3


async def test_fatal_errors_show_as_failed_with_the_reason(fake_platforms):
    src = await sync_to_async(ChatSource.objects.create)(platform="badcreds", identifier="x")
    sup = Supervisor(Pipeline(listeners=[]), leases=LocalLeases(), sync_seconds=0.1)
    task = asyncio.create_task(sup.run())
    try:
        await _wait_for(lambda: ChatSource.objects.get(pk=src.pk).status == "failed")
        s = await sync_to_async(ChatSource.objects.get)(pk=src.pk)
        assert "reconnect the account" in s.status_reason
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_disabling_a_source_stops_its_adapter(fake_platforms):
    src = await sync_to_async(ChatSource.objects.create)(
        platform="demo", identifier="d", settings={"rate": 50}
    )
    sup = Supervisor(Pipeline(listeners=[]), leases=LocalLeases(), sync_seconds=0.1)
    task = asyncio.create_task(sup.run())
    try:
        await _wait_for(lambda: ChatMessage.objects.count() > 5)
        await sync_to_async(ChatSource.objects.filter(pk=src.pk).update)(enabled=False)
        await _wait_for(lambda: ChatSource.objects.get(pk=src.pk).status == "stopped")
        await sup.pipeline.drain()
        n = await sync_to_async(ChatMessage.objects.count)()
        await asyncio.sleep(0.3)
        assert await sync_to_async(ChatMessage.objects.count)() == n
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_demo_source_resumes_without_gaps_or_duplicates():
    src = await sync_to_async(ChatSource.objects.create)(
        platform="demo", identifier="d", settings={"rate": 500, "max_events": 40}
    )
    from ingest.adapters.base import SourceConfig
    from ingest.adapters.demo import DemoAdapter

    pipeline = Pipeline(listeners=[])
    pipeline.start()
    cfg = SourceConfig.from_model(src)
    first = asyncio.create_task(DemoAdapter(cfg, pipeline.submit).run())
    await asyncio.sleep(0.04)
    first.cancel()  # killed mid-stream
    await asyncio.gather(first, return_exceptions=True)
    await pipeline.drain()
    src = await sync_to_async(ChatSource.objects.get)(pk=src.pk)
    assert src.cursor  # something was stored
    await DemoAdapter(cfg, pipeline.submit, cursor=src.cursor).run()
    await pipeline.drain()
    await pipeline.stop()
    ids = await sync_to_async(
        lambda: list(ChatMessage.objects.values_list("platform_message_id", flat=True))
    )()
    from ingest.models import LiveSession, ModerationEvent

    mods = await sync_to_async(
        lambda: list(ModerationEvent.objects.values_list("platform_event_id", flat=True))
    )()
    sessions = await sync_to_async(LiveSession.objects.count)()
    numbers = sorted(int(i.rsplit("-", 1)[1]) for i in ids + mods) + [0] * sessions
    assert sorted(numbers) == list(range(40))


async def test_a_channel_layer_outage_does_not_stop_storing_or_listeners(monkeypatch):
    from ingest import pipeline as pipeline_module
    from tests.factories import msg

    async def broken_publish(stored):
        raise ConnectionError("Redis is restarting")

    monkeypatch.setattr(pipeline_module, "publish_batch", broken_publish)
    seen = []

    async def listener(stored):
        seen.extend(m["platform_message_id"] for m in stored.messages)

    src = await sync_to_async(ChatSource.objects.create)(platform="demo", identifier="x")
    p = Pipeline(listeners=[listener])
    stored = await p.process([msg(src, 1), msg(src, 2)])
    assert len(stored.messages) == 2 and seen == ["m1", "m2"]
    assert p.stats.publish_errors == 1
    assert await sync_to_async(ChatMessage.objects.count)() == 2
