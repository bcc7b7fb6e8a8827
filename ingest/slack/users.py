"""Slack users (name, title, avatar, admin flag) via users.info, cached per process.

Entries live ``SLACK_USER_CACHE_SECONDS`` (a day by default), so a changed title or avatar shows
within a day; a failed lookup is retried after a minute and meanwhile shows the user id.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)
FAILED_TTL = 60.0


@dataclass(frozen=True)
class SlackUser:
    id: str
    login: str = ""
    display_name: str = ""
    title: str = ""
    avatar_url: str = ""
    is_admin: bool = False
    is_bot: bool = False

    @property
    def name(self) -> str:
        return self.display_name or self.login or self.id


def user_from_api(data: dict) -> SlackUser:
    profile = data.get("profile") or {}
    avatar = ""
    for key in ("image_192", "image_72", "image_512", "image_48", "image_32", "image_24"):
        if profile.get(key):
            avatar = profile[key]
            break
    return SlackUser(
        id=data.get("id", ""),
        login=(data.get("name") or "")[:255],
        display_name=(
            profile.get("display_name") or profile.get("real_name") or data.get("real_name") or ""
        )[:255],
        title=(profile.get("title") or "")[:255],
        avatar_url=avatar[:1000] if avatar.startswith(("http://", "https://")) else "",
        is_admin=bool(data.get("is_admin") or data.get("is_owner") or data.get("is_primary_owner")),
        is_bot=bool(data.get("is_bot")),
    )


class UserCache:
    def __init__(self, client, ttl: float | None = None, clock=time.monotonic):
        self.client = client
        self.clock = clock
        self.ttl = ttl if ttl is not None else float(settings.SLACK_USER_CACHE_SECONDS)
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, SlackUser]] = {}
        self.lookups = 0  # users.info calls made (tests and logs)

    def get(self, user_id: str) -> SlackUser:
        now = self.clock()
        with self._lock:
            hit = self._entries.get(user_id)
            if hit and hit[0] > now:
                return hit[1]
        self.lookups += 1
        try:
            data = self.client.users_info(user=user_id)["user"]
            user, ttl = user_from_api(data), self.ttl
        except (SlackApiError, KeyError, OSError) as exc:
            log.warning("slack users.info %s failed: %s", user_id, exc)
            user, ttl = (hit[1] if hit else SlackUser(id=user_id)), FAILED_TTL
        with self._lock:
            self._entries[user_id] = (now + ttl, user)
        return user

    def name(self, user_id: str) -> str:
        return self.get(user_id).name
