"""Changes to stored Slack messages that must wait until the pipeline stored them.

Events go through the pipeline (batched, stored, published once). Some Slack behaviour needs the
stored row afterwards: an "immediate" channel publishes each message (status ``sent``), an edit
refreshes the rendered HTML, a processed image is attached. One background thread applies these
in bulk every ``INTERVAL`` seconds (one UPDATE per message, one ``chat.updated`` frame per round
for all dashboards, never a frame per message) and gives up on a row that never shows up.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from django.db import close_old_connections, transaction
from django.utils import timezone

from .db import run_db

log = logging.getLogger(__name__)
INTERVAL = 0.1
GIVE_UP_SECONDS = 60.0


@dataclass
class Followup:
    platform_message_id: str
    publish: bool = False  # set status sent if still new
    html_for_text: tuple[str, str] | None = None  # (text, html): once the edit is applied
    extra: dict = field(default_factory=dict)  # merged into extra
    added: float = field(default_factory=time.monotonic)


class Followups:
    def __init__(self):
        self._lock = threading.Lock()
        self._pending: list[Followup] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = False
        self.applied = 0

    def add(self, item: Followup) -> None:
        with self._lock:
            self._pending.append(item)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="slack-followups", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _run(self) -> None:
        while True:
            self._wake.wait(INTERVAL)
            self._wake.clear()
            time.sleep(INTERVAL / 2)  # let a burst collect
            with self._lock:
                batch, self._pending = self._pending, []
                self._busy = bool(batch)
            if not batch:
                continue
            try:
                retry = run_db(self.apply, batch)
            except Exception:
                log.exception("slack follow-ups failed; retrying")
                retry = batch
            finally:
                close_old_connections()
            now = time.monotonic()
            keep = [f for f in retry if now - f.added < GIVE_UP_SECONDS]
            for f in retry:
                if f not in keep:
                    log.warning(
                        "slack: message %s never got stored; dropped its follow-up",
                        f.platform_message_id,
                    )
            with self._lock:
                self._pending = keep + self._pending
                self._busy = False

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once nothing is pending or being applied (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending and not self._busy:
                    return True
            time.sleep(0.02)
        return False

    def clear(self) -> None:
        with self._lock:
            self._pending = []

    def apply(self, batch: list[Followup]) -> list[Followup]:
        """Apply what can be applied; return the follow-ups whose row is not there yet."""
        from ..models import ChatMessage, MessageAction, MessageStatus
        from ..publish import MODERATION_GROUP, publish_sync
        from ..serializers import message_dict

        ids = {f.platform_message_id for f in batch}
        retry: list[Followup] = []
        changed: dict[int, ChatMessage] = {}
        with transaction.atomic():
            rows = {
                m.platform_message_id: m
                for m in ChatMessage.objects.select_for_update(of=("self",))
                .filter(platform="slack", platform_message_id__in=ids)
                .select_related("author", "reviewed_by")
            }
            actions = []
            for f in batch:
                msg = rows.get(f.platform_message_id)
                if msg is None:
                    retry.append(f)
                    continue
                dirty = set()
                if f.publish and msg.status == MessageStatus.NEW:
                    msg.status = MessageStatus.SENT
                    msg.reviewed_at = timezone.now()
                    dirty |= {"status", "reviewed_at"}
                    actions.append(
                        MessageAction(
                            message=msg,
                            user=None,
                            via="slack",
                            changes={"status": ["new", "sent"], "policy": "immediate"},
                        )
                    )
                if f.html_for_text is not None:
                    text, html = f.html_for_text
                    if msg.text != text:
                        retry.append(
                            Followup(
                                f.platform_message_id, html_for_text=f.html_for_text, added=f.added
                            )
                        )
                    elif (msg.extra or {}).get("html") != html:
                        msg.extra = {**(msg.extra or {}), "html": html}
                        dirty.add("extra")
                if f.extra:
                    msg.extra = {**(msg.extra or {}), **f.extra}
                    dirty.add("extra")
                if dirty:
                    msg.save(update_fields=sorted(dirty))
                    changed[msg.pk] = msg
            if actions:
                MessageAction.objects.bulk_create(actions)
            if changed:
                frame = {
                    "type": "chat.updated",
                    "messages": [message_dict(m) for m in changed.values()],
                }
                transaction.on_commit(lambda: publish_sync(MODERATION_GROUP, frame))
        self.applied += len(changed)
        return retry


FOLLOWUPS = Followups()
