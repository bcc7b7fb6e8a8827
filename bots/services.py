"""Writes to bot configuration from the host dashboard; each publishes one ``bots.config`` frame.

The bot engine re-reads configuration every few seconds (bots/engine.py RELOAD_SECONDS), in
whichever process runs ingest, so a toggle takes effect there without a restart.
"""

from __future__ import annotations

from django.db import transaction

from ingest.publish import publish_sync

from .models import BotConfig, ChatCommand, Revolution, TimerMessage


class BotServiceError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def meeting_group(meeting_id: int) -> str:
    return f"bots.meeting.{meeting_id}"


def bots_state(meeting_id: int) -> dict:
    cfg = BotConfig.objects.filter(meeting_id=meeting_id).first()
    return {
        "meeting_id": meeting_id,
        "enabled": bool(cfg and cfg.enabled),
        "configured": cfg is not None,
        "prefix": cfg.command_prefix if cfg else "!",
        "timers": [
            {
                "id": t.pk,
                "group": t.group,
                "text": t.text,
                "interval_seconds": t.interval_seconds,
                "min_lines": t.min_lines,
                "enabled": t.enabled,
            }
            for t in TimerMessage.objects.filter(meeting_id=meeting_id)
        ],
        "commands": [
            {
                "id": c.pk,
                "name": c.name,
                "aliases": c.aliases,
                "audience": c.audience,
                "enabled": c.enabled,
            }
            for c in ChatCommand.objects.filter(meeting_id=meeting_id).order_by("name")
        ],
        "revolutions": [
            {
                "id": r.pk,
                "command": r.command,
                "threshold": r.threshold,
                "window_seconds": r.window_seconds,
                "enabled": r.enabled,
                "video_url": r.alert_video_url(),
            }
            for r in Revolution.objects.filter(meeting_id=meeting_id).order_by("id")
        ],
    }


_MODELS = {"timer": TimerMessage, "command": ChatCommand, "revolution": Revolution}


def set_enabled(
    *,
    meeting_id: int,
    kind: str,
    enabled: bool,
    item_id: int | None = None,
    group: str | None = None,
) -> dict:
    """Enable/disable the bots of a meeting, one timer/command/revolution, or a timer group."""
    with transaction.atomic():
        if kind == "bots":
            cfg, _ = BotConfig.objects.get_or_create(meeting_id=meeting_id)
            cfg.enabled = enabled
            cfg.save(update_fields=["enabled"])
        elif kind == "timer_group":
            n = TimerMessage.objects.filter(meeting_id=meeting_id, group=group or "").update(
                enabled=enabled
            )
            if not n:
                raise BotServiceError("not_found", f"no timers in group {group!r}")
        elif kind in _MODELS:
            n = (
                _MODELS[kind]
                .objects.filter(meeting_id=meeting_id, pk=item_id)
                .update(enabled=enabled)
            )
            if not n:
                raise BotServiceError("not_found", f"no {kind} {item_id} in this meeting")
        else:
            raise BotServiceError("invalid", f"unknown kind {kind!r}")
        state = bots_state(meeting_id)
        transaction.on_commit(
            lambda: publish_sync(meeting_group(meeting_id), {"type": "bots.config", **state})
        )
    return state
