"""Overlay rules: tokens, per-overlay settings, display settings and what each overlay shows.

Plain functions (sync, database); consumers and views stay thin. Live fan-out is overlays/live.py.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from django.db import transaction
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.models import ChatMessage, MessageStatus, PlatformState
from ingest.serializers import message_dict
from ingest.services import ServiceError, reorder_display, update_message

from .models import DisplaySettings, Overlay, OverlayKind, hash_token

MEETING_KINDS = (OverlayKind.QUESTION, OverlayKind.WORDCLOUD, OverlayKind.SCOREBOARD)
TICKER_HELLO = 30
APPROVED = (MessageStatus.REVIEWED, MessageStatus.SENT)
ALERT_KINDS = ("paid", "membership", "gift", "follow")
MAX_CUSTOM_CSS = 50_000
FONT_RE = r"^[A-Za-z0-9 ,'\-]{1,80}$"


# --- per-overlay settings -----------------------------------------------------------------------
class OverlaySettings(BaseModel):
    """Display options of one overlay; saved on the overlay, overridable by query string."""

    model_config = ConfigDict(extra="forbid")

    theme: Literal["dark", "light", "none"] = "dark"
    font: str = Field(default="system-ui, sans-serif", pattern=FONT_RE)
    size: int = Field(default=28, ge=8, le=200, description="Base font size in px")
    max_items: int = Field(default=1, ge=1, le=50)
    align: Literal["left", "center", "right"] = "left"
    animation_in: Literal["none", "fade", "slide", "pop"] = "fade"
    animation_out: Literal["none", "fade", "slide", "pop"] = "fade"
    hide_after: int = Field(default=0, ge=0, le=3600, description="Seconds; 0 = stay")
    filter: Literal["all", "approved"] = "all"  # ticker: every message, or approved ones only
    badges: bool = True
    avatars: bool = True


SETTING_NAMES = tuple(OverlaySettings.model_fields)


def clean_settings(data: dict, base: dict | None = None) -> dict:
    """Validate settings (strings from a form or a query string are converted). ServiceError
    with a clear message on bad input."""
    merged = {**(base or {})}
    for key, value in data.items():
        if key not in SETTING_NAMES:
            raise ServiceError("invalid", f"unknown setting {key!r}; use {', '.join(SETTING_NAMES)}")
        if OverlaySettings.model_fields[key].annotation is bool and isinstance(value, str):
            value = value.lower() in ("1", "true", "yes", "on")
        merged[key] = value
    try:
        return OverlaySettings.model_validate(merged).model_dump()
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ServiceError("invalid", f"{err['loc'][0]}: {err['msg']}") from exc


def effective_settings(overlay: Overlay, query: dict | None = None) -> dict:
    base = clean_settings({}, _known(overlay.settings))
    if query:
        base = clean_settings({k: v for k, v in query.items() if k in SETTING_NAMES}, base)
    return base


def _known(d: dict) -> dict:
    return {k: v for k, v in (d or {}).items() if k in SETTING_NAMES}


# --- tokens ---------------------------------------------------------------------------------------
def find_overlay(token: str) -> Overlay | None:
    """The active overlay with this token, or None (unknown, malformed or revoked)."""
    if not token or len(token) > 64 or not re.fullmatch(r"[A-Za-z0-9_\-]+", token):
        return None
    ov = (
        Overlay.objects.select_related("meeting")
        .filter(token_hash=hash_token(token), revoked_at__isnull=True)
        .first()
    )
    if ov is None or not ov.token_matches(token):
        return None
    return ov


def create_overlay(*, meeting, kind: str, name: str = "", user=None, settings=None) -> tuple[Overlay, str]:
    if kind not in OverlayKind.values:
        raise ServiceError("invalid", f"kind must be one of {', '.join(OverlayKind.values)}")
    ov = Overlay(meeting=meeting, kind=kind, name=name[:100], created_by=user)
    ov.settings = clean_settings(settings or {}, _kind_defaults(kind))
    token = ov.set_token()
    ov.save()
    return ov, token


def _kind_defaults(kind: str) -> dict:
    if kind == OverlayKind.TICKER:
        return {"max_items": 8, "size": 22}
    if kind == OverlayKind.ALERTS:
        return {"hide_after": 8, "align": "center", "animation_in": "pop"}
    if kind in MEETING_KINDS or kind == OverlayKind.JOINCARD:
        return {"align": "center"}
    return {}


def regenerate_token(overlay: Overlay) -> str:
    """New token; sockets using the old one are closed (see live.close_overlay_sockets)."""
    token = overlay.set_token()
    overlay.save(
        update_fields=["token_prefix", "token_hash", "token_secret", "token_issued_at", "revoked_at"]
    )
    return token


def revoke(overlay: Overlay) -> None:
    overlay.revoked_at = timezone.now()
    overlay.save(update_fields=["revoked_at"])


def save_settings(overlay: Overlay, data: dict, custom_css: str | None = None) -> dict:
    overlay.settings = clean_settings(data, _known(overlay.settings))
    fields = ["settings"]
    if custom_css is not None:
        if len(custom_css) > MAX_CUSTOM_CSS:
            raise ServiceError("invalid", f"custom CSS is limited to {MAX_CUSTOM_CSS} characters")
        overlay.custom_css = custom_css
        fields.append("custom_css")
    overlay.save(update_fields=fields)
    return overlay.settings


def overlay_public_dict(ov: Overlay, settings: dict) -> dict:
    return {
        "id": ov.pk,
        "kind": ov.kind,
        "name": ov.name,
        "meeting_id": ov.meeting_id,
        "settings": settings,
        "custom_css": bool(ov.custom_css),
    }


# --- display settings -----------------------------------------------------------------------------
def display_settings(meeting_id: int) -> DisplaySettings:
    ds = DisplaySettings.objects.filter(meeting_id=meeting_id).first()
    return ds or DisplaySettings(meeting_id=meeting_id)


def save_display_settings(meeting_id: int, *, rotation_seconds=None, display_limit=None,
                          capture_delay_seconds=None, user=None) -> DisplaySettings:
    values = {
        "rotation_seconds": (rotation_seconds, 1, 3600),
        "display_limit": (display_limit, 1, 200),
        "capture_delay_seconds": (capture_delay_seconds, 0, 600),
    }
    with transaction.atomic():
        ds, _ = DisplaySettings.objects.select_for_update().get_or_create(meeting_id=meeting_id)
        for field, (value, lo, hi) in values.items():
            if value is None or value == "":
                continue
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ServiceError("invalid", f"{field} must be a whole number") from None
            if not lo <= value <= hi:
                raise ServiceError("invalid", f"{field} must be between {lo} and {hi}")
            setattr(ds, field, value)
        ds.save()
    enforce_display_limit(meeting_id, user=user)
    return ds


# --- what overlays show ---------------------------------------------------------------------------
def overlay_message(d: dict) -> dict:
    """The public part of a serialized message (no notes, no reviewer)."""
    a = d.get("author") or {}
    return {
        "id": d["id"],
        "platform": d["platform"],
        "source_id": d["source_id"],
        "kind": d["kind"],
        "author": {
            "display_name": a.get("display_name") or a.get("login") or "",
            "login": a.get("login", ""),
            "avatar_url": a.get("avatar_url", ""),
            "badges": a.get("badges") or [],
        },
        "text": d["text"],
        "fragments": d.get("fragments") or [],
        "amount_display": d.get("amount_display", ""),
        "sent_at": d.get("sent_at"),
        "status": d.get("status"),
        "pinned": d.get("pinned", False),
        "display_order": d.get("display_order"),
    }


def _meeting_messages(meeting_id: int):
    return ChatMessage.objects.filter(source__meetings=meeting_id).select_related("author")


def featured_queryset(meeting_id: int):
    """Display-selected messages of the meeting's sources that may be on air."""
    return (
        _meeting_messages(meeting_id)
        .filter(display_selected=True, platform_state=PlatformState.VISIBLE)
        .exclude(status=MessageStatus.IGNORED)
        .order_by("display_order", "id")
    )


