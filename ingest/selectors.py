"""Selectors: every read of chat data the API and dashboards share."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from .models import ChatMessage, ChatSource, MessageStatus, Platform
from .serializers import message_dict

MAX_LIMIT = 500


class FilterError(ValueError):
    """A filter value a user gave is wrong; the message says how."""


def message_queryset(
    *,
    status: str | None = None,
    platform: str | None = None,
    source: str | int | None = None,
    author: str | None = None,
    text: str | None = None,
    since: datetime | None = None,
    video_id: str | None = None,
    platform_state: str | None = None,
    display_selected: bool | None = None,
    before_id: int | None = None,
) -> QuerySet[ChatMessage]:
    """Messages matching the filters, newest first. Values are validated here."""
    qs = ChatMessage.objects.select_related("author", "reviewed_by").order_by("-id")
    if status:
        statuses = [s for s in status.split(",") if s]
        bad = [s for s in statuses if s not in MessageStatus.values]
        if bad:
            raise FilterError(f"unknown status {bad[0]!r}; use one of {', '.join(MessageStatus.values)}")
        qs = qs.filter(status__in=statuses)
    if platform:
        if platform not in Platform.values:
            raise FilterError(f"unknown platform {platform!r}; use one of {', '.join(Platform.values)}")
        qs = qs.filter(platform=platform)
    if source not in (None, ""):
        if isinstance(source, int) or str(source).isdigit():
            qs = qs.filter(source_id=int(source))
        else:
            qs = qs.filter(source__identifier=source)
    if author:
        qs = qs.filter(Q(author__login__icontains=author) | Q(author__display_name__icontains=author))
    if text:
        qs = qs.filter(text__icontains=text)
    if since is not None:
        if since.tzinfo is None:
            raise FilterError("since needs a time zone, e.g. 2026-11-01T12:00:00Z")
        qs = qs.filter(sent_at__gte=since)
    if video_id:
        qs = qs.filter(
            Q(source__platform=Platform.YOUTUBE, source__identifier=video_id)
            | Q(session__platform_session_id=video_id)
        )
    if platform_state:
        qs = qs.filter(platform_state=platform_state)
    if display_selected is not None:
        qs = qs.filter(display_selected=display_selected)
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    return qs


def list_messages(limit: int = 50, **filters) -> tuple[list[dict], int | None]:
    """A page of serialized messages and the cursor (id) for the next page, if any."""
    if not 1 <= limit <= MAX_LIMIT:
        raise FilterError(f"limit must be between 1 and {MAX_LIMIT}")
    rows = list(message_queryset(**filters)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = rows[-1].pk if more and rows else None
    return [message_dict(m) for m in rows], next_cursor


def display_messages() -> list[dict]:
    """Messages selected for display, in display order (pinned first)."""
    qs = (
        ChatMessage.objects.filter(display_selected=True, platform_state="visible")
        .select_related("author", "reviewed_by")
        .order_by("-pinned", "display_order", "id")
    )
    return [message_dict(m) for m in qs]


def sources() -> list[ChatSource]:
    return list(ChatSource.objects.all())
