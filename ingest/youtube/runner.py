"""Run YouTube adapters in the foreground for the seed-000 commands (fetch_live_chat,
poll_live_streams): the same adapter, pipeline, cursor and quota accounting as the supervisor,
plus a bounded number of polls and progress lines.

Each source is leased like the supervisor does (Redis when REDIS_URL is set), so a command never
polls a stream that a running ingest worker already polls (that would spend the quota twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings

from ..adapters.base import FatalAdapterError, SourceConfig, StatusReporter
from ..adapters.youtube import YouTubeAdapter
from ..locks import LocalLeases, make_leases
from ..models import ChatSource
from ..pipeline import Pipeline
from ..supervisor import backoff_delay
from . import quota

log = logging.getLogger(__name__)


class _PrintStatus(StatusReporter):
    def __init__(self, say: Callable[[str], None], label: str):
        self.say, self.label = say, label
        self.state = self.detail = ""

    def _set(self, state: str, detail: str) -> None:
        if (state, detail) != (self.state, self.detail) and state != "connected":
            self.say(f"[{self.label}] {state}: {detail}")
        self.state, self.detail = state, detail

    def connected(self, detail: str = "") -> None:
        self._set("connected", detail)

    def offline(self, detail: str = "") -> None:
        self._set("offline", detail)

    def note(self, detail: str) -> None:
        self._set(self.state or "connecting", detail)


@dataclass
class RunResult:
    polls: dict[int, int] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    stored: int = 0
    duplicates: int = 0
    moderation: int = 0
    quota: dict = field(default_factory=dict)


async def run_sources(
    source_ids: list[int],
    say: Callable[[str], None],
    *,
    max_polls: int | None,
    min_interval: float | None = None,
    metadata_refresh_seconds: float | None = None,
) -> RunResult:
    pipeline = Pipeline()
    pipeline.start()
    leases = make_leases()
    result = RunResult()

    async def one(sid: int) -> None:
        src = await sync_to_async(ChatSource.objects.get)(pk=sid)
        label = src.identifier
        if not await leases.acquire(sid):
            result.errors[sid] = "another ingest worker is polling this stream"
            say(f"[{label}] skipped: another ingest worker is polling this stream")
            return
        attempt = 0
        polls = 0
        try:
            while max_polls is None or polls < max_polls:
                src = await sync_to_async(ChatSource.objects.get)(pk=sid)
                adapter = YouTubeAdapter(
                    SourceConfig.from_model(src),
                    pipeline.submit,
                    cursor=src.cursor,
                    status=_PrintStatus(say, label),
                    max_polls=None if max_polls is None else max_polls - polls,
                    min_interval=min_interval,
                    metadata_refresh_seconds=metadata_refresh_seconds,
                    progress=lambda text, label=label: say(f"[{label}] {text}"),
                )
                try:
                    await adapter.run()
                    polls += adapter.polls
                    break
                except FatalAdapterError as exc:
                    result.errors[sid] = str(exc)
                    say(f"[{label}] failed: {exc}")
                    break
                except Exception as exc:  # lost connection: resume from the stored cursor
                    polls += adapter.polls
                    if max_polls is not None:
                        result.errors[sid] = f"{type(exc).__name__}: {exc}"
                        say(f"[{label}] failed: {type(exc).__name__}: {exc}")
                        break
                    attempt += 1
                    delay = backoff_delay(
                        attempt, settings.INGEST_BACKOFF_INITIAL, settings.INGEST_BACKOFF_MAX
                    )
                    say(f"[{label}] {type(exc).__name__}: {exc}; retrying in {delay:.1f} s")
                    with contextlib.suppress(Exception):
                        await pipeline.drain(10)
                    await asyncio.sleep(delay)
        finally:
            result.polls[sid] = polls
            with contextlib.suppress(Exception):
                await leases.release(sid)

    async def renew() -> None:
        if isinstance(leases, LocalLeases):
            return
        while True:
            await asyncio.sleep(max(settings.INGEST_LEASE_SECONDS / 3, 0.2))
            for sid in source_ids:
                with contextlib.suppress(Exception):
                    await leases.renew(sid)

    renewer = asyncio.create_task(renew())
    try:
        await asyncio.gather(*(one(sid) for sid in source_ids))
    finally:
        renewer.cancel()
        with contextlib.suppress(Exception):
            await pipeline.drain(30)
        await pipeline.stop()
        await leases.close()
    result.stored = pipeline.stats.stored
    result.duplicates = pipeline.stats.duplicates
    result.moderation = pipeline.stats.moderation
    result.quota = await sync_to_async(quota.usage)()
    return result


def source_for_video(raw: str, *, enable: bool | None = None) -> ChatSource:
    """The ChatSource of a video id or URL (created when new). Raises ValueError if invalid."""
    from .mapping import normalize_video_id

    video_id = "mine" if raw.strip().lower() == "mine" else normalize_video_id(raw)
    src, created = ChatSource.objects.get_or_create(
        platform="youtube", identifier=video_id, defaults={"enabled": bool(enable)}
    )
    if enable and not src.enabled:
        src.enabled = True
        src.save(update_fields=["enabled"])
    return src


def summary(result: RunResult) -> str:
    q = result.quota
    projection = (
        f"quota exhausted until {q['exhausted_until']}"
        if q.get("exhausted")
        else (
            f"runs out ~{q['projected_exhaustion_at']}"
            if q.get("projected_exhaustion_at")
            else "lasts until the reset"
        )
    )
    return (
        f"{sum(result.polls.values())} polls: {result.stored} messages stored, "
        f"{result.moderation} moderation events, {result.duplicates} duplicates skipped; "
        f"quota used today {q.get('used', 0):,}/{q.get('limit', 0):,} units ({projection})"
    )
