"""One JSON shape per object, used by the websocket frames, the API and the exports."""

from __future__ import annotations

from .models import ChatAuthor, ChatMessage, ChatSource, LiveSession, ModerationEvent


def _iso(dt):
    return dt.isoformat() if dt else None


def author_dict(author: ChatAuthor | None) -> dict | None:
    if author is None:
        return None
    return {
        "id": author.pk,
        "platform_user_id": author.platform_user_id,
        "login": author.login,
        "display_name": author.display_name,
        "avatar_url": author.avatar_url,
        "roles": author.roles,
        "badges": author.badges,
    }


def message_dict(msg: ChatMessage, author: ChatAuthor | None = None, reviewed_by_name=None) -> dict:
    """Serialize a message. Pass ``author`` when it is at hand to avoid a query."""
    if author is None and msg.author_id is not None:
        author = msg.author
    if reviewed_by_name is None and msg.reviewed_by_id is not None:
        reviewed_by_name = msg.reviewed_by.get_username()
    return {
        "id": msg.pk,
        "platform": msg.platform,
        "source_id": msg.source_id,
        "session_id": msg.session_id,
        "platform_message_id": msg.platform_message_id,
        "kind": msg.kind,
        "author": author_dict(author),
        "text": msg.text,
        "fragments": msg.fragments,
        # format(..., "f"): normalize() alone turns 100 into "1E+2".
        "amount": format(msg.amount.normalize(), "f") if msg.amount is not None else None,
        "currency": msg.currency,
        "amount_display": msg.amount_display,
        "reply_to": msg.reply_to,
        "sent_at": _iso(msg.sent_at),
        "received_at": _iso(msg.received_at),
        "edited_at": _iso(msg.edited_at),
        "status": msg.status,
        "note": msg.note,
        "display_selected": msg.display_selected,
        "pinned": msg.pinned,
        "display_order": msg.display_order,
        "reviewed_by": reviewed_by_name,
        "reviewed_at": _iso(msg.reviewed_at),
        "platform_state": msg.platform_state,
        "removed_at": _iso(msg.removed_at),
    }


def moderation_dict(ev: ModerationEvent, author: ChatAuthor | None = None) -> dict:
    if author is None and ev.target_author_id is not None:
        author = ev.target_author
    return {
        "id": ev.pk,
        "platform": ev.platform,
        "source_id": ev.source_id,
        "platform_event_id": ev.platform_event_id,
        "kind": ev.kind,
        "target_author": author_dict(author),
        "target_message_id": ev.target_message_id,
        "target_text": ev.target_text,
        "moderator": ev.moderator,
        "reason": ev.reason,
        "ends_at": _iso(ev.ends_at),
        "duration_seconds": ev.duration_seconds,
        "occurred_at": _iso(ev.occurred_at),
    }


def source_dict(src: ChatSource) -> dict:
    return {
        "id": src.pk,
        "platform": src.platform,
        "identifier": src.identifier,
        "name": str(src),
        "enabled": src.enabled,
        "status": src.status,
        "status_reason": src.status_reason,
        "status_changed_at": _iso(src.status_changed_at),
        "last_event_at": _iso(src.last_event_at),
        "worker": src.status_worker,
    }


def session_dict(s: LiveSession) -> dict:
    return {
        "id": s.pk,
        "source_id": s.source_id,
        "platform_session_id": s.platform_session_id,
        "title": s.title,
        "category": s.category,
        "started_at": _iso(s.started_at),
        "ended_at": _iso(s.ended_at),
        "end_reason": s.end_reason,
        "viewer_count": s.viewer_count,
    }
