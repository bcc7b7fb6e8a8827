"""Services: every write a person makes to chat goes through here, then ONE event is published.

Callers (websocket consumers, API views, admin actions) stay thin.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.dispatch import Signal
from django.utils import timezone

from .models import ChatMessage, ChatSource, MessageAction, MessageStatus
from .publish import MODERATION_GROUP, publish_sync
from .serializers import message_dict

EDITABLE = ("status", "note", "display_selected", "pinned")

# Sent after a reorder commits (bulk_update sends no post_save), with ``order`` (message ids).
# The overlays app listens and resends the featured state of the meetings concerned.
display_reordered = Signal()


class ServiceError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def update_message(*, user, message_id: int, changes: dict, via: str = "dashboard") -> dict:
    """Change a message's moderation fields, record who/when, publish ``message.updated``."""
    changes = {k: v for k, v in changes.items() if k in EDITABLE and v is not None}
    if not changes:
        raise ServiceError(
            "invalid", "nothing to change: give status, note, display_selected or pinned"
        )
    if "status" in changes and changes["status"] not in MessageStatus.values:
        raise ServiceError("invalid", f"status must be one of {', '.join(MessageStatus.values)}")
    with transaction.atomic():
        msg = ChatMessage.objects.select_for_update().filter(pk=message_id).first()
        if msg is None:
            raise ServiceError("not_found", f"message {message_id} does not exist")
        diff = {}
        for field, value in changes.items():
            old = getattr(msg, field)
            if old != value:
                diff[field] = [old, value]
                setattr(msg, field, value)
        if changes.get("display_selected") and msg.platform_state != "visible":
            raise ServiceError(
                "removed_on_platform",
                f"this message was {msg.get_platform_state_display().lower()}: it cannot be displayed",
            )
        if "display_selected" in diff and msg.display_selected and msg.display_order is None:
            top = ChatMessage.objects.filter(display_selected=True).aggregate(
                m=Max("display_order")
            )["m"]
            msg.display_order = (top or 0) + 1
        if "status" in diff:
            msg.reviewed_by = user
            msg.reviewed_at = timezone.now()
        if diff:
            msg.save()
            MessageAction.objects.create(message=msg, user=user, via=via, changes=diff)
        data = message_dict(
            msg, reviewed_by_name=msg.reviewed_by.get_username() if msg.reviewed_by else None
        )
        if diff:
            frame = {
                "type": "message.updated",
                "message": data,
                "by": user.get_username() if user else None,
                "changes": {k: v[1] for k, v in diff.items()},
            }
            transaction.on_commit(lambda: publish_sync(MODERATION_GROUP, frame))
    return data


def reorder_display(*, user, order: list[int], via: str = "api") -> list[int]:
    """Set display_order from a list of message ids (seed 000's /api/manage/reorder/)."""
    if len(set(order)) != len(order):
        raise ServiceError("invalid", "order contains the same id twice")
    with transaction.atomic():
        found = set(
            ChatMessage.objects.filter(pk__in=order, display_selected=True).values_list(
                "pk", flat=True
            )
        )
        missing = [i for i in order if i not in found]
        if missing:
            raise ServiceError("invalid", f"not selected for display: {missing}")
        rows = list(ChatMessage.objects.filter(pk__in=order))
        position = {mid: i + 1 for i, mid in enumerate(order)}
        for row in rows:
            row.display_order = position[row.pk]
        ChatMessage.objects.bulk_update(rows, ["display_order"])
        frame = {
            "type": "display.reordered",
            "order": order,
            "by": user.get_username() if user else None,
        }
        transaction.on_commit(lambda: publish_sync(MODERATION_GROUP, frame))
        transaction.on_commit(lambda: display_reordered.send(sender=None, order=order))
    return order


MAX_ROTATION_SECONDS = 3600  # as the per-meeting display (overlays.DisplaySettings)


def set_display_rotation(
    *, user, seconds: int, source: str | int | None = None, meeting: int | None = None
) -> list[int]:
    """Set how long the display shows each message (seed 000's /api/manage/update_rotation/).

    ``meeting``: that meeting's display (the overlays' rotation). ``source``: that source only.
    Neither: every meeting's display and every source. Returns the source ids changed.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ServiceError("invalid", "seconds must be a whole number")
    if not 1 <= seconds <= MAX_ROTATION_SECONDS:
        raise ServiceError("invalid", f"seconds must be between 1 and {MAX_ROTATION_SECONDS}")
    qs = ChatSource.objects.all()
    if source not in (None, ""):
        from .selectors import source_filter

        qs = qs.filter(source_filter(source))
        if not qs.exists():
            raise ServiceError("not_found", f"no chat source {source!r}")
    from overlays.services import save_display_settings
    from polls.models import Meeting

    if meeting is not None:
        if not Meeting.objects.filter(pk=meeting).exists():
            raise ServiceError("not_found", f"no meeting {meeting}")
        meetings = [meeting]
        qs = qs.filter(meetings=meeting)
    elif source in (None, ""):
        meetings = list(Meeting.objects.values_list("pk", flat=True))
    else:
        meetings = []
    with transaction.atomic():
        ids = list(qs.values_list("pk", flat=True))
        ChatSource.objects.filter(pk__in=ids).update(display_rotation_seconds=seconds)
    for meeting_id in meetings:
        save_display_settings(meeting_id, rotation_seconds=seconds, user=user)
    if meetings:
        # Open featured overlays take the new rotation now (a featured.state frame), not at the
        # next chat change. Only meetings that have one: "every meeting" may be many.
        from overlays.models import Overlay, OverlayKind

        live_meetings = sorted(
            set(
                Overlay.objects.filter(
                    meeting_id__in=meetings, kind=OverlayKind.FEATURED, revoked_at__isnull=True
                ).values_list("meeting_id", flat=True)
            )
        )
        transaction.on_commit(lambda: _featured_changed(live_meetings))
    return ids


def _featured_changed(meeting_ids: list[int]) -> None:
    from overlays.live import featured_changed

    for meeting_id in meeting_ids:
        featured_changed(meeting_id)
