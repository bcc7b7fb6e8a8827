"""Frames of the host dashboard's bots panel socket (/ws/bots/<meeting id>/); see docs/protocol.md."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .protocol import frame_table


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SetEnabled(_Frame):
    kind: Literal["bots", "timer", "timer_group", "command", "revolution"]
    enabled: bool
    id: int | None = Field(default=None, gt=0)
    group: str | None = Field(default=None, max_length=50)


class ServerFrame(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str


class BotsConfig(ServerFrame):
    type: Literal["bots.config"]
    meeting_id: int
    enabled: bool
    configured: bool
    prefix: str
    timers: list[dict]
    commands: list[dict]
    revolutions: list[dict]


class BotsHello(ServerFrame):
    type: Literal["hello"]
    protocol: int
    channel: Literal["bots"]
    bots: dict


class RevolutionCount(ServerFrame):
    type: Literal["revolution.count"]
    revolution_id: int
    count: int
    threshold: int


class Alert(ServerFrame):
    type: Literal["alert"]
    kind: str
    meeting_id: int
    revolution_id: int | None = None
    message: str
    video_url: str


SERVER_FRAMES = frame_table(BotsConfig, BotsHello, RevolutionCount, Alert)
