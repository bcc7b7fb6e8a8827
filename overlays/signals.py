"""A moderator's change to a message reaches the overlays: unselected, ignored or removed ->
it leaves every overlay at once; selected/pinned/reordered -> the featured state is resent.

ingest.services.update_message saves the message (post_save); we compare with the values the
instance was loaded with (post_init) and act after the transaction commits.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_init, post_save
from django.dispatch import receiver

from ingest.models import ChatMessage, MessageStatus, PlatformState
from ingest.services import display_reordered

log = logging.getLogger(__name__)
WATCHED = ("display_selected", "pinned", "status", "platform_state", "display_order")


@receiver(post_init, sender=ChatMessage, dispatch_uid="overlays_remember")
def remember(sender, instance, **kwargs):
    instance._overlay_was = tuple(instance.__dict__.get(f) for f in WATCHED)


@receiver(post_save, sender=ChatMessage, dispatch_uid="overlays_changed")
def changed(sender, instance, created, raw=False, **kwargs):
    if raw or created:
        return
    was = dict(zip(WATCHED, getattr(instance, "_overlay_was", (None,) * len(WATCHED)), strict=True))
    now = {f: getattr(instance, f) for f in WATCHED}
    instance._overlay_was = tuple(now.values())
    if was == now:
        return
    showable = (
        now["display_selected"]
        and now["status"] != MessageStatus.IGNORED
        and now["platform_state"] == PlatformState.VISIBLE
    )
    removed = not showable and (
        was["display_selected"] != now["display_selected"]
        or now["status"] == MessageStatus.IGNORED
        or now["platform_state"] != PlatformState.VISIBLE
    )
    approved = was["status"] != now["status"] and now["status"] in ("reviewed", "sent")
    newly_selected = now["display_selected"] and not was["display_selected"]
    if not (removed or approved or was["display_selected"] or now["display_selected"]):
        return
    pk, source_id = instance.pk, instance.source_id

    def after_commit():
        from ingest.serializers import message_dict

        from . import live, services

        try:
            meetings = services.meetings_of_source(source_id)
            msg = ChatMessage.objects.select_related("author").filter(pk=pk).first()
            if msg is None:
                return
            if newly_selected:
                for mid in meetings:
                    services.enforce_display_limit(mid)
            live.message_changed(
                services.overlay_message(message_dict(msg)), meetings,
                removed=removed, approved=approved,
            )
        except Exception:
            log.exception("could not tell the overlays about message %s", pk)

    transaction.on_commit(after_commit)


@receiver(display_reordered, dispatch_uid="overlays_reordered")
def reordered(sender, order, **kwargs):
    """A reorder (display manager or /api/manage/reorder/) -> the meetings' featured state."""
    from polls.models import Meeting

    from . import live

    try:
        meetings = set(
            Meeting.objects.filter(sources__messages__pk__in=order).values_list("pk", flat=True)
        )
        for mid in meetings:
            live.featured_changed(mid)
    except Exception:
        log.exception("could not tell the overlays about a reorder")
