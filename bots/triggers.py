"""Pipeline listener: chat keywords run OBS actions (with cooldowns and a global debounce)."""

from __future__ import annotations

import asyncio
import logging
import time

from asgiref.sync import sync_to_async
from django.conf import settings

from .keywords import Debouncer, KeywordMatcher
from .obs import PendingClip, manager
from .rules import is_bot_message

log = logging.getLogger(__name__)
_CACHE_SECONDS = 5.0
_state: dict = {"loaded_at": 0.0, "triggers": [], "debouncer": None, "tasks": set()}

TRIGGER_KINDS = {"message", "paid", "membership", "gift", "announcement"}


def _load_triggers():
    from .models import KeywordTrigger

    out = []
    for t in KeywordTrigger.objects.filter(enabled=True, connection__enabled=True).prefetch_related(
        "sources"
    ):
        out.append(
            {
                "id": t.pk,
                "name": t.name,
                "matcher": KeywordMatcher(t.keyword_list(), whole_word=t.whole_word),
                "sources": {s.pk for s in t.sources.all()},
                "connection_id": t.connection_id,
                "actions": list(t.actions or []),
                "cooldown": float(t.cooldown_seconds),
            }
        )
    return out


def reset() -> None:
    _state.update(loaded_at=0.0, triggers=[], debouncer=None)


async def on_batch(stored) -> None:
    """React to a stored batch: at most one OBS run per trigger per cooldown."""
    now = time.monotonic()
    if now - _state["loaded_at"] > _CACHE_SECONDS:
        _state["triggers"] = await sync_to_async(_load_triggers)()
        _state["loaded_at"] = now
    triggers = _state["triggers"]
    if not triggers:
        return
    if _state["debouncer"] is None:
        _state["debouncer"] = Debouncer(global_seconds=settings.OBS_GLOBAL_DEBOUNCE)
    marker = settings.BOT_MESSAGE_MARKER
    for msg in stored.message_objects:
        if msg.kind not in TRIGGER_KINDS or is_bot_message(msg.text, marker):
            continue
        for trig in triggers:
            if trig["sources"] and msg.source_id not in trig["sources"]:
                continue
            keyword = trig["matcher"].match(msg.text)
            if not keyword or not _state["debouncer"].allow(trig["id"], trig["cooldown"]):
                continue
            author = msg.author.display_name or msg.author.login if msg.author else "viewer"
            clip = PendingClip(
                trig["id"], trig["connection_id"], msg.source_id, msg.pk, author, keyword, msg.text
            )
            variables = {
                "author": author,
                "keyword": keyword,
                "message": msg.text,
                "platform": msg.platform,
            }
            task = asyncio.create_task(_run(trig, variables, clip))
            _state["tasks"].add(task)
            task.add_done_callback(_state["tasks"].discard)


async def _run(trig, variables, clip) -> None:
    try:
        await manager().run_actions(trig["connection_id"], trig["actions"], variables, clip)
    except Exception as exc:
        log.warning("trigger %s: OBS actions failed: %s", trig["name"], exc)
