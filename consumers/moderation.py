"""The moderation dashboard socket: live chat in, moderator commands out."""

from __future__ import annotations

from channels.db import database_sync_to_async

from ingest.models import ChatSource
from ingest.platform_actions import capabilities, moderate, post
from ingest.publish import MODERATION_GROUP
from ingest.selectors import FilterError, list_messages
from ingest.serializers import source_dict
from ingest.services import ServiceError, update_message

from .base import CLOSE_UNAUTHORIZED, CommandError, FrameConsumer, command, user_has_role
from .protocol import ChatPost, MessagesQuery, MessageUpdate, Ping, PlatformModerate

MODERATOR_ROLES = ("moderator",)
BOTS_GROUP = "bots"  # OBS connection status and saved clips (bots/obs.py, bots/clips.py)


class ModerationConsumer(FrameConsumer):
    channel = "moderation"

    async def authorize(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return CLOSE_UNAUTHORIZED
        return await self.is_moderator()

    async def is_moderator(self) -> bool:
        user = self.scope.get("user")
        return await user_has_role(getattr(user, "pk", None), *MODERATOR_ROLES)

    async def groups_for(self):
        return [MODERATION_GROUP, BOTS_GROUP]

    async def hello(self):
        sources = await database_sync_to_async(
            lambda: [source_dict(s) for s in ChatSource.objects.all()]
        )()
        return {
            "user": self.scope["user"].get_username(),
            "sources": sources,
            "capabilities": capabilities(),
        }

    @command("message.update", MessageUpdate, permission="is_moderator")
    async def message_update(self, frame: MessageUpdate):
        try:
            message = await database_sync_to_async(update_message)(
                user=self.scope["user"],
                message_id=frame.message_id,
                changes=frame.model_dump(exclude={"message_id"}, exclude_none=True),
                via="dashboard",
            )
        except ServiceError as exc:
            raise CommandError(exc.code, exc.message) from exc
        return {"message": message}

    @command("messages.query", MessagesQuery, permission="is_moderator")
    async def messages_query(self, frame: MessagesQuery):
        try:
            messages, next_before = await database_sync_to_async(list_messages)(
                **frame.model_dump(exclude_none=True)
            )
        except FilterError as exc:
            raise CommandError("invalid", str(exc)) from exc
        return {"messages": messages, "next_before_id": next_before}

    @command("platform.moderate", PlatformModerate, permission="is_moderator", background=True)
    async def platform_moderate(self, frame: PlatformModerate):
        try:
            result = await moderate(
                self.scope["user"],
                frame.message_id,
                frame.action,
                seconds=frame.seconds,
                reason=frame.reason,
                via="dashboard",
            )
        except ServiceError as exc:
            raise CommandError(exc.code, exc.message) from exc
        return {"result": result}

    @command("chat.post", ChatPost, permission="is_moderator", background=True)
    async def chat_post(self, frame: ChatPost):
        try:
            result = await post(self.scope["user"], frame.source_id, frame.text)
        except ServiceError as exc:
            raise CommandError(exc.code, exc.message) from exc
        return {"posted": result}

    @command("ping", Ping)
    async def ping(self, frame: Ping):
        return {"pong": True}
