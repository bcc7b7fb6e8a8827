"""Schemas of every frame on the overlay socket ``/ws/overlay/<token>/`` (docs/protocol.md).

Overlays only listen: the one command is ``ping``. Tests validate every server frame with
``validate_overlay_frame`` so this module, the docs and the wire cannot drift apart.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from .protocol import Ack, Error, ServerFrame, frame_table, validate_frame


class Ping(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OverlayMessage(BaseModel):
    """A chat message as overlays see it (no moderation notes, no reviewer)."""

    model_config = ConfigDict(extra="forbid")
    id: int
    platform: str
    source_id: int
    kind: str
    author: dict  # {display_name, login, avatar_url, badges: [{set_id, version, title, image_url}]}
    text: str
    fragments: list[dict]  # [{type, text, emote_id?, image_url?, url?}]; emotes with image_url
    amount_display: str
    sent_at: str | None
    status: str | None
    pinned: bool
    display_order: int | None


class FeaturedState(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meeting_id: int
    rotation_seconds: int
    display_limit: int
    capture_delay_seconds: int
    messages: list[OverlayMessage]
    held: int
    release_at: str | None


class OverlayHello(ServerFrame):
    type: Literal["hello"]
    protocol: int
    channel: Literal["overlay"]
    overlay: dict  # {id, kind, name, meeting_id, settings, custom_css: bool}
    state: dict  # featured: {featured}; ticker: {messages}; question/wordcloud/scoreboard:
    #              {meeting: public meeting state + live results + scoreboard}; joincard: {join}


class FeaturedStateFrame(FeaturedState):
    type: Literal["featured.state"]


class OverlayRemove(ServerFrame):
    type: Literal["overlay.remove"]
    ids: list[int]


class TickerMessages(ServerFrame):
    type: Literal["ticker.messages"]
    meeting_id: int
    messages: list[OverlayMessage]


class ChatAlert(ServerFrame):
    type: Literal["chat.alert"]
    meeting_id: int
    messages: list[OverlayMessage]  # kind paid / membership / gift / follow


class Alert(ServerFrame):
    """Published by bots/engine.py when a revolution fires."""

    type: Literal["alert"]
    kind: str
    meeting_id: int
    revolution_id: int | None = None
    message: str
    video_url: str


class OverlaySettingsFrame(ServerFrame):
    type: Literal["overlay.settings"]
    settings: dict
    custom_css: bool


class OverlayRevoked(ServerFrame):
    type: Literal["overlay.revoked"]


class MeetingStateFrame(ServerFrame):
    model_config = ConfigDict(extra="allow")
    type: Literal["meeting.state"]  # polls' public state, forwarded verbatim


class ResultsFrame(ServerFrame):
    """polls' live results, with the quiz answers taken out (the state reveals them)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["results"]
    meeting_id: int
    question_id: int | None
    results: dict | None
    scoreboard: list[dict]


OVERLAY_FRAMES = frame_table(
    OverlayHello,
    Ack,
    Error,
    FeaturedStateFrame,
    OverlayRemove,
    TickerMessages,
    ChatAlert,
    Alert,
    OverlaySettingsFrame,
    OverlayRevoked,
    MeetingStateFrame,
    ResultsFrame,
)


def validate_overlay_frame(frame: dict) -> ServerFrame:
    return validate_frame(OVERLAY_FRAMES, frame, "overlay")
