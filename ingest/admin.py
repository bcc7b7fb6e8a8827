from django.contrib import admin, messages
from django.utils import timezone

from .models import (
    ApiToken,
    ChatAuthor,
    ChatMessage,
    ChatSource,
    LiveSession,
    MessageAction,
    ModerationEvent,
    PlatformAccount,
)


@admin.register(PlatformAccount)
class PlatformAccountAdmin(admin.ModelAdmin):
    list_display = ("__str__", "platform", "login", "status", "expires_at", "validated_at")
    list_filter = ("platform", "status")
    search_fields = ("login", "display_name", "account_id")
    exclude = ("credentials",)  # encrypted secrets never shown
    readonly_fields = ("created_at", "updated_at", "validated_at")


@admin.register(ChatSource)
class ChatSourceAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "platform",
        "identifier",
        "enabled",
        "public",
        "status",
        "last_event_at",
    )
    list_filter = ("platform", "enabled", "public", "status")
    search_fields = ("identifier", "name", "headline")
    readonly_fields = (
        "status",
        "status_reason",
        "status_changed_at",
        "status_worker",
        "last_event_at",
        "cursor",
        "created_at",
    )
    exclude = ("credentials",)
    actions = ["enable", "disable"]

    @admin.action(description="Enable selected sources")
    def enable(self, request, queryset):
        queryset.update(enabled=True)

    @admin.action(description="Disable selected sources")
    def disable(self, request, queryset):
        queryset.update(enabled=False)


@admin.register(LiveSession)
class LiveSessionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "source", "title", "started_at", "ended_at", "viewer_count")
    list_filter = ("source__platform", "source")
    search_fields = ("title", "platform_session_id")
    date_hierarchy = "started_at"


@admin.register(ChatAuthor)
class ChatAuthorAdmin(admin.ModelAdmin):
    list_display = ("display_name", "login", "platform", "platform_user_id", "last_seen")
    list_filter = ("platform",)
    search_fields = ("display_name", "login", "platform_user_id")


class MessageActionInline(admin.TabularInline):
    model = MessageAction
    extra = 0
    readonly_fields = ("user", "via", "changes", "created_at")
    can_delete = False


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "platform",
        "author",
        "kind",
        "text",
        "status",
        "platform_state",
        "display_selected",
        "sent_at",
    )
    list_filter = (
        "status",
        "platform",
        "kind",
        "platform_state",
        "display_selected",
        "pinned",
        "source",
    )
    search_fields = ("text", "author__display_name", "author__login", "platform_message_id", "note")
    date_hierarchy = "sent_at"
    raw_id_fields = ("author", "session", "removal_event", "reviewed_by")
    readonly_fields = (
        "platform_message_id",
        "received_at",
        "created_at",
        "reviewed_by",
        "reviewed_at",
        "removed_at",
    )
    inlines = [MessageActionInline]
    list_select_related = ("author",)


@admin.register(ModerationEvent)
class ModerationEventAdmin(admin.ModelAdmin):
    list_display = (
        "kind",
        "source",
        "target_author",
        "moderator",
        "reason",
        "ends_at",
        "occurred_at",
    )
    list_filter = ("kind", "platform", "source")
    search_fields = (
        "target_text",
        "target_message_id",
        "moderator",
        "reason",
        "target_author__login",
    )
    date_hierarchy = "occurred_at"
    raw_id_fields = ("target_author", "session")


@admin.register(MessageAction)
class MessageActionAdmin(admin.ModelAdmin):
    list_display = ("message", "user", "via", "created_at")
    list_filter = ("via", "user")
    search_fields = ("message__text",)
    raw_id_fields = ("message",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "user__username")
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # keys are issued by `manage.py create_api_token` (shown once)

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        n = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{n} token(s) revoked", messages.SUCCESS)
