from django import forms
from django.contrib import admin

from .models import Clip, KeywordTrigger, ObsConnection


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
