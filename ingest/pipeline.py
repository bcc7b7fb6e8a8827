"""The chat pipeline: adapters submit events; batches are stored, then published once.

Batching bounds both write cost and broadcast rate: a batch closes when it holds
INGEST_BATCH_SIZE events or INGEST_FLUSH_MS after its first event, whichever comes first. Each
stored batch produces at most one frame per kind per group, so a burst of thousands of messages a
second is a few dozen channel-layer messages, well under the layer's per-channel capacity.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils.module_loading import import_string

from .events import ChatEvent
from .publish import MODERATION_GROUP, publish, source_group
from .store import StoredBatch, store_batch

log = logging.getLogger(__name__)

Listener = Callable[[StoredBatch], Awaitable[None]]


class PipelineStats:
    def __init__(self):
        self.received = 0
        self.stored = 0
        self.duplicates = 0
        self.moderation = 0
        self.errors = 0
        self.publish_errors = 0
        self.batches = 0
        self.started = time.monotonic()


class Pipeline:
    def __init__(self, *, batch_size=None, flush_ms=None, queue_size=None, listeners=None):
        self.batch_size = batch_size or settings.INGEST_BATCH_SIZE
        self.flush_seconds = (flush_ms if flush_ms is not None else settings.INGEST_FLUSH_MS) / 1000
        self.queue: asyncio.Queue[ChatEvent] = asyncio.Queue(
            maxsize=queue_size or settings.INGEST_QUEUE_SIZE
        )
        if listeners is None:
            listeners = [
                import_string(p.replace(":", ".")) for p in settings.CHORUS_PIPELINE_LISTENERS
            ]
        self.listeners: list[Listener] = list(listeners)
        self.stats = PipelineStats()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task | None = None

    async def submit(self, event: ChatEvent) -> None:
        """Queue one validated event. Waits (backpressure) when the queue is full."""
        self._idle.clear()
        self.stats.received += 1
        await self.queue.put(event)

    def start(self) -> asyncio.Task:
        freeze_startup_heap()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="chorus-pipeline")
        return self._task

    async def stop(self) -> None:
        await self.drain()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def drain(self, seconds: float = 30) -> None:
        """Wait until everything submitted so far is stored and published."""
        await asyncio.wait_for(self._idle.wait(), seconds)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self.queue.get()
            batch = [first]
            deadline = loop.time() + self.flush_seconds
            while len(batch) < self.batch_size:
                try:
                    batch.append(self.queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), remaining))
                except TimeoutError:
                    break
            await self.process(batch)
            if self.queue.empty():
                self._idle.set()

    async def process(self, batch: list[ChatEvent]) -> StoredBatch | None:
        try:
            stored = await sync_to_async(store_batch, thread_sensitive=True)(batch)
        except Exception:
            self.stats.errors += 1
            log.exception("could not store a batch of %d events; retrying one by one", len(batch))
            stored = await self._store_one_by_one(batch)
        self.stats.batches += 1
        self.stats.stored += len(stored.messages)
        self.stats.duplicates += stored.duplicates
        self.stats.moderation += len(stored.moderation)
        try:
            await publish_batch(stored)
        except Exception:
            # Stored is stored: a channel-layer outage (e.g. Redis restarting) must not stop
            # ingest. Dashboards re-query what they missed when their socket reconnects.
            self.stats.publish_errors += 1
            log.exception("could not publish a stored batch of %d messages", len(stored.messages))
        for listener in self.listeners:
            try:
                await listener(stored)
            except Exception:
                log.exception("pipeline listener %r failed", listener)
        return stored

    async def _store_one_by_one(self, batch: list[ChatEvent]) -> StoredBatch:
        """Isolate a poisonous event: store the others, log the bad one with its content."""
        total = StoredBatch()
        for ev in batch:
            try:
                one = await sync_to_async(store_batch, thread_sensitive=True)([ev])
            except Exception:
                total.invalid += 1
                log.exception("dropping event that cannot be stored: %s", ev.model_dump_json())
                continue
            total.messages += one.messages
            total.updated += one.updated
            total.moderation += one.moderation
            total.sessions += one.sessions
            total.duplicates += one.duplicates
            total.message_objects += one.message_objects
        return total


_frozen = False


def freeze_startup_heap() -> None:
    """Once per process: move what start-up allocated (Django, apps, modules: ~100 MB of objects
    that live forever) out of the cyclic garbage collector's reach (gc.freeze).

    Measured in the ingest bench: without it, a full collection re-scanned that heap every few
    seconds for nothing (0-20 objects freed) and froze the event loop 90-200 ms each time (the
    biggest part of the dashboards' p99); after it, 10-20 ms. Later garbage is still collected.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


async def publish_batch(stored: StoredBatch) -> None:
    """One frame per kind of change for the dashboards; per-source frames for listeners."""
    if stored.messages:
        await publish(MODERATION_GROUP, {"type": "chat.messages", "messages": stored.messages})
    if stored.updated:
        await publish(MODERATION_GROUP, {"type": "chat.updated", "messages": stored.updated})
    if stored.moderation:
        await publish(MODERATION_GROUP, {"type": "chat.moderation", "events": stored.moderation})
        by_source: dict[int, list[dict]] = {}
        for m in stored.moderation:
            by_source.setdefault(m["source_id"], []).append(m)
        for sid, events in by_source.items():
            await publish(source_group(sid), {"type": "chat.moderation", "events": events})
    if stored.sessions:
        await publish(MODERATION_GROUP, {"type": "source.sessions", "sessions": stored.sessions})
