"""YouTube liveChatMessage resources -> normalized ChatEvents (pure functions, no I/O).

``map_item`` turns one item of ``liveChatMessages.list`` into at most one ``ChatEvent``; it
raises ``MalformedItem`` for an item that does not have the documented shape (the adapter logs
and skips it). ``normalize_video_id`` accepts a video id or any common YouTube URL.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urlparse

from pydantic import ValidationError

from ..events import Author, Badge, ChatEvent, Kind, SessionInfo

PLATFORM = "youtube"
VIDEO_ID_RE = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YT_HOSTS = ("youtube.com", "youtu.be", "youtube-nocookie.com")


class MalformedItem(ValueError):
    """An item without the documented shape."""


def normalize_video_id(value: str) -> str:
    """A video id from an id or URL (watch?v=, youtu.be/, /live/, /shorts/, /embed/).

    Raises ValueError with a clear message for anything else.
    """
    value = (value or "").strip()
    if VIDEO_ID_RE.match(value):
        return value
    candidate = value if "://" in value else f"https://{value}"
    url = urlparse(candidate)
    host = (url.hostname or "").lower()
    if host.startswith("www.") or host.startswith("m."):
        host = host.split(".", 1)[1]
    if host not in _YT_HOSTS and not host.endswith(".youtube.com"):
        raise ValueError(f"not a YouTube video id or URL: {value[:200]!r}")
    found = ""
    if host == "youtu.be":
        found = url.path.strip("/").split("/")[0]
    else:
        query = parse_qs(url.query)
        if query.get("v"):
            found = query["v"][0]
        else:
            parts = [p for p in url.path.split("/") if p]
            if len(parts) >= 2 and parts[0] in ("live", "shorts", "embed", "v", "e"):
                found = parts[1]
    if not VIDEO_ID_RE.match(found):
        raise ValueError(f"no video id in this YouTube URL: {value[:200]!r}")
    return found


def parse_time(value) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def author_from(details: dict) -> Author:
    """An Author from ``authorDetails`` (or ``bannedUserDetails``)."""
    channel_id = details.get("channelId")
    if not channel_id or not isinstance(channel_id, str):
        raise MalformedItem("author without channelId")
    roles, badges = [], []
    for flag, role in (
        ("isChatOwner", "broadcaster"),
        ("isChatModerator", "moderator"),
        ("isChatSponsor", "member"),
        ("isVerified", "verified"),
    ):
        if details.get(flag):
            roles.append(role)
            badges.append(Badge(set_id=role, version="1", title=role))
    return Author(
        id=channel_id[:255],
        login="",
        display_name=str(details.get("displayName") or "")[:255],
        avatar_url=str(details.get("profileImageUrl") or "")[:1000],
        roles=roles,
        badges=badges,
    )


def _amount(details: dict) -> tuple[Decimal | None, str, str]:
    micros = details.get("amountMicros")
    if micros in (None, ""):
        return None, "", str(details.get("amountDisplayString") or "")
    try:
        amount = Decimal(str(micros)) / Decimal(1_000_000)
    except InvalidOperation as exc:
        raise MalformedItem(f"bad amountMicros {micros!r}") from exc
    currency = str(details.get("currency") or "")
    if not currency:
        raise MalformedItem("paid event without currency")
    return amount, currency[:16], str(details.get("amountDisplayString") or "")[:64]


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def map_item(item: dict, received_at: datetime | None = None) -> ChatEvent | None:
    """One ``youtube#liveChatMessage`` -> a ChatEvent, or None for types we do not show.

    Raises MalformedItem when the item is not shaped like the API documents.
    """
    if not isinstance(item, dict):
        raise MalformedItem("item is not an object")
    item_id = item.get("id")
    snippet = item.get("snippet")
    if not item_id or not isinstance(item_id, str) or not isinstance(snippet, dict):
        raise MalformedItem("item without id or snippet")
    kind_name = snippet.get("type")
    if not kind_name:
        raise MalformedItem("item without snippet.type")
    sent_at = parse_time(snippet.get("publishedAt"))
    if sent_at is None:
        raise MalformedItem("item without a valid publishedAt")
    details = item.get("authorDetails") or {}
    if not isinstance(details, dict):
        raise MalformedItem("authorDetails is not an object")
    display = str(snippet.get("displayMessage") or "")
    base = {
        "platform": PLATFORM,
        "id": item_id[:255],
        "sent_at": sent_at,
        "received_at": received_at or datetime.now(UTC),
    }

    def author() -> Author:
        return author_from(details)

    def sub(name) -> dict:
        value = snippet.get(name) or {}
        if not isinstance(value, dict):
            raise MalformedItem(f"{name} is not an object")
        return value

    try:
        if kind_name == "textMessageEvent":
            text = sub("textMessageDetails").get("messageText", display)
            return ChatEvent(kind=Kind.MESSAGE, author=author(), text=str(text or ""), **base)

        if kind_name in ("superChatEvent", "superStickerEvent", "fanFundingEvent"):
            d = sub(
                {
                    "superChatEvent": "superChatDetails",
                    "superStickerEvent": "superStickerDetails",
                    "fanFundingEvent": "fanFundingEventDetails",
                }[kind_name]
            )
            amount, currency, amount_display = _amount(d)
            extra = {"type": kind_name}
            if d.get("tier") is not None:
                extra["tier"] = _int(d.get("tier"))
            text = str(d.get("userComment") or "")
            if kind_name == "superStickerEvent":
                meta = d.get("superStickerMetadata") or {}
                extra["sticker"] = {
                    "id": str(meta.get("stickerId") or ""),
                    "alt_text": str(meta.get("altText") or ""),
                    "language": str(meta.get("altTextLanguage") or meta.get("language") or ""),
                }
                text = text or extra["sticker"]["alt_text"]
            return ChatEvent(
                kind=Kind.PAID,
                author=author(),
                text=text,
                amount=amount,
                currency=currency,
                amount_display=amount_display,
                extra=extra,
                **base,
            )

        if kind_name == "newSponsorEvent":
            d = sub("newSponsorDetails")
            return ChatEvent(
                kind=Kind.MEMBERSHIP,
                author=author(),
                text=display,
                extra={
                    "type": kind_name,
                    "level": str(d.get("memberLevelName") or ""),
                    "upgrade": bool(d.get("isUpgrade")),
                },
                **base,
            )

        if kind_name == "memberMilestoneChatEvent":
            d = sub("memberMilestoneChatDetails")
            return ChatEvent(
                kind=Kind.MEMBERSHIP,
                author=author(),
                text=str(d.get("userComment") or ""),
                extra={
                    "type": kind_name,
                    "months": _int(d.get("memberMonth")),
                    "level": str(d.get("memberLevelName") or ""),
                    "display": display,
                },
                **base,
            )

        if kind_name == "membershipGiftingEvent":
            d = sub("membershipGiftingDetails")
            count = _int(d.get("giftMembershipsCount"))
            if count is None:
                raise MalformedItem("membershipGiftingEvent without giftMembershipsCount")
            return ChatEvent(
                kind=Kind.GIFT,
                author=author(),
                text=display,
                extra={
                    "type": kind_name,
                    "gift": "membership",
                    "count": count,
                    "level": str(d.get("giftMembershipsLevelName") or ""),
                },
                **base,
            )

        if kind_name == "giftMembershipReceivedEvent":
            d = sub("giftMembershipReceivedDetails")
            return ChatEvent(
                kind=Kind.MEMBERSHIP,
                author=author(),
                text=display,
                extra={
                    "type": kind_name,
                    "gifted": True,
                    "level": str(d.get("memberLevelName") or ""),
                    "gifter_channel_id": str(d.get("gifterChannelId") or ""),
                    "gifting_message_id": str(d.get("associatedMembershipGiftingMessageId") or ""),
                },
                **base,
            )

        if kind_name == "messageDeletedEvent":
            target = sub("messageDeletedDetails").get("deletedMessageId")
            if not target:
                raise MalformedItem("messageDeletedEvent without deletedMessageId")
            # authorDetails is the moderator who deleted it, not the message's author.
            return ChatEvent(
                kind=Kind.DELETION,
                target_message_id=str(target)[:255],
                moderator=str(details.get("displayName") or "")[:255],
                extra={"type": kind_name},
                **base,
            )

        if kind_name == "messageRetractedEvent":
            target = sub("messageRetractedDetails").get("retractedMessageId")
            if not target:
                raise MalformedItem("messageRetractedEvent without retractedMessageId")
            return ChatEvent(
                kind=Kind.DELETION,
                target_message_id=str(target)[:255],
                reason="retracted by its author",
                extra={"type": kind_name},
                **base,
            )

        if kind_name == "tombstone":
            # The item keeps the id of the message it replaces.
            base["id"] = f"tombstone:{item_id}"[:255]
            return ChatEvent(
                kind=Kind.DELETION,
                target_message_id=item_id[:255],
                extra={"type": kind_name},
                **base,
            )

        if kind_name == "userBannedEvent":
            d = sub("userBannedDetails")
            banned = d.get("bannedUserDetails")
            if not isinstance(banned, dict):
                raise MalformedItem("userBannedEvent without bannedUserDetails")
            ban_type = d.get("banType")
            moderator = str(details.get("displayName") or "")[:255]
            if ban_type == "temporary":
                seconds = _int(d.get("banDurationSeconds"))
                if seconds is None or seconds < 0:
                    raise MalformedItem("temporary ban without banDurationSeconds")
                return ChatEvent(
                    kind=Kind.TIMEOUT,
                    author=author_from(banned),
                    duration_seconds=seconds,
                    moderator=moderator,
                    extra={"type": kind_name},
                    **base,
                )
            if ban_type == "permanent":
                return ChatEvent(
                    kind=Kind.BAN,
                    author=author_from(banned),
                    moderator=moderator,
                    extra={"type": kind_name},
                    **base,
                )
            raise MalformedItem(f"unknown banType {ban_type!r}")

        if kind_name == "chatEndedEvent":
            return ChatEvent(
                kind=Kind.STREAM_END,
                session=SessionInfo(reason="chat ended"),
                extra={"type": kind_name, "live_chat_id": str(snippet.get("liveChatId") or "")},
                **base,
            )

        if kind_name in ("sponsorOnlyModeStartedEvent", "sponsorOnlyModeEndedEvent"):
            on = kind_name == "sponsorOnlyModeStartedEvent"
            return ChatEvent(
                kind=Kind.ANNOUNCEMENT,
                author=author(),
                text=display or ("Members-only mode on" if on else "Members-only mode off"),
                extra={"type": kind_name, "members_only": on},
                **base,
            )

        if kind_name == "pollEvent":
            meta = sub("pollDetails").get("metadata") or {}
            options = [
                {"text": str(o.get("optionText") or ""), "tally": str(o.get("tally") or "")}
                for o in meta.get("options") or []
                if isinstance(o, dict)
            ]
            question = str(meta.get("questionText") or "")
            return ChatEvent(
                kind=Kind.ANNOUNCEMENT,
                author=author(),
                text=display or f"Poll: {question}",
                extra={
                    "type": kind_name,
                    "poll": {
                        "question": question,
                        "options": options,
                        "status": meta.get("status"),
                    },
                },
                **base,
            )

        if kind_name == "giftEvent":
            d = snippet.get("giftDetails") or {}
            return ChatEvent(
                kind=Kind.GIFT,
                author=author(),
                text=display,
                extra={"type": kind_name, "gift": "youtube", "details": d},
                **base,
            )
    except ValidationError as exc:
        raise MalformedItem(f"{kind_name}: {exc.errors()[0].get('msg', exc)}") from exc

    # A type we do not know yet: keep it visible if it has something to show.
    if snippet.get("hasDisplayContent") and display and details.get("channelId"):
        try:
            return ChatEvent(
                kind=Kind.ANNOUNCEMENT,
                author=author(),
                text=display,
                extra={"type": str(kind_name)[:64]},
                **base,
            )
        except ValidationError as exc:
            raise MalformedItem(str(exc)) from exc
    return None
