"""Run every enabled source's adapter: leases, reconnects with backoff + jitter, health.

The supervisor owns no rules about chat; it keeps adapters alive. Health is written to
ChatSource (only when it changes) and published as a ``source.status`` frame, so the dashboard and
``GET /api/health/`` show it whichever process runs the adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from .adapters.base import FatalAdapterError, SourceConfig, StatusReporter, adapter_for
from .locks import LocalLeases, make_leases, worker_name
from .models import ChatSource
from .pipeline import Pipeline
from .publish import MODERATION_GROUP, publish
from .serializers import source_dict

log = logging.getLogger(__name__)
HEALTHY_AFTER = 30.0  # seconds connected before the backoff resets


def backoff_delay(attempt: int, initial: float, maximum: float, rng=random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, capped."""
    ceiling = min(maximum, initial * (2 ** max(attempt - 1, 0)))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


class LeaseExpired(Exception):
    """The lease ran out before it was renewed: stop emitting, another worker may own it."""


class _Reporter(StatusReporter):
    def __init__(self, supervisor: Supervisor, source_id: int):
        self.sup = supervisor
        self.source_id = source_id
        self.state = ""
        self.detail = ""
        self.connected_at: float | None = None

    def _set(self, state: str, detail: str) -> None:
        if (state, detail) == (self.state, self.detail):
            return
        self.state, self.detail = state, detail
        self.sup.spawn(self.sup.set_status(self.source_id, state, detail))

    def connected(self, detail: str = "") -> None:
        if self.state != ChatSource.Status.CONNECTED:
            self.connected_at = time.monotonic()
        self._set(ChatSource.Status.CONNECTED, detail)

    def offline(self, detail: str = "") -> None:
        self._set(ChatSource.Status.OFFLINE, detail)

    def note(self, detail: str) -> None:
        self._set(self.state or ChatSource.Status.CONNECTING, detail)

    def failed(self, state: str, detail: str) -> None:
        self.connected_at = None
        self._set(state, detail)


