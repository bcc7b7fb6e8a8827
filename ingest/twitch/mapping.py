"""Twitch traffic -> normalized ChatEvents. Pure functions: no I/O, no clock except as a default.

IRC: ``irc_to_events(msg)`` for PRIVMSG, CLEARMSG, CLEARCHAT, USERNOTICE (everything else maps to
nothing). EventSub: ``eventsub_to_event(subscription_type, payload)`` for the twitchio 3 payload
objects. Both paths give the same events for the same facts (ids, roles, badges, kinds).

Ids are deterministic so that a reconnect that re-delivers something is deduplicated by the store:
messages keep Twitch's message id; moderation events are keyed by what and when.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ..events import Author, Badge, ChatEvent, Fragment, Kind, SessionInfo, utcnow
from .config import emote_image_url
from .irc import IrcMessage

PLATFORM = "twitch"

# Badge set -> normalized role.
_ROLE_FOR_BADGE = {
    "broadcaster": "broadcaster",
    "moderator": "moderator",
    "lead_moderator": "moderator",
    "vip": "vip",
    "subscriber": "subscriber",
    "founder": "subscriber",
    "staff": "staff",
    "admin": "staff",
    "global_mod": "staff",
    "partner": "verified",
    "artist-badge": "artist",
}
_ROLE_ORDER = ["broadcaster", "moderator", "vip", "subscriber", "staff", "verified", "artist"]

GIFT_NOTICES = {"subgift", "anonsubgift", "submysterygift", "anonsubmysterygift"}
MEMBERSHIP_NOTICES = {
    "sub",
    "resub",
    "giftpaidupgrade",
    "anongiftpaidupgrade",
    "primepaidupgrade",
    "standardpayforward",
    "communitypayforward",
}


class MappingError(ValueError):
    """The line/payload is a kind we handle but lacks what we need (logged raw and skipped)."""


def from_millis(value: str | int | None, default: datetime | None = None) -> datetime:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError):
        return default or utcnow()


def parse_badges(value: str) -> list[Badge]:
    """``subscriber/12,premium/1`` -> [Badge(subscriber, 12), Badge(premium, 1)]."""
    badges = []
    for item in (value or "").split(","):
        if not item:
            continue
        set_id, _, version = item.partition("/")
        badges.append(Badge(set_id=set_id, version=version))
    return badges


def roles_for(badges: list[Badge], tags: dict[str, str] | None = None) -> list[str]:
    roles = {_ROLE_FOR_BADGE[b.set_id] for b in badges if b.set_id in _ROLE_FOR_BADGE}
    tags = tags or {}
    if tags.get("mod") == "1":
        roles.add("moderator")
    if tags.get("subscriber") == "1":
        roles.add("subscriber")
    if tags.get("vip") == "1":
        roles.add("vip")
    if tags.get("user-type") in ("staff", "admin", "global_mod"):
        roles.add("staff")
    return [r for r in _ROLE_ORDER if r in roles]


def parse_emotes(text: str, value: str) -> list[Fragment]:
    """Split ``text`` into text/emote fragments from the ``emotes`` tag (code point indices)."""
    if not value:
        return []
    spans = []
    for group in value.split("/"):
        emote_id, _, positions = group.partition(":")
        for pos in positions.split(","):
            start, _, end = pos.partition("-")
            try:
                spans.append((int(start), int(end), emote_id))
            except ValueError:
                continue
    spans.sort()
    fragments: list[Fragment] = []
    cursor = 0
    for start, end, emote_id in spans:
        if start < cursor or end >= len(text) or start > end:
            continue  # overlapping or out of range: ignore rather than corrupt the text
        if start > cursor:
            fragments.append(Fragment(type="text", text=text[cursor:start]))
        fragments.append(
            Fragment(
                type="emote",
                text=text[start : end + 1],
                emote_id=emote_id,
                image_url=emote_image_url(emote_id),
            )
        )
        cursor = end + 1
    if cursor < len(text):
        fragments.append(Fragment(type="text", text=text[cursor:]))
    return fragments


def _irc_author(msg: IrcMessage) -> Author:
    tags = msg.tags
    uid = tags.get("user-id", "")
    if not uid:
        raise MappingError(f"{msg.command} without user-id")
    # The login comes from the prefix (PRIVMSG) or the login tag (USERNOTICE); never from
    # display-name, which may be non-ASCII.
    login = msg.nick or tags.get("login", "")
    badges = parse_badges(tags.get("badges", ""))
    return Author(
        id=uid,
        login=login.lower(),
        display_name=tags.get("display-name", "") or login,
        roles=roles_for(badges, tags),
        badges=badges,
        color=tags.get("color", ""),
    )


def _base(msg: IrcMessage, received_at: datetime | None) -> dict:
    now = received_at or utcnow()
    return {
        "platform": PLATFORM,
        "sent_at": from_millis(msg.tags.get("tmi-sent-ts"), now),
        "received_at": now,
    }


def _common_extra(msg: IrcMessage) -> dict:
    extra = {"channel": msg.channel}
    if msg.tags.get("room-id"):
        extra["room_id"] = msg.tags["room-id"]
    if msg.tags.get("badge-info"):
        extra["badge_info"] = msg.tags["badge-info"]
    return extra


def _privmsg(msg: IrcMessage, received_at) -> ChatEvent:
    tags = msg.tags
    mid = tags.get("id", "")
    if not mid:
        raise MappingError("PRIVMSG without id")
    if len(msg.params) < 2:
        raise MappingError("PRIVMSG without text")
    text = msg.trailing
    extra = _common_extra(msg)
    if text.startswith("\x01ACTION ") and text.endswith("\x01"):
        text = text[8:-1]
        extra["action"] = True
    if tags.get("first-msg") == "1":
        extra["first_message"] = True
    if tags.get("returning-chatter") == "1":
        extra["returning_chatter"] = True
    if tags.get("msg-id"):
        extra["msg_id"] = tags["msg-id"]
    if tags.get("custom-reward-id"):
        extra["reward_id"] = tags["custom-reward-id"]
    reply_to = tags.get("reply-parent-msg-id", "")
    if reply_to:
        extra["reply_parent_login"] = tags.get("reply-parent-user-login", "")
        extra["reply_parent_text"] = tags.get("reply-parent-msg-body", "")
    kind = Kind.MESSAGE
    amount = None
    currency = display = ""
    bits = tags.get("bits", "")
    if bits:
        try:
            n = int(bits)
        except ValueError:
            raise MappingError(f"bad bits tag {bits!r}") from None
        if n > 0:
            kind, amount, currency, display = Kind.PAID, Decimal(n), "bits", f"{n} bits"
    return ChatEvent(
        kind=kind,
        id=mid,
        author=_irc_author(msg),
        text=text,
        fragments=parse_emotes(text, tags.get("emotes", "")),
        amount=amount,
        currency=currency,
        amount_display=display,
        reply_to=reply_to,
        extra=extra,
        **_base(msg, received_at),
    )


def _int_tag(tags, key):
    try:
        return int(tags[key])
    except (KeyError, ValueError):
        return None


def _usernotice(msg: IrcMessage, received_at) -> ChatEvent:
    tags = msg.tags
    mid = tags.get("id", "")
    if not mid:
        raise MappingError("USERNOTICE without id")
    notice = tags.get("msg-id", "")
    system = tags.get("system-msg", "")
    user_text = msg.trailing if len(msg.params) >= 2 else ""
    extra = _common_extra(msg)
    extra["notice"] = notice
    if system:
        extra["system_msg"] = system
    params = {k[len("msg-param-") :]: v for k, v in tags.items() if k.startswith("msg-param-")}
    if params:
        extra["params"] = params
    text = user_text or system
    if notice in MEMBERSHIP_NOTICES:
        kind = Kind.MEMBERSHIP
        months = _int_tag(tags, "msg-param-cumulative-months") or _int_tag(tags, "msg-param-months")
        if months is not None:
            extra["months"] = months
        if tags.get("msg-param-sub-plan"):
            extra["tier"] = tags["msg-param-sub-plan"]
    elif notice in GIFT_NOTICES:
        kind = Kind.GIFT
        extra["gift"] = "subscription"
        extra["count"] = _int_tag(tags, "msg-param-mass-gift-count") or 1
        if tags.get("msg-param-recipient-user-name"):
            extra["recipient_login"] = tags["msg-param-recipient-user-name"]
            extra["recipient_id"] = tags.get("msg-param-recipient-id", "")
        if tags.get("msg-param-sub-plan"):
            extra["tier"] = tags["msg-param-sub-plan"]
        text = system or user_text
    elif notice == "raid":
        kind = Kind.RAID
        extra["viewer_count"] = _int_tag(tags, "msg-param-viewerCount")
        text = system or user_text
    elif notice == "announcement":
        kind = Kind.ANNOUNCEMENT
        if tags.get("msg-param-color"):
            extra["color"] = tags["msg-param-color"]
    else:
        kind = Kind.MESSAGE  # ritual, bitsbadgetier, viewermilestone...: kept, never lost
    return ChatEvent(
        kind=kind,
        id=mid,
        author=_irc_author(msg),
        text=text,
        fragments=parse_emotes(user_text, tags.get("emotes", "")) if text == user_text else [],
        extra=extra,
        **_base(msg, received_at),
    )


def _clearmsg(msg: IrcMessage, received_at) -> ChatEvent:
    target = msg.tags.get("target-msg-id", "")
    if not target:
        raise MappingError("CLEARMSG without target-msg-id")
    extra = _common_extra(msg)
    if msg.tags.get("login"):
        extra["target_login"] = msg.tags["login"]
    return ChatEvent(
        kind=Kind.DELETION,
        id=f"clearmsg:{target}",
        target_message_id=target,
        target_text=msg.trailing if len(msg.params) >= 2 else "",
        extra=extra,
        **_base(msg, received_at),
    )


def _clearchat(msg: IrcMessage, received_at) -> ChatEvent:
    tags = msg.tags
    base = _base(msg, received_at)
    ts = tags.get("tmi-sent-ts") or str(int(base["sent_at"].timestamp() * 1000))
    room = tags.get("room-id", msg.channel)
    extra = _common_extra(msg)
    if len(msg.params) < 2:  # the whole chat was cleared
        return ChatEvent(kind=Kind.CLEAR, id=f"clearchat:{room}:{ts}", extra=extra, **base)
    uid = tags.get("target-user-id", "")
    if not uid:
        raise MappingError("CLEARCHAT for a user without target-user-id")
    target = Author(id=uid, login=msg.trailing.lower(), display_name=msg.trailing)
    duration = _int_tag(tags, "ban-duration")
    if duration is not None:
        return ChatEvent(
            kind=Kind.TIMEOUT,
            id=f"clearchat:{room}:{uid}:{ts}",
            author=target,
            duration_seconds=duration,
            ends_at=base["sent_at"] + timedelta(seconds=duration),
            extra=extra,
            **base,
        )
    return ChatEvent(
        kind=Kind.BAN, id=f"clearchat:{room}:{uid}:{ts}", author=target, extra=extra, **base
    )


_IRC_HANDLERS = {
    "PRIVMSG": _privmsg,
    "USERNOTICE": _usernotice,
    "CLEARMSG": _clearmsg,
    "CLEARCHAT": _clearchat,
}


def irc_to_events(msg: IrcMessage, received_at: datetime | None = None) -> list[ChatEvent]:
    """The ChatEvents one IRC message means ([] for protocol chatter like JOIN or ROOMSTATE).

    Raises ``MappingError`` (or pydantic's ValidationError) for a chat line that lacks required
    data; the caller logs the raw line and goes on.
    """
    handler = _IRC_HANDLERS.get(msg.command)
    if handler is None:
        return []
    return [handler(msg, received_at)]


def stream_start_event(
    *,
    stream_id: str,
    started_at: datetime,
    title: str = "",
    category: str = "",
    viewer_count: int | None = None,
    channel: str = "",
) -> ChatEvent:
    return ChatEvent(
        kind=Kind.STREAM_START,
        platform=PLATFORM,
        id=f"stream-start:{stream_id}",
        sent_at=started_at,
        session=SessionInfo(
            platform_session_id=stream_id,
            title=title,
            category=category,
            viewer_count=viewer_count,
        ),
        extra={"channel": channel} if channel else {},
    )


def stream_end_event(
    *, stream_id: str, ended_at: datetime, channel: str = "", reason: str = "stream ended"
) -> ChatEvent:
    return ChatEvent(
        kind=Kind.STREAM_END,
        platform=PLATFORM,
        id=f"stream-end:{stream_id or channel}:{int(ended_at.timestamp())}",
        sent_at=ended_at,
        session=SessionInfo(platform_session_id=stream_id, reason=reason),
        extra={"channel": channel} if channel else {},
    )


# --- EventSub (twitchio 3 payload objects) ----------------------------------------------------
def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _meta(obj) -> dict:
    return getattr(obj, "_metadata", None) or {}


def _when(obj, received_at: datetime) -> datetime:
    try:
        ts = obj.timestamp
    except Exception:
        ts = None
    return ts or received_at


def _user_author(user, badges: list[Badge] | None = None, color: str = "") -> Author:
    badges = badges or []
    login = (getattr(user, "name", "") or "").lower()
    return Author(
        id=str(user.id),
        login=login,
        display_name=getattr(user, "display_name", "") or login,
        roles=roles_for(badges),
        badges=badges,
        color=color,
    )


def _fragments(message) -> list[Fragment]:
    out = []
    for f in getattr(message, "fragments", None) or []:
        if f.type == "emote" and getattr(f, "emote", None) is not None:
            eid = str(f.emote.id)
            out.append(
                Fragment(type="emote", text=f.text, emote_id=eid, image_url=emote_image_url(eid))
            )
        elif f.type == "mention":
            out.append(Fragment(type="mention", text=f.text))
        elif f.type == "cheermote":
            out.append(Fragment(type="cheermote", text=f.text))
        else:
            out.append(Fragment(type="text", text=f.text))
    if len(out) == 1 and out[0].type == "text":
        return []  # plain text: the text says it all
    return out


def _chat_message(obj, received_at) -> ChatEvent:
    badges = [Badge(set_id=b.set_id, version=str(b.id)) for b in obj.badges]
    color = obj.colour.html if getattr(obj, "colour", None) else ""
    extra = {"channel": obj.broadcaster.name or "", "room_id": str(obj.broadcaster.id)}
    if obj.type and obj.type != "text":
        extra["message_type"] = obj.type
    if obj.type == "user_intro":
        extra["first_message"] = True
    if obj.channel_points_id:
        extra["reward_id"] = obj.channel_points_id
    reply_to = ""
    if obj.reply is not None:
        reply_to = obj.reply.parent_message_id
        extra["reply_parent_login"] = obj.reply.parent_user.name or ""
        extra["reply_parent_text"] = obj.reply.parent_message_body
    kind, amount, currency, display = Kind.MESSAGE, None, "", ""
    if obj.cheer is not None and obj.cheer.bits > 0:
        n = obj.cheer.bits
        kind, amount, currency, display = Kind.PAID, Decimal(n), "bits", f"{n} bits"
    return ChatEvent(
        kind=kind,
        platform=PLATFORM,
        id=obj.id,
        author=_user_author(obj.chatter, badges, color),
        text=obj.text,
        fragments=_fragments(obj),
        amount=amount,
        currency=currency,
        amount_display=display,
        reply_to=reply_to,
        sent_at=_when(obj, received_at),
        received_at=received_at,
        extra=extra,
    )


_NOTICE_KIND = {
    "sub": Kind.MEMBERSHIP,
    "resub": Kind.MEMBERSHIP,
    "gift_paid_upgrade": Kind.MEMBERSHIP,
    "prime_paid_upgrade": Kind.MEMBERSHIP,
    "pay_it_forward": Kind.MEMBERSHIP,
    "sub_gift": Kind.GIFT,
    "community_sub_gift": Kind.GIFT,
    "raid": Kind.RAID,
    "announcement": Kind.ANNOUNCEMENT,
}


def _chat_notification(obj, received_at) -> ChatEvent:
    """channel.chat.notification: the EventSub twin of IRC USERNOTICE (same kinds and extras)."""
    notice = obj.notice_type or ""
    base_notice = notice.removeprefix("shared_chat_")
    kind = _NOTICE_KIND.get(base_notice, Kind.MESSAGE)
    badges = [Badge(set_id=b.set_id, version=str(b.id)) for b in obj.badges]
    color = obj.colour.html if getattr(obj, "colour", None) else ""
    extra = {"channel": obj.broadcaster.name or "", "room_id": str(obj.broadcaster.id),
             "notice": notice}
    if obj.system_message:
        extra["system_msg"] = obj.system_message
    if obj.anonymous:
        extra["anonymous"] = True
    user_text = obj.text or ""
    sub = obj.sub or obj.resub
    if obj.resub is not None:
        extra["months"] = obj.resub.cumulative_months
        extra["tier"] = obj.resub.tier
    elif obj.sub is not None:
        extra["months"] = sub.months
        extra["tier"] = sub.tier
    if obj.sub_gift is not None:
        extra.update({"gift": "subscription", "count": 1, "tier": obj.sub_gift.tier,
                      "recipient_login": obj.sub_gift.recipient.name or "",
                      "recipient_id": str(obj.sub_gift.recipient.id)})
    if obj.community_sub_gift is not None:
        extra.update({"gift": "subscription", "count": obj.community_sub_gift.total,
                      "tier": obj.community_sub_gift.tier})
    if obj.raid is not None:
        extra["viewer_count"] = obj.raid.viewer_count
    if obj.announcement is not None:
        extra["color"] = obj.announcement.colour
    text = user_text or obj.system_message or ""
    if kind in (Kind.GIFT, Kind.RAID):
        text = obj.system_message or user_text
    return ChatEvent(
        kind=kind,
        platform=PLATFORM,
        id=obj.id,
        author=_user_author(obj.chatter, badges, color),
        text=text,
        fragments=_fragments(obj) if text == user_text else [],
        sent_at=_when(obj, received_at),
        received_at=received_at,
        extra=extra,
    )


def _message_delete(obj, received_at) -> ChatEvent:
    return ChatEvent(
        kind=Kind.DELETION,
        platform=PLATFORM,
        id=f"clearmsg:{obj.message_id}",
        target_message_id=obj.message_id,
        sent_at=_when(obj, received_at),
        received_at=received_at,
        extra={"channel": obj.broadcaster.name or "", "target_login": obj.user.name or ""},
    )


def _clear_user(obj, received_at) -> ChatEvent:
    when = _when(obj, received_at)
    return ChatEvent(
        kind=Kind.CLEAR,
        platform=PLATFORM,
        id=f"clearuser:{obj.broadcaster.id}:{obj.user.id}:{_ms(when)}",
        author=_user_author(obj.user),
        sent_at=when,
        received_at=received_at,
        extra={"channel": obj.broadcaster.name or ""},
    )


def _clear(obj, received_at) -> ChatEvent:
    when = _when(obj, received_at)
    return ChatEvent(
        kind=Kind.CLEAR,
        platform=PLATFORM,
        id=f"clearchat:{obj.broadcaster.id}:{_ms(when)}",
        sent_at=when,
        received_at=received_at,
        extra={"channel": obj.broadcaster.name or ""},
    )


def _ban(obj, received_at) -> ChatEvent:
    when = obj.banned_at or _when(obj, received_at)
    moderator = obj.moderator.display_name or obj.moderator.name or ""
    common = {
        "platform": PLATFORM,
        "id": f"clearchat:{obj.broadcaster.id}:{obj.user.id}:{_ms(when)}",
        "author": _user_author(obj.user),
        "moderator": moderator,
        "reason": obj.reason or "",
        "sent_at": when,
        "received_at": received_at,
        "extra": {"channel": obj.broadcaster.name or "", "moderator_id": str(obj.moderator.id)},
    }
    if obj.permanent or obj.ends_at is None:
        return ChatEvent(kind=Kind.BAN, **common)
    duration = max(int(round((obj.ends_at - when).total_seconds())), 0)
    return ChatEvent(kind=Kind.TIMEOUT, duration_seconds=duration, ends_at=obj.ends_at, **common)


def _unban(obj, received_at) -> ChatEvent:
    when = _when(obj, received_at)
    return ChatEvent(
        kind=Kind.UNBAN,
        platform=PLATFORM,
        id=f"unban:{obj.broadcaster.id}:{obj.user.id}:{_meta(obj).get('message_id') or _ms(when)}",
        author=_user_author(obj.user),
        moderator=obj.moderator.display_name or obj.moderator.name or "",
        sent_at=when,
        received_at=received_at,
        extra={"channel": obj.broadcaster.name or "", "moderator_id": str(obj.moderator.id)},
    )


def _moderate(obj, received_at) -> ChatEvent | None:
    """channel.moderate v2 (a moderator's view): bans, timeouts, unbans. Deletes and clears come
    from the channel.chat.* subscriptions, so they are not mapped twice."""
    when = _when(obj, received_at)
    moderator = obj.moderator.display_name or obj.moderator.name or ""
    channel = obj.broadcaster.name or ""
    extra = {"channel": channel, "moderator_id": str(obj.moderator.id), "action": obj.action}
    b = obj.broadcaster.id
    if obj.action == "ban" and obj.ban is not None:
        return ChatEvent(
            kind=Kind.BAN, platform=PLATFORM, id=f"clearchat:{b}:{obj.ban.user.id}:{_ms(when)}",
            author=_user_author(obj.ban.user), moderator=moderator, reason=obj.ban.reason or "",
            sent_at=when, received_at=received_at, extra=extra,
        )
    if obj.action == "timeout" and obj.timeout is not None:
        ends = obj.timeout.expires_at
        return ChatEvent(
            kind=Kind.TIMEOUT, platform=PLATFORM,
            id=f"clearchat:{b}:{obj.timeout.user.id}:{_ms(when)}",
            author=_user_author(obj.timeout.user), moderator=moderator,
            reason=obj.timeout.reason or "", ends_at=ends,
            duration_seconds=max(int(round((ends - when).total_seconds())), 0),
            sent_at=when, received_at=received_at, extra=extra,
        )
    target = obj.unban if obj.action == "unban" else obj.untimeout if obj.action == "untimeout" else None
    if target is not None:
        return ChatEvent(
            kind=Kind.UNBAN, platform=PLATFORM,
            id=f"unban:{b}:{target.id}:{_meta(obj).get('message_id') or _ms(when)}",
            author=_user_author(target), moderator=moderator,
            sent_at=when, received_at=received_at, extra=extra,
        )
    return None


def _online(obj, received_at) -> ChatEvent:
    return stream_start_event(
        stream_id=str(obj.id), started_at=obj.started_at, channel=obj.broadcaster.name or ""
    )


def _offline(obj, received_at) -> ChatEvent:
    return stream_end_event(
        stream_id=str(getattr(obj, "id", "") or ""),
        ended_at=_when(obj, received_at),
        channel=obj.broadcaster.name or "",
    )


_EVENTSUB_HANDLERS = {
    "channel.chat.message": _chat_message,
    "channel.chat.notification": _chat_notification,
    "channel.chat.message_delete": _message_delete,
    "channel.chat.clear_user_messages": _clear_user,
    "channel.chat.clear": _clear,
    "channel.ban": _ban,
    "channel.unban": _unban,
    "channel.moderate": _moderate,
    "stream.online": _online,
    "stream.offline": _offline,
}
EVENTSUB_TYPES = tuple(_EVENTSUB_HANDLERS)


def eventsub_to_event(subscription_type: str, payload, received_at: datetime | None = None):
    """The ChatEvent of one EventSub notification (a twitchio 3 payload object), or None for
    a type we do not map."""
    handler = _EVENTSUB_HANDLERS.get(subscription_type)
    if handler is None:
        return None
    return handler(payload, received_at or utcnow())