def featured_state(meeting_id: int) -> dict:
    """The featured overlay's whole state; ``release_at`` = when a held message may go on air."""
    ds = display_settings(meeting_id)
    rows = list(featured_queryset(meeting_id))
    now = timezone.now()
    cutoff = now - timedelta(seconds=ds.capture_delay_seconds)
    shown, held = [], []
    for m in rows:
        (shown if m.received_at <= cutoff else held).append(m)
    release_at = None
    if held:
        first = min(m.received_at for m in held)
        release_at = (first + timedelta(seconds=ds.capture_delay_seconds)).isoformat()
    return {
        "meeting_id": meeting_id,
        "rotation_seconds": ds.rotation_seconds,
        "display_limit": ds.display_limit,
        "capture_delay_seconds": ds.capture_delay_seconds,
        "messages": [overlay_message(message_dict(m)) for m in shown],
        "held": len(held),
        "release_at": release_at,
    }


def ticker_messages(meeting_id: int, limit: int = TICKER_HELLO) -> list[dict]:
    ds = display_settings(meeting_id)
    cutoff = timezone.now() - timedelta(seconds=ds.capture_delay_seconds)
    rows = list(
        _meeting_messages(meeting_id)
        .filter(platform_state=PlatformState.VISIBLE, received_at__lte=cutoff)
        .exclude(status=MessageStatus.IGNORED)
        .order_by("-id")[:limit]
    )
    return [overlay_message(message_dict(m)) for m in reversed(rows)]


