"""The host dashboard's bots panel: live revolution counters, alerts, enable/disable toggles."""

from __future__ import annotations

from channels.db import database_sync_to_async

from bots.services import BotServiceError, bots_state, meeting_group, set_enabled
from ingest.permissions import HOST_GROUP

from .base import (
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHORIZED,
    CommandError,
    FrameConsumer,
    command,
    user_has_role,
)
from .bots_protocol import SetEnabled


class BotsConsumer(FrameConsumer):
    channel = "bots"

    async def authorize(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return CLOSE_UNAUTHORIZED
        from polls.models import Meeting

        self.meeting_id = int(self.scope["url_route"]["kwargs"]["meeting_id"])
        if not await database_sync_to_async(Meeting.objects.filter(pk=self.meeting_id).exists)():
            return CLOSE_NOT_FOUND
        return await self.is_host()

    async def is_host(self) -> bool:
        user = self.scope.get("user")
        return await user_has_role(getattr(user, "pk", None), HOST_GROUP)

    async def groups_for(self):
        return [meeting_group(self.meeting_id)]

    async def hello(self):
        return {"bots": await database_sync_to_async(bots_state)(self.meeting_id)}

    @command("bots.set_enabled", SetEnabled, permission="is_host")
    async def set_enabled(self, frame: SetEnabled):
        if frame.kind in ("timer", "command", "revolution") and frame.id is None:
            raise CommandError("invalid", f"give the id of the {frame.kind}")
        try:
            state = await database_sync_to_async(set_enabled)(
                meeting_id=self.meeting_id,
                kind=frame.kind,
                enabled=frame.enabled,
                item_id=frame.id,
                group=frame.group,
            )
        except BotServiceError as exc:
            raise CommandError(exc.code, exc.message) from exc
        return {"bots": state}
