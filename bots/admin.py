from django import forms
from django.contrib import admin

from .models import (
    BotConfig,
    ChatCommand,
    Clip,
    KeywordTrigger,
    ObsConnection,
    Revolution,
    TimerMessage,
)


class ObsConnectionForm(forms.ModelForm):
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Leave empty to keep the stored password. Stored encrypted; never shown.",
    )

    class Meta:
        model = ObsConnection
        fields = ["name", "host", "port", "password", "enabled", "clips_dir"]

    def save(self, commit=True):
        obj = super().save(commit=False)
        if self.cleaned_data.get("password"):
            obj.secrets = {**(obj.secrets or {}), "password": self.cleaned_data["password"]}
        if commit:
            obj.save()
        return obj


@admin.register(ObsConnection)
class ObsConnectionAdmin(admin.ModelAdmin):
    form = ObsConnectionForm
    list_display = (
        "name",
        "host",
        "port",
        "enabled",
        "status",
        "status_reason",
        "status_changed_at",
    )
    list_filter = ("enabled", "status")
    search_fields = ("name", "host")
    readonly_fields = ("status", "status_reason", "status_changed_at")


@admin.register(KeywordTrigger)
class KeywordTriggerAdmin(admin.ModelAdmin):
    list_display = ("name", "enabled", "connection", "cooldown_seconds", "whole_word")
    list_filter = ("enabled", "connection", "whole_word")
    search_fields = ("name", "keywords")
    filter_horizontal = ("sources",)


@admin.register(Clip)
class ClipAdmin(admin.ModelAdmin):
    list_display = ("path", "author", "keyword", "source", "size_bytes", "created_at")
    list_filter = ("keyword", "source", "connection")
    search_fields = ("author", "keyword", "text", "path")
    date_hierarchy = "created_at"
    raw_id_fields = ("message",)


class RevolutionForm(forms.ModelForm):
    class Meta:
        model = Revolution
        fields = [
            "meeting",
            "command",
            "threshold",
            "window_seconds",
            "cooldown_seconds",
            "message",
            "alert_video",
            "obs_connection",
            "obs_actions",
            "enabled",
        ]

    def clean_alert_video(self):
        from .validators import validate_alert_video

        f = self.cleaned_data.get("alert_video")
        if f and hasattr(f, "read"):
            validate_alert_video(f)
        return f


class TimerInline(admin.TabularInline):
    model = TimerMessage
    extra = 0


class CommandInline(admin.TabularInline):
    model = ChatCommand
    extra = 0


class RevolutionInline(admin.StackedInline):
    model = Revolution
    form = RevolutionForm
    extra = 0


@admin.register(BotConfig)
class BotConfigAdmin(admin.ModelAdmin):
    list_display = ("meeting", "enabled", "command_prefix", "builtin_commands")
    list_filter = ("enabled",)
    search_fields = ("meeting__title",)


@admin.register(TimerMessage)
class TimerMessageAdmin(admin.ModelAdmin):
    list_display = ("text", "meeting", "group", "interval_seconds", "min_lines", "order", "enabled")
    list_filter = ("enabled", "group", "meeting")
    search_fields = ("text",)
    list_editable = ("order", "enabled")
    actions = ["enable", "disable"]

    @admin.action(description="Enable selected timers")
    def enable(self, request, queryset):
        queryset.update(enabled=True)

    @admin.action(description="Disable selected timers")
    def disable(self, request, queryset):
        queryset.update(enabled=False)


@admin.register(ChatCommand)
class ChatCommandAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "aliases",
        "meeting",
        "audience",
        "global_cooldown",
        "user_cooldown",
        "enabled",
    )
    list_filter = ("enabled", "audience", "meeting")
    search_fields = ("name", "aliases", "reply")


@admin.register(Revolution)
class RevolutionAdmin(admin.ModelAdmin):
    form = RevolutionForm
    list_display = (
        "command",
        "meeting",
        "threshold",
        "window_seconds",
        "cooldown_seconds",
        "enabled",
    )
    list_filter = ("enabled", "meeting")
