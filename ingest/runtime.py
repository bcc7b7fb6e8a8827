"""Ingest inside the web server process (the embedded default, INGEST_IN_PROCESS=true).

Started by the ASGI lifespan event (uvicorn) or, for servers without lifespan (daphne's
runserver), on the first connection. It belongs to the process, never to a browser tab:
closing a dashboard stops nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys

from django.conf import settings

log = logging.getLogger(__name__)
_state: dict = {}


def start_in_process_ingest() -> None:
    """Idempotent: start the pipeline + supervisor on the running event loop."""
    if not settings.INGEST_IN_PROCESS or "task" in _state:
        return
    from .pipeline import Pipeline
    from .supervisor import Supervisor

    pipeline = Pipeline()
    supervisor = Supervisor(pipeline)
    _state["pipeline"] = pipeline
    _state["supervisor"] = supervisor
    _state["task"] = asyncio.get_running_loop().create_task(supervisor.run(), name="chorus-ingest")
    log.info("in-process ingest started (worker %s)", supervisor.worker)


async def stop_in_process_ingest() -> None:
    task = _state.pop("task", None)
    if task:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    for key in ("pipeline", "supervisor"):
        _state.pop(key, None)


def tune_process() -> None:
    """Once per server process, at startup: garbage collection and GIL switching tuned for a
    server holding thousands of sockets (docs/configuration.md "Server process").

    - ``gc.freeze()`` moves everything loaded so far (Django, the apps) out of the collector's
      sight, and higher thresholds make collections rarer: with Python's defaults a full
      collection of a 2,000-socket process took 200-300 ms and, landing in a vote storm, added
      that to every answer;
    - a shorter GIL switch interval: the vote batches are written on the database thread, and
      every query's return waited up to 5 ms (Python's default) for a busy event loop to yield.
    """
    if _state.get("tuned"):
        return
    _state["tuned"] = True
    thresholds = (settings.GC_THRESHOLDS or "").strip()
    if thresholds:
        gen0, gen1, gen2 = (int(x) for x in thresholds.split(","))
        gc.collect()
        gc.freeze()
        gc.set_threshold(gen0, gen1, gen2)
    if settings.GIL_SWITCH_INTERVAL:
        sys.setswitchinterval(settings.GIL_SWITCH_INTERVAL)
    log.info(
        "server process tuned: gc thresholds %s, GIL switch interval %s s",
        gc.get_threshold(),
        sys.getswitchinterval(),
    )


class IngestLifespan:
    """ASGI wrapper: runs in-process ingest for the server's lifetime."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    tune_process()
                    start_in_process_ingest()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await stop_in_process_ingest()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        start_in_process_ingest()
        await self.app(scope, receive, send)
