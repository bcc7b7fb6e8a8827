"""Slack message payloads -> normalized ChatEvents (pure functions plus the user lookup).

Ids: a message is ``<channel>/<ts>`` (ts is unique within a channel), so a re-delivered event,
or a message fetched again with conversations.history, is deduplicated by the store.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..events import Author, ChatEvent, Fragment, Kind
from .config import SourceSettings
from .mrkdwn import render, unescape
from .users import UserCache

PLATFORM = "slack"
# Message subtypes that are chat; the others (joins, topic changes, pins...) are ignored.
CHAT_SUBTYPES = {None, "", "file_share", "thread_broadcast", "bot_message", "me_message"}


def message_id(channel: str, ts: str) -> str:
    return f"{channel}/{ts}"


def ts_datetime(ts: str | None) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.now(UTC)


def is_comment(text: str, prefixes: list[str]) -> bool:
    """Text starting with a comment marker (compared unescaped: Slack sends ``#&gt;``)."""
    plain = unescape(text or "").lstrip()
    return any(p and plain.startswith(p) for p in prefixes)


def is_thread_reply(msg: dict) -> bool:
    thread_ts = msg.get("thread_ts")
    return (
        bool(thread_ts) and thread_ts != msg.get("ts") and msg.get("subtype") != "thread_broadcast"
    )


def image_files(msg: dict) -> list[dict]:
    return [
        f
        for f in msg.get("files") or []
        if isinstance(f, dict) and str(f.get("mimetype", "")).startswith("image/") and f.get("id")
    ]


def skip_reason(msg: dict, settings: SourceSettings) -> str:
    """Why this message is not ingested ("" = ingest it)."""
    if msg.get("subtype") not in CHAT_SUBTYPES:
        return f"subtype {msg.get('subtype')}"
    if is_comment(msg.get("text", ""), settings.comment_prefixes):
        return "comment"
    if settings.threads == "skip" and is_thread_reply(msg):
        return "thread reply"
    return ""


def author_for(msg: dict, users: UserCache) -> tuple[Author, str]:
    """(Author, title) of a message: a person via users.info, or a bot from its profile."""
    uid = msg.get("user")
    if uid:
        u = users.get(uid)
        roles = ["staff"] if u.is_admin else []
        if u.is_bot:
            roles.append("bot")
        return (
            Author(
                id=uid,
                login=u.login,
                display_name=u.display_name,
                avatar_url=u.avatar_url,
                roles=roles,
            ),
            u.title,
        )
    profile = msg.get("bot_profile") or {}
    icons = profile.get("icons") or msg.get("icons") or {}
    avatar = icons.get("image_72") or icons.get("image_48") or ""
    name = msg.get("username") or profile.get("name") or "bot"
    bid = msg.get("bot_id") or "bot"
    return (
        Author(
            id=bid,
            login=name[:255],
            display_name=name[:255],
            avatar_url=avatar if str(avatar).startswith(("http://", "https://")) else "",
            roles=["bot"],
        ),
        "",
    )


def rendered(text: str, users: UserCache) -> tuple[str, list[Fragment]]:
    html, frags = render(text, users.name)
    return html, [Fragment(**f) for f in frags]


def message_event(
    msg: dict, channel: str, settings: SourceSettings, users: UserCache, *, team: str = ""
) -> ChatEvent:
    """A new chat message (the caller checked ``skip_reason``)."""
    ts = msg["ts"]
    text = msg.get("text") or ""
    author, title = author_for(msg, users)
    html, fragments = rendered(text, users)
    extra = {
        "html": html,
        "channel": channel,
        "ts": ts,
        "author_title": title,
        "auto_publish": settings.publish == "immediate",
    }
    if team or msg.get("team"):
        extra["team"] = team or msg.get("team")
    if msg.get("thread_ts"):
        extra["thread_ts"] = msg["thread_ts"]
    images = image_files(msg)
    if images and settings.images:
        extra["images"] = [
            {"file_id": f["id"], "name": str(f.get("name") or "")[:255], "status": "pending"}
            for f in images
        ]
    reply_to = message_id(channel, msg["thread_ts"]) if is_thread_reply(msg) else ""
    return ChatEvent(
        kind=Kind.MESSAGE,
        platform=PLATFORM,
        id=message_id(channel, ts),
        author=author,
        text=text,
        fragments=fragments,
        reply_to=reply_to,
        sent_at=ts_datetime(ts),
        extra=extra,
    )


def deletion_event(channel: str, ts: str, *, text: str = "", reason: str = "") -> ChatEvent:
    return ChatEvent(
        kind=Kind.DELETION,
        platform=PLATFORM,
        id=f"{message_id(channel, ts)}/deleted",
        target_message_id=message_id(channel, ts),
        target_text=text,
        reason=reason,
    )


def changed_events(
    event: dict, settings: SourceSettings, users: UserCache, *, team: str = ""
) -> list[ChatEvent]:
    """``message_changed``: the edited message (inserted if we never saw it) and the edit."""
    channel = event.get("channel", "")
    msg = dict(event.get("message") or {})
    prev = event.get("previous_message") or {}
    ts = msg.get("ts")
    if not channel or not ts:
        return []
    if msg.get("subtype") == "tombstone":  # a thread parent deleted while it has replies
        return [deletion_event(channel, ts, text=prev.get("text", ""), reason="deleted in Slack")]
    if is_comment(msg.get("text", ""), settings.comment_prefixes):
        # Edited into a comment: it must not stay published.
        return [
            deletion_event(channel, ts, text=prev.get("text", ""), reason="turned into a comment")
        ]
    if skip_reason(msg, settings):
        return []
    if "edited" not in msg and msg.get("text") == prev.get("text"):
        return []  # a link preview or attachment unfurl: nothing a reader sees changed
    text = msg.get("text") or ""
    html, fragments = rendered(text, users)
    edited_ts = (
        (msg.get("edited") or {}).get("ts") or event.get("event_ts") or event.get("ts") or ""
    )
    edit = ChatEvent(
        kind=Kind.EDIT,
        platform=PLATFORM,
        id=f"{message_id(channel, ts)}/edit/{edited_ts}",
        target_message_id=message_id(channel, ts),
        text=text,
        fragments=fragments,
        sent_at=ts_datetime(edited_ts),
        extra={"html": html},
    )
    return [message_event(msg, channel, settings, users, team=team), edit]
