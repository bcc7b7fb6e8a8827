"""Live plumbing of meetings inside one process: batched answer writes, throttled results.

* ``submit_answer``: websocket votes are queued and written in batches (one transaction of a few
  queries for everything that arrived meanwhile), then each sender gets its own outcome. A burst of
  2,000 votes becomes a handful of batches, not 2,000 transactions.
* ``touch``: marks a meeting's live results dirty. At most one ``results`` frame per
  ``RESULTS_INTERVAL`` per meeting and process is computed (one aggregate query) and published; the
  last change is always followed by a frame, so no final state is lost.
* State changes (host commands, timers) are published at once by ``publish_state``.

One hub per event loop (tests run a loop per test).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass

from ingest.publish import publish

from . import services
from .aio import db as database_sync_to_async
from .models import Meeting, MeetingState
from .serializers import host_state, live_frame, public_state

log = logging.getLogger(__name__)


def participants_group(meeting_id: int) -> str:
    return f"meeting.{meeting_id}"


def host_group(meeting_id: int) -> str:
    return f"meeting.{meeting_id}.host"


@dataclass
class _Pending:
    kind: str  # "answer" | "word"
    question_id: int
    meeting_id: int
    entry: object
    future: asyncio.Future


# At most one live results frame per meeting and process every RESULTS_INTERVAL seconds.
RESULTS_INTERVAL = 0.1
# Largest batch of websocket answers written in one transaction.
VOTE_BATCH = 1000
# How long the first answer of a batch waits for others (seconds).
BATCH_WAIT = 0


class Hub:
    def __init__(self):
        self.interval = RESULTS_INTERVAL
        self.batch_max = VOTE_BATCH
        self.pending: list[_Pending] = []
        self.writer: asyncio.Task | None = None
        self.dirty: set[int] = set()
        self.flushers: dict[int, asyncio.Task] = {}
        self.last_sent: dict[int, float] = {}
        self.timers: dict[int, asyncio.TimerHandle] = {}
        self.frames_sent = 0

    # --- batched answers ------------------------------------------------------------------
    async def submit(self, kind: str, meeting_id: int, question_id: int, entry) -> str:
        fut = asyncio.get_running_loop().create_future()
        self.pending.append(_Pending(kind, question_id, meeting_id, entry, fut))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._write_loop())
        return await fut

    async def _write_loop(self):
        while self.pending:
            await asyncio.sleep(BATCH_WAIT)  # let the frames already received join this batch
            batch, self.pending = self.pending[: self.batch_max], self.pending[self.batch_max :]
            try:
                results = await database_sync_to_async(_write_batch)(batch)
            except Exception:
                log.exception("could not record a batch of %d answers", len(batch))
                results = ["internal"] * len(batch)
            meetings = set()
            for p, outcome in zip(batch, results, strict=True):
                if not p.future.done():
                    p.future.set_result(outcome)
                if outcome in (services.OK, services.CHANGED):
                    meetings.add(p.meeting_id)
            for mid in meetings:
                self.touch(mid)

    # --- throttled live results -----------------------------------------------------------
    def touch(self, meeting_id: int) -> None:
        self.dirty.add(meeting_id)
        task = self.flushers.get(meeting_id)
        if task is None or task.done():
            self.flushers[meeting_id] = asyncio.create_task(self._flush_loop(meeting_id))

    async def _flush_loop(self, meeting_id: int):
        loop = asyncio.get_running_loop()
        try:
            while meeting_id in self.dirty:
                wait = self.last_sent.get(meeting_id, -1e9) + self.interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.dirty.discard(meeting_id)
                self.last_sent[meeting_id] = loop.time()
                try:
                    frame = await database_sync_to_async(live_frame)(meeting_id)
                except Meeting.DoesNotExist:
                    return
                await publish(host_group(meeting_id), frame)
                self.frames_sent += 1
        except Exception:
            log.exception("live results of meeting %s failed", meeting_id)
        finally:
            if self.flushers.get(meeting_id) is asyncio.current_task():
                del self.flushers[meeting_id]

    # --- question timers ------------------------------------------------------------------
    def schedule_timer(self, meeting_id: int, question_id: int, opened_at, seconds: float):
        old = self.timers.pop(meeting_id, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()

        def fire():
            self.timers.pop(meeting_id, None)
            asyncio.ensure_future(self._expire(meeting_id, question_id, opened_at))

        self.timers[meeting_id] = loop.call_later(seconds, fire)

    def ensure_timer(self, meeting_id: int, state: dict) -> None:
        """After a restart no timer is scheduled for an open timed question: the first socket
        that connects to the meeting schedules it again (or closes the question at once)."""
        q = state.get("question")
        if (
            meeting_id in self.timers
            or state["meeting"]["state"] != MeetingState.ONGOING
            or not q
            or q["status"] != "open"
            or not q["closes_at"]
        ):
            return
        from datetime import datetime

        from django.utils import timezone

        closes_at = datetime.fromisoformat(q["closes_at"])
        seconds = max((closes_at - timezone.now()).total_seconds(), 0) + 0.05
        self.schedule_timer(meeting_id, q["id"], datetime.fromisoformat(q["opened_at"]), seconds)

    async def _expire(self, meeting_id, question_id, opened_at):
        try:
            m = await database_sync_to_async(services.close_if_expired)(
                meeting_id, question_id, opened_at
            )
            if m is not None:
                await publish_state(meeting_id)
        except Exception:
            log.exception("timer of meeting %s failed", meeting_id)


def _write_batch(batch: list[_Pending]) -> list[str]:
    """Group by question; one service call (one transaction) per question."""
    out: list[str] = [""] * len(batch)
    groups: dict[tuple[str, int, int], list[int]] = {}
    for i, p in enumerate(batch):
        groups.setdefault((p.kind, p.question_id, p.meeting_id), []).append(i)
    for (kind, qid, mid), idxs in groups.items():
        if kind == "answer":
            res = services.record_answers(qid, [batch[i].entry for i in idxs], meeting_id=mid)
        else:
            res = services.record_words(qid, [batch[i].entry for i in idxs], meeting_id=mid)
        for i, outcome in zip(idxs, res.outcomes, strict=True):
            out[i] = outcome
    return out


_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hub() -> Hub:
    loop = asyncio.get_running_loop()
    h = _hubs.get(loop)
    if h is None:
        h = _hubs[loop] = Hub()
    return h


def touch(meeting_id: int) -> None:
    hub().touch(meeting_id)


def _states(meeting_id: int):
    m = Meeting.objects.select_related("current_question", "controller").get(pk=meeting_id)
    return m, public_state(m), host_state(m)


async def publish_state(meeting_id: int) -> dict:
    """Send the new state to participants and dashboards (rare: once per host command)."""
    m, public, host = await database_sync_to_async(_states)(meeting_id)
    await publish(participants_group(meeting_id), {"type": "meeting.state", **public})
    await publish(host_group(meeting_id), {"type": "host.state", **host})
    q = m.current_question
    if m.state == MeetingState.ONGOING and q is not None and q.closes_at is not None:
        from django.utils import timezone

        seconds = max((q.closes_at - timezone.now()).total_seconds(), 0) + 0.05
        hub().schedule_timer(meeting_id, q.pk, q.opened_at, seconds)
    return public


async def publish_captures(meeting_id: int, captures: list[dict]) -> None:
    """Flag captures for the dashboards (one frame per batch) and a live refresh."""
    if captures:
        await publish(host_group(meeting_id), {"type": "flag.captured", "captures": captures})
        touch(meeting_id)
