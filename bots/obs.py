"""OBS through obs-websocket 5 (obsws-python), kept off the event loop.

obsws-python is synchronous and its ReqClient does not match responses to request ids, so each
connection has ONE ReqClient behind a lock, used from worker threads (``asyncio.to_thread``). An
EventClient (its own thread) delivers ReplayBufferSaved. A connection reconnects with backoff,
and its status (connected / error with reason) is written to ObsConnection and published.
obsws-python logs the password at INFO: its logger is kept at WARNING (settings.LOGGING and here).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from ingest.supervisor import backoff_delay

logging.getLogger("obsws_python").setLevel(logging.WARNING)
log = logging.getLogger(__name__)


class ObsActionError(Exception):
    """An OBS action failed; the message says which and why."""


@dataclass
class ObsSettings:
    id: int
    host: str
    port: int
    password: str
    timeout: float = 3.0


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "failed to identify client" in text:
        return "authentication failed: wrong OBS websocket password"
    if isinstance(exc, ConnectionRefusedError | OSError) and "refused" in text.lower():
        return f"OBS is not reachable (connection refused): {text}"
    return f"{type(exc).__name__}: {text}"


class ObsConnectionRunner:
    """One live OBS connection with reconnects. ``call()`` runs a request in a thread."""

    def __init__(
        self,
        cfg: ObsSettings,
        *,
        on_status: Callable[[str, str], Awaitable[None]] | None = None,
        on_replay_saved: Callable[[str], Awaitable[None]] | None = None,
    ):
        self.cfg = cfg
        self.on_status = on_status
        self.on_replay_saved = on_replay_saved
        self._lock = threading.Lock()
        self._req = None
        self._events = None
        self._connected = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.state = "idle"
        self.reason = ""

    # --- status ---------------------------------------------------------------------------
    async def _status(self, state: str, reason: str = "") -> None:
        if (state, reason) == (self.state, self.reason):
            return
        self.state, self.reason = state, reason
        if self.on_status:
            try:
                await self.on_status(state, reason)
            except Exception:
                log.exception("OBS status callback failed")

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), seconds)
            return True
        except TimeoutError:
            return False

    # --- connection (threads) -------------------------------------------------------------
    def _open(self) -> None:
        import obsws_python as obs

        kw = dict(
            host=self.cfg.host,
            port=self.cfg.port,
            password=self.cfg.password,
            timeout=self.cfg.timeout,
        )
        req = obs.ReqClient(**kw)
        try:
            events = obs.EventClient(**kw)
        except Exception:
            with contextlib.suppress(Exception):
                req.disconnect()
            raise
        runner = self

        def on_replay_buffer_saved(data):  # name matters: obsws-python dispatches by it
            path = getattr(data, "saved_replay_path", "")
            if runner._loop and runner.on_replay_saved and path:
                asyncio.run_coroutine_threadsafe(runner.on_replay_saved(path), runner._loop)

        events.callback.register(on_replay_buffer_saved)
        with self._lock:
            self._req, self._events = req, events

    def _close(self) -> None:
        with self._lock:
            req, events, self._req, self._events = self._req, self._events, None, None
        for client in (events, req):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.base_client.ws.close()

    def _alive(self) -> bool:
        with self._lock:
            if self._req is None or self._events is None:
                return False
            if not self._events.worker.is_alive():
                return False
            try:
                self._req.get_version()
            except Exception:
                return False
            return True

    def _locked(self, fn: Callable[[Any], Any]):
        with self._lock:
            if self._req is None:
                raise ObsActionError(f"OBS is not connected ({self.reason or self.state})")
            return fn(self._req)

    async def call(self, fn: Callable[[Any], Any]):
        """Run ``fn(req_client)`` in a thread, serialized with every other request."""
        return await asyncio.to_thread(self._locked, fn)

    # --- lifecycle ------------------------------------------------------------------------
    async def run(self, *, health_seconds: float = 1.0) -> None:
        self._loop = asyncio.get_running_loop()
        attempt = 0
        try:
            while True:
                await self._status("connecting")
                try:
                    await asyncio.to_thread(self._open)
                except Exception as exc:
                    attempt += 1
                    delay = backoff_delay(
                        attempt, settings.OBS_BACKOFF_INITIAL, settings.OBS_BACKOFF_MAX
                    )
                    await self._status("error", f"{_describe(exc)} (retry in {delay:.1f} s)")
                    await asyncio.sleep(delay)
                    continue
                attempt = 0
                self._connected.set()
                await self._status("connected")
                while await asyncio.to_thread(self._alive):  # noqa: ASYNC110 (a health ping, not a flag)
                    await asyncio.sleep(health_seconds)
                self._connected.clear()
                await asyncio.to_thread(self._close)
                await self._status("error", "connection to OBS lost; reconnecting")
        finally:
            self._connected.clear()
            await asyncio.to_thread(self._close)


# --- actions ----------------------------------------------------------------------------------
def _save_replay(req, start_wait: float = 5.0) -> None:
    status = req.get_replay_buffer_status()
    if not status.output_active:
        req.start_replay_buffer()
        deadline = time.monotonic() + start_wait
        while not req.get_replay_buffer_status().output_active:
            if time.monotonic() > deadline:
                raise ObsActionError("the replay buffer did not start")
            time.sleep(0.1)
        time.sleep(1.0)  # OBS refuses a save right after the buffer starts
    last_error = None
    for _ in range(10):
        try:
            req.save_replay_buffer()
            return
        except Exception as exc:  # 501 while the buffer is still warming up
            last_error = exc
            time.sleep(0.3)
    raise ObsActionError(f"could not save the replay buffer: {last_error}")


def run_action(req, action: dict, variables: dict) -> Any:
    """Perform one OBS action (in a worker thread, holding the connection lock)."""
    from .rules import render_template

    kind = action.get("type")
    if kind == "save_replay":
        return _save_replay(req)
    if kind == "switch_scene":
        return req.set_current_program_scene(action["scene"])
    if kind == "set_text":
        text = render_template(action.get("text", "{message}"), variables)
        return req.set_input_settings(action["input"], {"text": text}, True)
    if kind == "set_item_visible":
        item = req.get_scene_item_id(action["scene"], action["source"]).scene_item_id
        return req.set_scene_item_enabled(action["scene"], item, bool(action.get("visible", True)))
    if kind == "raw":
        return req.send(action["request"], action.get("data") or None, raw=True)
    raise ObsActionError(f"unknown OBS action {kind!r}")


# --- process-wide manager ---------------------------------------------------------------------
@dataclass
class PendingClip:
    trigger_id: int | None
    connection_id: int
    source_id: int | None
    message_id: int | None
    author: str
    keyword: str
    text: str


class ObsManager:
    """Starts one runner per ObsConnection on demand; routes saved replays to clip records."""

    def __init__(self):
        self.runners: dict[int, ObsConnectionRunner] = {}
        self.tasks: dict[int, asyncio.Task] = {}
        self.pending: dict[int, deque[PendingClip]] = {}

    async def runner(self, connection_id: int) -> ObsConnectionRunner:
        if connection_id in self.runners and not self.tasks[connection_id].done():
            return self.runners[connection_id]
        from .models import ObsConnection

        conn = await sync_to_async(ObsConnection.objects.get)(pk=connection_id)
        cfg = ObsSettings(conn.pk, conn.host, conn.port, conn.password)
        runner = ObsConnectionRunner(
            cfg,
            on_status=lambda s, r: _write_status(connection_id, s, r),
            on_replay_saved=lambda path: self._replay_saved(connection_id, path),
        )
        self.runners[connection_id] = runner
        self.pending.setdefault(connection_id, deque())
        self.tasks[connection_id] = asyncio.create_task(runner.run(), name=f"obs-{connection_id}")
        return runner

    async def run_actions(
        self, connection_id: int, actions: list[dict], variables: dict, clip: PendingClip | None
    ):
        runner = await self.runner(connection_id)
        if not await runner.wait_connected(settings.OBS_CONNECT_WAIT):
            raise ObsActionError(
                f"OBS connection {connection_id} is not connected: {runner.reason}"
            )
        for action in actions:
            if action.get("type") == "save_replay" and clip is not None:
                self.pending[connection_id].append(clip)
            try:
                await runner.call(lambda req, a=action: run_action(req, a, variables))
            except Exception:
                if action.get("type") == "save_replay" and clip is not None:
                    with contextlib.suppress(ValueError):
                        self.pending[connection_id].remove(clip)
                raise

    async def _replay_saved(self, connection_id: int, path: str) -> None:
        queue = self.pending.get(connection_id)
        if not queue:
            log.info("OBS saved %s (not requested by chat): left as is", path)
            return
        clip = queue.popleft()
        from .clips import record_clip

        try:
            await record_clip(clip, path)
        except Exception:
            log.exception("could not rename/record the replay %s", path)

    async def stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        for task in self.tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.runners.clear()
        self.tasks.clear()


async def _write_status(connection_id: int, state: str, reason: str) -> None:
    from ingest.publish import publish

    from .models import ObsConnection

    await sync_to_async(ObsConnection.objects.filter(pk=connection_id).update)(
        status=state, status_reason=reason[:2000], status_changed_at=timezone.now()
    )
    await publish(
        "bots",
        {
            "type": "obs.status",
            "connection": {"id": connection_id, "status": state, "reason": reason},
        },
    )


_manager: ObsManager | None = None


def manager() -> ObsManager:
    global _manager
    if _manager is None:
        _manager = ObsManager()
    return _manager
