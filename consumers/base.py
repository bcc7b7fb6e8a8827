"""The one websocket wire format (docs/protocol.md), shared by every consumer.

Client -> server: a JSON object ``{"type": "<command>", "ref": "<optional id>", ...fields}``.
Server -> client: ``{"type": "<event>", ...}``; each command is answered with
``{"type": "ack", "ref": ..., ...}`` or ``{"type": "error", "ref": ..., "code": ..., "message": ...}``.
A malformed, unknown, oversized or flooding frame gets an error frame; the socket stays open.

Subclasses declare commands with ``@command("type", Schema, staff=True)`` and stay thin: the
handler validates nothing itself and calls a service.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from pydantic import BaseModel, ValidationError

from overlays.fanout import Member, local_groups

log = logging.getLogger(__name__)
PROTOCOL_VERSION = 1

# Close codes (4000-4999 are ours).
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_FLOOD = 4429


class CommandError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Command:
    name: str
    schema: type[BaseModel]
    method: str
    permission: str | None
    background: bool = False


def command(
    name: str, schema: type[BaseModel], permission: str | None = None, background: bool = False
):
    """Mark a consumer method as the handler of client frame ``name``.

    ``permission`` names a consumer method ``async def <permission>(self) -> bool`` evaluated on
    EVERY command (a role can be revoked while a socket is open).
    ``background=True``: the handler (e.g. a call to a platform's API, which may wait in a send
    queue) runs in a task, so the socket keeps receiving events meanwhile; its ack/error is sent
    when it finishes. At most ``max_background`` run at once per socket (else error ``busy``).
    """

    def wrap(fn):
        fn._chorus_command = _Command(name, schema, fn.__name__, permission, background)
        return fn

    return wrap


class TokenBucket:
    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        self.rate = rate
        self.capacity = burst
        self.tokens = float(burst)
        self.clock = clock
        self.updated = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class FrameConsumer(AsyncWebsocketConsumer):
    channel: str = "base"  # name sent in the hello frame
    max_frame_bytes: int | None = None
    # After this many refused frames in a row (flood), the socket is closed with 4429.
    flood_close_after = 200
    max_background = 8

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._commands = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                spec = getattr(attr, "_chorus_command", None)
                if spec is not None:
                    cls._commands[spec.name] = spec

    async def __call__(self, scope, receive, send):
        if self.channel_layer_alias is not None:
            await super().__call__(scope, receive, send)
            return
        # No channel-layer channel (a RelayedConsumer): only the client sends messages, so read
        # them in a plain loop. Channels' await_many_dispatch would create a task and run an
        # asyncio.wait for every frame, a large part of a frame's cost in a vote storm.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    # --- hooks for subclasses -------------------------------------------------------------
    async def authorize(self) -> bool | int:
        """Return True to accept, False (or a close code) to refuse the connection."""
        return True

    async def groups_for(self) -> list[str]:
        return []

    async def hello(self) -> dict:
        """Extra fields for the hello frame (e.g. the current state)."""
        return {}

    # --- connection -----------------------------------------------------------------------
    async def connect(self):
        self.bucket = TokenBucket(settings.WS_RATE_PER_SECOND, settings.WS_RATE_BURST)
        self.refused_in_a_row = 0
        self.joined: list[str] = []
        self._background_tasks: set[asyncio.Task] = set()
        verdict = await self.authorize()
        if verdict is not True:
            await self.close(code=CLOSE_FORBIDDEN if isinstance(verdict, bool) else verdict)
            return
        await self.accept()
        for group in await self.groups_for():
            await self.join(group)
        await self.send_frame(
            {
                "type": "hello",
                "protocol": PROTOCOL_VERSION,
                "channel": self.channel,
                **(await self.hello()),
            }
        )

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.append(group)

    async def leave(self, group: str) -> None:
        await self.channel_layer.group_discard(group, self.channel_name)
        if group in self.joined:
            self.joined.remove(group)

    async def disconnect(self, code):
        # Background commands are NOT cancelled: a ban already sent to the platform still gets
        # recorded; their answer is simply not sent (see _answer_command).
        self._socket_gone = True
        for group in list(getattr(self, "joined", [])):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def send_frame(self, frame: dict) -> None:
        await self.send(
            text_data=json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)
        )

    async def send_error(self, ref, code: str, message: str, **extra) -> None:
        await self.send_frame(
            {"type": "error", "ref": ref, "code": code, "message": message, **extra}
        )

    # Channel-layer handler: frames rendered once by ingest.publish are forwarded verbatim.
    async def frame_forward(self, event):
        await self.send(text_data=event["frame"])

    async def dispatch(self, message):
        # channels runs close_old_connections() on the single sync thread before EVERY handler.
        # Forwarding a rendered frame touches no database, and that hop queued each frame of each
        # dashboard behind the pipeline's store (and closed its connection): skip it here only.
        if message["type"] == "frame.forward":
            await self.frame_forward(message)
            return
        await super().dispatch(message)

    # --- client frames --------------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None):
        if not self.bucket.take():
            self.refused_in_a_row += 1
            if self.refused_in_a_row >= self.flood_close_after:
                await self.close(code=CLOSE_FLOOD)
                return
            await self.send_error(None, "rate_limited", "too many frames; slow down")
            return
        limit = self.max_frame_bytes or settings.WS_MAX_FRAME_BYTES
        if bytes_data is not None:
            await self._refuse(None, "bad_frame", "binary frames are not supported; send JSON text")
            return
        # The limit is in bytes (UTF-8), as documented; encode only a frame that could pass it.
        if len(text_data) > limit or (
            len(text_data) * 4 > limit and len(text_data.encode()) > limit
        ):
            await self._refuse(None, "frame_too_large", f"frames are limited to {limit} bytes")
            return
        try:
            data = json.loads(text_data)
        except ValueError as exc:
            await self._refuse(None, "bad_json", f"frame is not valid JSON: {exc}")
            return
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            await self._refuse(None, "bad_frame", 'a frame is a JSON object with a string "type"')
            return
        ref = data.pop("ref", None)
        if ref is not None and not isinstance(ref, str | int):
            await self._refuse(None, "bad_frame", '"ref" must be a string or an integer')
            return
        spec = self._commands.get(data.pop("type"))
        if spec is None:
            known = ", ".join(sorted(self._commands))
            await self._refuse(
                ref, "unknown_type", f"unknown frame type; this channel accepts: {known}"
            )
            return
        try:
            payload = spec.schema.model_validate(data)
        except ValidationError as exc:
            details = [
                {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in exc.errors()
            ]
            await self._refuse(ref, "invalid", f"invalid {spec.name} frame", details=details)
            return
        if spec.permission and not await getattr(self, spec.permission)():
            await self._refuse(ref, "forbidden", f"you are not allowed to {spec.name}")
            return
        self.refused_in_a_row = 0
        if spec.background:
            if len(self._background_tasks) >= self.max_background:
                await self.send_error(
                    ref, "busy", f"{self.max_background} commands are still running; wait for one"
                )
                return
            task = asyncio.create_task(self._run_command(spec, payload, ref))
            self._background_tasks.add(task)
            task.add_done_callback(self._background_tasks.discard)
            return
        await self._run_command(spec, payload, ref)

    async def _run_command(self, spec: _Command, payload: BaseModel, ref) -> None:
        try:
            result = await getattr(self, spec.method)(payload)
        except CommandError as exc:
            await self._answer_command(spec, self.send_error(ref, exc.code, exc.message))
            return
        except Exception:
            log.exception("command %s failed", spec.name)
            await self._answer_command(
                spec, self.send_error(ref, "internal", "the server could not process this command")
            )
            return
        await self._answer_command(spec, self.send_frame({"type": "ack", "ref": ref, **(result or {})}))

    async def _answer_command(self, spec: _Command, sending) -> None:
        if spec.background and getattr(self, "_socket_gone", False):
            sending.close()  # the client left while the command ran
            return
        await sending

    async def _refuse(self, ref, code: str, message: str, **extra) -> None:
        self.refused_in_a_row += 1
        await self.send_error(ref, code, message, **extra)


class RelayedConsumer(Member, FrameConsumer):
    """A FrameConsumer fed by its server process's relays (overlays/fanout.py) instead of a
    channel-layer channel of its own: for sockets that come in crowds and only LISTEN to groups
    (participants, overlays). Each group is joined once per process, a frame is handed to the
    local sockets directly, and the socket runs no channel-layer receive. Subclasses list their
    groups in ``relay_groups``; ``groups_for`` (a layer channel) is not available to them."""

    channel_layer_alias = None

    def relay_groups(self) -> list[str]:
        return []

    async def listen(self) -> None:
        """Join the relay groups (call it in ``hello`` BEFORE reading the state: nothing that
        happens in between is lost; frames are held until the hello is sent)."""
        self.relay_setup()
        self.local = local_groups(get_channel_layer())
        self.relayed: list[str] = []
        for group in self.relay_groups():
            await self.local.add(group, self)
            self.relayed.append(group)

    async def connect(self):
        await super().connect()
        self.relay_release()  # frames that arrived while the hello was prepared, after it

    async def disconnect(self, code):
        for group in getattr(self, "relayed", []):
            await self.local.discard(group, self)
        await super().disconnect(code)

    async def websocket_receive(self, message):
        # As with a channel-layer channel (one message at a time), relayed frames wait while a
        # client frame is handled: the answer to a command comes before the frames it caused.
        held = getattr(self, "_held", None)
        if held is False:
            self._held = True
        try:
            await super().websocket_receive(message)
        finally:
            if held is False:
                self.relay_release()

    async def join(self, group: str) -> None:
        raise TypeError("a RelayedConsumer has no channel-layer channel; use relay_groups")


@database_sync_to_async
def user_has_role(user_id: int | None, *roles: str) -> bool:
    """Fresh from the database: staff, or a member of one of the named groups."""
    if not user_id:
        return False
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return user.groups.filter(name__in=roles).exists()
