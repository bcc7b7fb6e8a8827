"""Replay a recorded chat: a JSONL file of normalized ``ChatEvent``s, one JSON object per line.

For demos (replay a real show), load tests (replay at any rate) and tests (append a line and it
goes through the real pipeline, store and websocket broadcast).

Settings (ChatSource.settings):
- ``path``: the file, relative to CHORUS_REPLAY_DIR (absolute paths must lie inside it).
- ``rate``: events per second (default 0 = as fast as the pipeline takes them).
- ``follow``: keep watching the file for appended lines, like ``tail -f`` (default false: the
  source finishes at the end of the file).
- ``restamp``: set ``sent_at``/``received_at`` to now, so an old recording looks live (default
  false).
- ``poll_seconds``: how often a followed file is checked for new lines (default 0.2).

Each line is a ``ChatEvent`` as JSON (``docs/events.md``); ``source_id`` and ``cursor`` are set by
the adapter. The resume cursor is the number of lines consumed, so a restarted adapter continues
after the last stored line: nothing is replayed twice (events are deduplicated anyway) and nothing
is skipped. A line that is not a valid event is reported in the source status with its line
number and skipped; the lines after it still play.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from pydantic import ValidationError

from ..events import ChatEvent
from .base import Adapter, FatalAdapterError, register

log = logging.getLogger(__name__)


def resolve_replay_path(raw: str) -> Path:
    """The file a replay source reads; refuses anything outside CHORUS_REPLAY_DIR."""
    if not raw:
        raise FatalAdapterError('a replay source needs settings {"path": "<file.jsonl>"}')
    base = Path(settings.CHORUS_REPLAY_DIR).resolve()
    path = (base / raw).resolve()
    if not path.is_relative_to(base):
        raise FatalAdapterError(f"replay files must be inside CHORUS_REPLAY_DIR ({base})")
    return path


def _read_lines(path: Path, offset: int) -> tuple[list[str], int]:
    """Complete lines from byte ``offset`` on, and the offset after the last complete one."""
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    chunk = data[: end + 1]
    return chunk.decode("utf-8", errors="replace").splitlines(), offset + len(chunk)


def _skip_lines(path: Path, count: int) -> int:
    """Byte offset just after the first ``count`` lines."""
    offset = 0
    with path.open("rb") as fh:
        for _ in range(count):
            line = fh.readline()
            if not line.endswith(b"\n"):
                break
            offset += len(line)
    return offset


@register
class ReplayAdapter(Adapter):
    platform = "replay"

    async def run(self) -> None:
        opts = self.source.settings
        path = resolve_replay_path(str(opts.get("path", "")))
        rate = float(opts.get("rate", 0) or 0)
        follow = bool(opts.get("follow", False))
        restamp = bool(opts.get("restamp", False))
        poll = max(float(opts.get("poll_seconds", 0.2)), 0.05)
        if not path.exists() and not follow:
            raise FatalAdapterError(f"replay file {path.name} does not exist")

        line_no = int(self.cursor) if self.cursor.isdigit() else 0
        offset = await asyncio.to_thread(_skip_lines, path, line_no) if path.exists() else 0
        self.status.connected(f"replaying {path.name} from line {line_no + 1}")
        start = time.monotonic()
        emitted = 0
        bad = 0
        while True:
            lines: list[str] = []
            if path.exists():
                lines, offset = await asyncio.to_thread(_read_lines, path, offset)
            for text in lines:
                line_no += 1
                if not text.strip():
                    continue
                event = self._parse(text, line_no)
                if event is None:
                    bad += 1
                    continue
                if restamp:
                    event.sent_at = event.received_at = datetime.now(UTC)
                event.cursor = str(line_no)
                if rate > 0:
                    wait = start + emitted / rate - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                await self.emit(event)
                emitted += 1
            if not lines:
                if not follow:
                    detail = f"finished {path.name}: {emitted} events"
                    self.status.offline(detail + (f", {bad} invalid lines skipped" if bad else ""))
                    return
                await asyncio.sleep(poll)

    def _parse(self, text: str, line_no: int) -> ChatEvent | None:
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("a line must be a JSON object")
            data.pop("source_id", None)
            data.pop("cursor", None)
            return ChatEvent.model_validate(data)
        except (ValueError, ValidationError) as exc:
            reason = str(exc).splitlines()[0][:200]
            log.warning("replay source %s line %d skipped: %s", self.source.id, line_no, reason)
            self.status.note(f"line {line_no} skipped: {reason}")
            return None
