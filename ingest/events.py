"""The ONE normalized chat event every adapter produces (documented in docs/events.md).

Adapters build a ``ChatEvent``; the pipeline validates, stores and publishes it. Everything
platform-specific that does not fit a field goes into ``extra``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EVENT_VERSION = 1


class Kind(StrEnum):
    MESSAGE = "message"
    PAID = "paid"  # super chat, super sticker, bits, paid message
    MEMBERSHIP = "membership"  # sub, resub, new member, membership milestone
    FOLLOW = "follow"
    GIFT = "gift"  # gift sub, TikTok gift, membership gift
    SHARE = "share"
    LIKE = "like"  # aggregated likes
    RAID = "raid"
    ANNOUNCEMENT = "announcement"
    EDIT = "edit"  # an edit of an earlier message (target_message_id)
    DELETION = "deletion"
    BAN = "ban"
    TIMEOUT = "timeout"
    UNBAN = "unban"
    CLEAR = "clear"  # the whole chat, or one user's messages when target_author is set
    STREAM_START = "stream-start"
    STREAM_END = "stream-end"


MESSAGE_KINDS = frozenset(
    {
        Kind.MESSAGE,
        Kind.PAID,
        Kind.MEMBERSHIP,
        Kind.FOLLOW,
        Kind.GIFT,
        Kind.SHARE,
        Kind.LIKE,
        Kind.RAID,
        Kind.ANNOUNCEMENT,
    }
)
MODERATION_KINDS = frozenset({Kind.DELETION, Kind.BAN, Kind.TIMEOUT, Kind.UNBAN, Kind.CLEAR})
SESSION_KINDS = frozenset({Kind.STREAM_START, Kind.STREAM_END})


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Badge(_Strict):
    set_id: str
    version: str = ""
    title: str = ""
    image_url: str = ""


class Author(_Strict):
    id: str = Field(min_length=1, max_length=255, description="Platform user id (stable)")
    login: str = Field(default="", max_length=255)
    display_name: str = Field(default="", max_length=255)
    avatar_url: str = Field(default="", max_length=1000)
    roles: list[str] = Field(
        default_factory=list,
        description="Normalized roles: broadcaster, moderator, vip, subscriber, member, verified, staff",
    )
    badges: list[Badge] = Field(default_factory=list)
    color: str = ""


class Fragment(_Strict):
    type: Literal["text", "emote", "mention", "link", "cheermote", "emoji"] = "text"
    text: str
    emote_id: str = ""
    image_url: str = ""
    url: str = ""


class SessionInfo(_Strict):
    platform_session_id: str = ""
    title: str = ""
    category: str = ""
    viewer_count: int | None = None
    reason: str = ""


class ChatEvent(_Strict):
    v: Literal[1] = EVENT_VERSION
    kind: Kind
    platform: str = Field(min_length=1, max_length=16)
    source_id: int | None = Field(
        default=None, description="ChatSource primary key (set by the supervisor)"
    )
    id: str = Field(
        min_length=1,
        max_length=255,
        description="Platform message/event id; unique per platform (dedup key)",
    )
    author: Author | None = None
    text: str = ""
    fragments: list[Fragment] = Field(default_factory=list)
    amount: Decimal | None = None
    currency: str = Field(default="", max_length=16)
    amount_display: str = Field(default="", max_length=64)
    reply_to: str = Field(default="", max_length=255)
    # Moderation targets.
    target_message_id: str = Field(default="", max_length=255)
    target_text: str = ""
    moderator: str = Field(default="", max_length=255)
    reason: str = ""
    duration_seconds: int | None = Field(default=None, ge=0)
    ends_at: datetime | None = None
    session: SessionInfo | None = None
    sent_at: datetime = Field(
        default_factory=utcnow, description="When the platform says it happened"
    )
    received_at: datetime = Field(default_factory=utcnow, description="When the adapter got it")
    cursor: str | None = Field(
        default=None,
        description="Adapter resume point; persisted once this event and all before it are stored",
    )
    extra: dict = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_shape(self):
        if self.kind in MESSAGE_KINDS and self.author is None and self.kind != Kind.LIKE:
            raise ValueError(f"a {self.kind.value} event needs an author")
        if self.kind == Kind.DELETION and not self.target_message_id:
            raise ValueError("a deletion needs target_message_id")
        if self.kind in (Kind.BAN, Kind.TIMEOUT, Kind.UNBAN) and self.author is None:
            raise ValueError(f"a {self.kind.value} needs the target user as author")
        if self.kind == Kind.EDIT and not self.target_message_id:
            raise ValueError("an edit needs target_message_id")
        if self.amount is not None and not self.currency:
            raise ValueError("amount needs a currency (ISO code, or bits/diamonds/coins)")
        if self.kind == Kind.TIMEOUT and self.ends_at is None and self.duration_seconds:
            from datetime import timedelta

            self.ends_at = self.sent_at + timedelta(seconds=self.duration_seconds)
        return self

    @property
    def is_message(self) -> bool:
        return self.kind in MESSAGE_KINDS

    @property
    def is_moderation(self) -> bool:
        return self.kind in MODERATION_KINDS