class Supervisor:
    def __init__(
        self,
        pipeline: Pipeline,
        *,
        leases=None,
        source_ids: list[int] | None = None,
        sync_seconds: float | None = None,
    ):
        self.pipeline = pipeline
        self.leases = leases if leases is not None else make_leases()
        self.source_ids = source_ids
        self.sync_seconds = sync_seconds or settings.INGEST_SOURCE_SYNC_SECONDS
        self.runners: dict[int, asyncio.Task] = {}
        self.reporters: dict[int, _Reporter] = {}
        self.finished: set[int] = set()  # adapters that returned: not restarted until re-enabled
        self._background: set[asyncio.Task] = set()
        self.worker = worker_name()

    def spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- health ---------------------------------------------------------------------------
    async def set_status(self, source_id: int, state: str, detail: str) -> None:
        src = await database_sync_to_async(_write_status)(
            source_id, state, detail[:2000], self.worker
        )
        if src is not None:
            await publish(MODERATION_GROUP, {"type": "source.status", "source": source_dict(src)})

    # --- lifecycle --------------------------------------------------------------------------
    async def run(self) -> None:
        self._start_pipeline()
        renew = asyncio.create_task(self._renew_loop())
        try:
            while True:
                try:
                    await self.sync()
                except Exception:
                    log.exception("supervisor sync failed")
                await asyncio.sleep(self.sync_seconds)
        finally:
            renew.cancel()
            await self.shutdown()

    def _start_pipeline(self) -> None:
        self.pipeline.start().add_done_callback(self._pipeline_died)

    def _pipeline_died(self, task: asyncio.Task) -> None:
        """Restart the pipeline if it crashed. Otherwise the worker would go on holding and
        renewing its leases while storing nothing (e.g. one publish failing on a Redis blip
        ended the pipeline's loop): chat silently stopped, and no failover either."""
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        log.error("the pipeline stopped on an error; restarting it", exc_info=exc)
        asyncio.get_running_loop().call_soon(self._start_pipeline)

    async def shutdown(self) -> None:
        for sid in list(self.runners):
            await self._stop_runner(sid, "worker stopped")
        with contextlib.suppress(Exception):
            await self.pipeline.drain(seconds=10)
        await self.leases.close()

    async def sync(self) -> None:
        # database_sync_to_async (not sync_to_async): it closes an unusable or expired DB
        # connection first. A long-running worker has no request cycle doing that, so after a
        # PostgreSQL restart an idle stand-by worker failed every sync forever and never
        # took a dead worker's sources over.
        enabled = await database_sync_to_async(_enabled_source_ids)(self.source_ids)
        for sid in list(self.runners):
            if sid not in enabled:
                await self._stop_runner(sid, "disabled")
        self.finished &= set(enabled)  # disabling then enabling a source starts it again
        for sid in enabled:
            if sid in self.finished:
                continue
            task = self.runners.get(sid)
            if task is not None and not task.done():
                continue
            if task is not None and task.done():
                self.runners.pop(sid)
                if not task.cancelled() and task.exception() is None:
                    # Finished for good (e.g. a demo with max_events): stays finished. (It used
                    # to be restarted on the next sync, since the runner was gone.)
                    self.finished.add(sid)
                    continue
            if await self.leases.acquire(sid):
                self.runners[sid] = asyncio.create_task(self._run_source(sid), name=f"source-{sid}")

    async def _renew_loop(self) -> None:
        ttl_ms = getattr(self.leases, "ttl_ms", None) or settings.INGEST_LEASE_SECONDS * 1000
        interval = max(ttl_ms / 1000 / 3, 0.05)  # the leases' own lifetime, not the default
        while True:
            await asyncio.sleep(interval)
            if isinstance(self.leases, LocalLeases):
                continue
            for sid in list(self.runners):
                try:
                    ok = await self.leases.renew(sid)
                except Exception:
                    log.exception("lease renewal failed for source %s", sid)
                    ok = False
                if not ok:
                    log.warning("lost the lease on source %s: stopping its adapter", sid)
                    task = self.runners.pop(sid, None)
                    if task:
                        task.cancel()

    async def _stop_runner(self, sid: int, reason: str) -> None:
        task = self.runners.pop(sid, None)
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.leases.release(sid)
        with contextlib.suppress(Exception):
            await self.set_status(sid, ChatSource.Status.STOPPED, reason)

    def _fenced_submit(self, sid: int):
        """The adapter's emit: refuses events once this worker's lease may have expired."""

        async def submit(event) -> None:
            if not self.leases.still_valid(sid):
                raise LeaseExpired(f"lease on source {sid} expired before it was renewed")
            await self.pipeline.submit(event)

        return submit

    async def _run_source(self, sid: int) -> None:
        reporter = self.reporters.setdefault(sid, _Reporter(self, sid))
        attempt = 0
        while True:
            src = await database_sync_to_async(ChatSource.objects.filter(pk=sid).first)()
            if src is None:
                return
            reporter.failed(ChatSource.Status.CONNECTING, "")
            try:
                cls = adapter_for(src.platform)
                adapter = cls(
                    SourceConfig.from_model(src),
                    self._fenced_submit(sid),
                    cursor=src.cursor,
                    status=reporter,
                )
                await adapter.run()
                reporter.failed(ChatSource.Status.STOPPED, "finished")
                return
            except asyncio.CancelledError:
                raise
            except LeaseExpired:
                # Store what is queued, then carry on only if the lease is still ours; the
                # adapter restarts from the stored cursor, so nothing dropped is lost.
                with contextlib.suppress(Exception):
                    await self.pipeline.drain(seconds=10)
                try:
                    still_ours = await self.leases.renew(sid)
                except Exception:
                    still_ours = False
                if still_ours:
                    continue
                log.warning("lost the lease on source %s: stopping its adapter", sid)
                if self.runners.get(sid) is asyncio.current_task():
                    self.runners.pop(sid)  # not "finished": the next sync may acquire it again
                return
            except FatalAdapterError as exc:
                delay = settings.INGEST_BACKOFF_MAX
                reporter.failed(ChatSource.Status.FAILED, f"{exc} (next try in {delay:.0f} s)")
                log.error("source %s failed: %s", sid, exc)
            except Exception as exc:
                if (
                    reporter.connected_at
                    and time.monotonic() - reporter.connected_at > HEALTHY_AFTER
                ):
                    attempt = 0
                attempt += 1
                delay = backoff_delay(
                    attempt, settings.INGEST_BACKOFF_INITIAL, settings.INGEST_BACKOFF_MAX
                )
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                reporter.failed(
                    ChatSource.Status.RETRYING,
                    f"{reason} (attempt {attempt}, next in {delay:.1f} s)",
                )
                log.warning(
                    "source %s lost its connection: %s; retrying in %.1f s", sid, reason, delay
                )
            # Let what the old adapter emitted be stored, so the cursor we resume from is current.
            with contextlib.suppress(Exception):
                await self.pipeline.drain(seconds=10)
            await asyncio.sleep(delay)


def _enabled_source_ids(only: list[int] | None) -> list[int]:
    # Sources named explicitly (the `ingest` command) run even when not enabled.
    qs = (
        ChatSource.objects.filter(pk__in=only)
        if only is not None
        else ChatSource.objects.filter(enabled=True)
    )
    return list(qs.values_list("pk", flat=True))


def _write_status(source_id: int, state: str, detail: str, worker: str):
    now = timezone.now()
    updated = ChatSource.objects.filter(pk=source_id).update(
        status=state, status_reason=detail, status_changed_at=now, status_worker=worker
    )
    return ChatSource.objects.filter(pk=source_id).first() if updated else None
