"""Database calls from Slack's worker threads (Bolt listeners, approvals, follow-ups).

When an ingest event loop runs in this process, the call is handed to that loop's thread-sensitive
executor: the same thread the pipeline stores batches in, so Slack's background writes never
contend with them (SQLite, shared in-memory test databases). Otherwise the call runs here. Either
way a "database is locked" error is retried for a few seconds instead of losing the change.
"""

from __future__ import annotations

import asyncio
import threading
import time

from asgiref.sync import sync_to_async
from django.db import OperationalError

_loop: asyncio.AbstractEventLoop | None = None
_users = 0
_lock = threading.Lock()
LOCKED_RETRY_SECONDS = 10.0


def acquire_loop(loop: asyncio.AbstractEventLoop) -> None:
    """An adapter runs on ``loop``: route worker-thread DB calls there until released."""
    global _loop, _users
    with _lock:
        _loop, _users = loop, (_users + 1 if _loop is loop else 1)


def release_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _loop, _users
    with _lock:
        if _loop is loop:
            _users -= 1
            if _users <= 0:
                _loop, _users = None, 0


def retry_locked(fn, *args, **kwargs):
    deadline = time.monotonic() + LOCKED_RETRY_SECONDS
    while True:
        try:
            return fn(*args, **kwargs)
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def run_db(fn, *args, **kwargs):
    """Run ``fn`` (sync, uses the ORM) from a worker thread (never from async code)."""
    loop = _loop
    if loop is not None and loop.is_running():
        call = sync_to_async(retry_locked, thread_sensitive=True)
        return asyncio.run_coroutine_threadsafe(call(fn, *args, **kwargs), loop).result(120)
    return retry_locked(fn, *args, **kwargs)


_bg_loop: asyncio.AbstractEventLoop | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    """A long-lived loop for async work started from threads when no ingest loop runs here
    (publishing, pipeline listeners that keep tasks running, e.g. coalescing overlays)."""
    global _bg_loop
    with _lock:
        if _bg_loop is None or not _bg_loop.is_running():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run():
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=run, name="slack-async", daemon=True).start()
            ready.wait(5)
            _bg_loop = loop
        return _bg_loop


def run_async(fn, *args, timeout: float = 60.0):
    """Run coroutine function ``fn(*args)`` on the ingest loop (or a background loop); wait."""
    loop = _loop if _loop is not None and _loop.is_running() else _background_loop()
    return asyncio.run_coroutine_threadsafe(fn(*args), loop).result(timeout)
