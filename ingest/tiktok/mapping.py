"""TikTokLive events -> normalized ChatEvents. Pure functions (no I/O), unit-tested.

Identity: the TikTok user id; login = ``display_id`` (the @handle; ``unique_id`` breaks on plain
User objects in TikTokLive 7.0.1); display name = ``nickname``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ..events import Author, Badge, ChatEvent, Kind, SessionInfo


def _when(common) -> datetime:
    ms = getattr(common, "create_time", 0) or 0
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else datetime.now(UTC)


def _msg_id(event, prefix: str) -> str:
    common = getattr(event, "common", None)
    mid = getattr(common, "msg_id", 0) if common is not None else 0
    if not mid:
        raise ValueError(f"TikTok {type(event).__name__} without common.msg_id")
    return f"{prefix}{mid}"


def author_of(event) -> Author | None:
    user = getattr(event, "user", None)
    if user is None or not getattr(user, "id", 0):
        return None
    roles = []
    ident = getattr(event, "user_identity", None)
    if ident is not None:
        if ident.is_anchor:
            roles.append("broadcaster")
        if ident.is_moderator_of_anchor:
            roles.append("moderator")
        if ident.is_subscriber_of_anchor:
            roles.append("subscriber")
        if ident.is_follower_of_anchor:
            roles.append("follower")
    avatar = ""
    thumb = getattr(user, "avatar_thumb", None)
    if thumb is not None and thumb.url_list:
        avatar = thumb.url_list[0]
    handle = getattr(user, "display_id", "") or ""
    return Author(
        id=str(user.id),
        login=handle[:255],
        display_name=(getattr(user, "nickname", "") or handle)[:255],
        avatar_url=avatar[:1000],
        roles=roles,
        badges=[Badge(set_id=r) for r in roles if r in ("moderator", "subscriber")],
    )


def comment(event) -> ChatEvent:
    return ChatEvent(
        kind=Kind.MESSAGE,
        platform="tiktok",
        id=_msg_id(event, "tt-"),
        author=author_of(event),
        text=getattr(event, "content", "") or "",
        sent_at=_when(event.common),
    )


def gift(event) -> ChatEvent | None:
    """A gift, or None while a streak is still running (a streak counts ONCE, at its end)."""
    if event.streaking:
        return None
    g = event.gift
    name = getattr(g, "name", "") or "gift"
    diamonds = int(getattr(g, "diamond_count", 0) or 0)
    count = max(int(event.repeat_count or 1), 1)
    return ChatEvent(
        kind=Kind.GIFT,
        platform="tiktok",
        id=_msg_id(event, "tt-gift-"),
        author=author_of(event),
        text=f"sent {name} ×{count}",
        amount=Decimal(diamonds * count),
        currency="diamonds",
        amount_display=f"{diamonds * count} diamonds",
        sent_at=_when(event.common),
        extra={
            "gift_name": name,
            "gift_id": getattr(g, "id", 0),
            "diamond_count": diamonds,
            "repeat_count": count,
        },
    )


def social(event, kind: Kind) -> ChatEvent:
    verb = "followed" if kind == Kind.FOLLOW else "shared the stream"
    return ChatEvent(
        kind=kind,
        platform="tiktok",
        id=_msg_id(event, f"tt-{kind.value}-"),
        author=author_of(event),
        text=verb,
        sent_at=_when(event.common),
    )


def likes(room_id: int, window_id: str, count: int, total: int, users: int) -> ChatEvent:
    """Likes aggregated over a window: one event, not one row per tap."""
    return ChatEvent(
        kind=Kind.LIKE,
        platform="tiktok",
        id=f"tt-likes-{room_id}-{window_id}",
        text=f"{count} likes",
        extra={"likes": count, "total": total, "users": users},
    )


def stream_start(room_id: int, handle: str) -> ChatEvent:
    return ChatEvent(
        kind=Kind.STREAM_START,
        platform="tiktok",
        id=f"tt-start-{room_id}",
        session=SessionInfo(platform_session_id=str(room_id), title=f"@{handle} on TikTok LIVE"),
    )


def stream_end(room_id: int, reason: str = "live ended") -> ChatEvent:
    return ChatEvent(
        kind=Kind.STREAM_END,
        platform="tiktok",
        id=f"tt-end-{room_id}",
        session=SessionInfo(platform_session_id=str(room_id), reason=reason),
    )
