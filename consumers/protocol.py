"""Schemas of every frame on the moderation socket (see docs/protocol.md).

Client frames are validated with these models; tests validate every server frame against the
server models, so the documentation and the wire cannot drift apart.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- client -> server -----------------------------------------------------------------------
class MessageUpdate(_Frame):
    message_id: int = Field(gt=0)
    status: Literal["new", "reviewed", "sent", "ignored"] | None = None
    note: str | None = Field(default=None, max_length=4000)
    display_selected: bool | None = None
    pinned: bool | None = None


class Ping(_Frame):
    pass


class MessagesQuery(_Frame):
    """Ask for a page of stored messages (newest first). The ack carries ``messages`` and
    ``next_before_id`` (pass it as ``before_id`` for the next, older page; null at the end)."""

    status: str | None = Field(default=None, max_length=64)
    platform: str | None = Field(default=None, max_length=16)
    source: str | int | None = None
    author: str | None = Field(default=None, max_length=255)
    text: str | None = Field(default=None, max_length=255)
    before_id: int | None = Field(default=None, gt=0)
    limit: int = Field(default=100, ge=1, le=500)


class PlatformModerate(_Frame):
    """Delete the message on its platform, or time out / ban its author there
    (ingest.platform_actions.moderate). ``seconds`` (timeout only) defaults to 600."""

    message_id: int = Field(gt=0)
    action: Literal["delete", "timeout", "ban"]
    seconds: int | None = Field(default=None, ge=1, le=1_209_600)
    reason: str = Field(default="", max_length=500)


class ChatPost(_Frame):
    """Post to a source's chat as its connected account (ingest.platform_actions.post)."""

    source_id: int = Field(gt=0)
    text: str = Field(min_length=1, max_length=500)


# --- server -> client -----------------------------------------------------------------------
class ServerFrame(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str


class Hello(ServerFrame):
    type: Literal["hello"]
    protocol: int
    channel: str
    user: str | None = None
    sources: list[dict] = []
    # platform -> {"moderate": [delete/timeout/ban Chorus can do there], "post": bool}
    capabilities: dict[str, dict] = {}


class Ack(ServerFrame):
    model_config = ConfigDict(extra="allow")
    type: Literal["ack"]
    ref: str | int | None


class Error(ServerFrame):
    type: Literal["error"]
    ref: str | int | None
    code: str
    message: str
    details: list[dict] | None = None


class ChatMessages(ServerFrame):
    type: Literal["chat.messages"]
    messages: list[dict]


class ChatUpdated(ServerFrame):
    type: Literal["chat.updated"]
    messages: list[dict]


class ChatModeration(ServerFrame):
    type: Literal["chat.moderation"]
    events: list[dict]


class MessageUpdated(ServerFrame):
    type: Literal["message.updated"]
    message: dict
    by: str | None
    changes: dict


class DisplayReordered(ServerFrame):
    type: Literal["display.reordered"]
    order: list[int]
    by: str | None


class SourceStatus(ServerFrame):
    type: Literal["source.status"]
    source: dict


class SourceSessions(ServerFrame):
    type: Literal["source.sessions"]
    sessions: list[dict]


class ObsStatus(ServerFrame):
    type: Literal["obs.status"]
    connection: dict  # {id, status, reason}


class ClipSaved(ServerFrame):
    type: Literal["clip.saved"]
    clip: dict  # {id, author, keyword, path, size_bytes}


def frame_table(*models: type[ServerFrame]) -> dict[str, type[ServerFrame]]:
    """``{frame type: model}`` from models whose ``type`` field is a single Literal."""
    return {m.model_fields["type"].annotation.__args__[0]: m for m in models}


def validate_frame(
    table: dict[str, type[ServerFrame]], frame: dict, channel: str = "server"
) -> ServerFrame:
    """Raise if ``frame`` is not one of the documented frames of ``table``."""
    model = table.get(frame.get("type"))
    if model is None:
        raise ValueError(f"undocumented {channel} frame type {frame.get('type')!r}")
    return model.model_validate(frame)


SERVER_FRAMES = frame_table(
    Hello,
    Ack,
    Error,
    ChatMessages,
    ChatUpdated,
    ChatModeration,
    MessageUpdated,
    DisplayReordered,
    SourceStatus,
    SourceSessions,
    ObsStatus,
    ClipSaved,
)


def validate_server_frame(frame: dict) -> ServerFrame:
    """Raise if ``frame`` is not a documented server frame."""
    return validate_frame(SERVER_FRAMES, frame)
