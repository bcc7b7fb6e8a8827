"""Selectors: every read of chat data the API and dashboards share."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from .models import ChatMessage, ChatSource, MessageStatus, ModerationEvent, Platform
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


def display_messages(meeting_id: int | None = None) -> list[dict]:
    """Messages selected for display, in display order (pinned first); of one meeting's sources
    when ``meeting_id`` is given."""
    qs = ChatMessage.objects.filter(display_selected=True, platform_state="visible")
    if meeting_id is not None:
        qs = qs.filter(source__meetings=meeting_id)
    qs = (
        qs
        .select_related("author", "reviewed_by")
        .order_by("-pinned", "display_order", "id")
    )
    return [message_dict(m) for m in qs]


def sources() -> list[ChatSource]:
    return list(ChatSource.objects.all())


def source_filter(source: str | int, prefix: str = "") -> Q:
    """Match a source by numeric id or by identifier (e.g. a Slack channel id)."""
    if isinstance(source, int) or (str(source).isascii() and str(source).isdigit()):
        return Q(**{f"{prefix}id": int(source)})
    return Q(**{f"{prefix}identifier": source})


def moderation_queryset(
    *,
    platform: str | None = None,
    source: str | int | None = None,
    kind: str | None = None,
    since: datetime | None = None,
) -> QuerySet[ModerationEvent]:
    """Platform moderation events (deletes, bans...) matching the filters, newest first."""
    qs = ModerationEvent.objects.select_related("target_author", "source").order_by("-id")
    if platform:
        if platform not in Platform.values:
            raise FilterError(f"unknown platform {platform!r}; use one of {', '.join(Platform.values)}")
        qs = qs.filter(platform=platform)
    if source not in (None, ""):
        qs = qs.filter(source_filter(source, "source__"))
    if kind:
        kinds = [k for k in kind.split(",") if k]
        bad = [k for k in kinds if k not in ModerationEvent.Kind.values]
        if bad:
            raise FilterError(
                f"unknown kind {bad[0]!r}; use one of {', '.join(ModerationEvent.Kind.values)}"
            )
        qs = qs.filter(kind__in=kinds)
    if since is not None:
        if since.tzinfo is None:
            raise FilterError("since needs a time zone, e.g. 2026-11-01T12:00:00Z")
        qs = qs.filter(occurred_at__gte=since)
    return qs


def public_source(*, pk: int | None = None, identifier: str | None = None) -> ChatSource | None:
    """A source an admin marked public, by id or identifier; None if there is no such feed.

    An identifier shared by public sources on two platforms picks the oldest one. Failing an
    identifier, a ``slug`` in the source's settings matches (e.g. a Slack channel's feed name).
    """
    qs = ChatSource.objects.filter(public=True)
    if pk is not None:
        return qs.filter(pk=pk).order_by("id").first()
    found = qs.filter(identifier=identifier).order_by("id").first()
    if found is None and identifier:
        found = qs.filter(settings__slug=identifier).order_by("id").first()
    return found


def published_messages(source: ChatSource, limit: int = 50) -> QuerySet[ChatMessage]:
    """What a public feed shows: sent, still visible on the platform, newest first."""
    return (
        ChatMessage.objects.filter(
            source=source, status=MessageStatus.SENT, platform_state="visible"
        )
        .select_related("author")
        .order_by("-sent_at", "-id")[:limit]
    )
