"""Ingest inside the web server process (the embedded default, INGEST_IN_PROCESS=true).

Started by the ASGI lifespan event (uvicorn) or, for servers without lifespan (daphne's
runserver), on the first connection. It belongs to the process, never to a browser tab:
closing a dashboard stops nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

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
    _state.clear()


class IngestLifespan:
    """ASGI wrapper: runs in-process ingest for the server's lifetime."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    start_in_process_ingest()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await stop_in_process_ingest()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        start_in_process_ingest()
        await self.app(scope, receive, send)