def public_results(results: dict | None) -> dict | None:
    """Live results without the quiz answer (it is revealed by the meeting state)."""
    if not results:
        return results
    out = dict(results)
    if "choices" in out:
        out["choices"] = [{k: v for k, v in c.items() if k != "correct"} for c in out["choices"]]
    return out


def meeting_state(meeting_id: int) -> dict:
    from polls.models import Meeting, MeetingState, QuestionStatus
    from polls.serializers import public_state, question_results, scoreboard

    m = Meeting.objects.select_related("current_question").get(pk=meeting_id)
    d = public_state(m)
    q = m.current_question
    revealed = m.state in (MeetingState.RESULTS, MeetingState.SCOREBOARD, MeetingState.AFTER)
    if d["results"] is None and q is not None and q.takes_answers and q.status != QuestionStatus.PENDING:
        d["results"] = question_results(q, reveal=revealed and q.status == QuestionStatus.CLOSED)
    if d["scoreboard"] is None:
        d["scoreboard"] = scoreboard(m.pk)
    return d


def initial_state(ov: Overlay) -> dict:
    """The full current state an overlay needs after (re)connecting."""
    if ov.kind == OverlayKind.FEATURED:
        return {"featured": featured_state(ov.meeting_id)}
    if ov.kind == OverlayKind.TICKER:
        return {"messages": ticker_messages(ov.meeting_id)}
    if ov.kind in MEETING_KINDS:
        return {"meeting": meeting_state(ov.meeting_id)}
    if ov.kind == OverlayKind.JOINCARD:
        m = ov.meeting
        return {"join": {"code": m.join_code, "title": m.title}}
    return {}


# --- display manager ------------------------------------------------------------------------------
def meeting_display(meeting_id: int) -> dict:
    """The display manager's list: every selected message of the meeting, held ones marked."""
    ds = display_settings(meeting_id)
    cutoff = timezone.now() - timedelta(seconds=ds.capture_delay_seconds)
    rows = list(
        _meeting_messages(meeting_id).filter(display_selected=True).order_by("display_order", "id")
    )
    return {
        "settings": {
            "rotation_seconds": ds.rotation_seconds,
            "display_limit": ds.display_limit,
            "capture_delay_seconds": ds.capture_delay_seconds,
        },
        "messages": [
            {**overlay_message(message_dict(m)), "held": m.received_at > cutoff,
             "platform_state": m.platform_state}
            for m in rows
        ],
    }


def reorder_meeting(meeting_id: int, order: list[int], *, user) -> list[int]:
    """Reorder the meeting's featured messages (every id must be one of them)."""
    if not isinstance(order, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in order):
        raise ServiceError("invalid", "order must be a list of message ids")
    mine = set(
        _meeting_messages(meeting_id).filter(display_selected=True).values_list("pk", flat=True)
    )
    foreign = [i for i in order if i not in mine]
    if foreign:
        raise ServiceError("invalid", f"not selected for display in this meeting: {foreign}")
    return reorder_display(user=user, order=order, via="display")


def meeting_message(meeting_id: int, message_id: int) -> ChatMessage:
    m = _meeting_messages(meeting_id).filter(pk=message_id).first()
    if m is None:
        raise ServiceError("not_found", f"message {message_id} is not in this meeting's chat")
    return m


def enforce_display_limit(meeting_id: int, *, user=None) -> list[int]:
    """Over the limit, the oldest unpinned selected messages leave the display."""
    ds = display_settings(meeting_id)
    selected = list(
        _meeting_messages(meeting_id)
        .filter(display_selected=True)
        .order_by("sent_at", "id")
        .values_list("pk", "pinned")
    )
    over = len(selected) - ds.display_limit
    if over <= 0:
        return []
    drop = [pk for pk, pinned in selected if not pinned][:over]
    for pk in drop:
        update_message(user=user, message_id=pk, changes={"display_selected": False}, via="display")
    return drop


def meetings_of_source(source_id: int) -> list[int]:
    from polls.models import Meeting

    return list(Meeting.objects.filter(sources=source_id).values_list("pk", flat=True))
