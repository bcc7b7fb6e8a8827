from django.contrib import admin

from .models import DisplaySettings, Overlay


@admin.register(Overlay)
class OverlayAdmin(admin.ModelAdmin):
    list_display = ("__str__", "meeting", "kind", "token_prefix", "created_at", "revoked_at")
    list_filter = ("kind",)
    readonly_fields = ("token_prefix", "token_hash", "token_issued_at", "created_at")
    exclude = ("token_secret",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # overlays are created on the meeting's overlays page (they need a token)

    @admin.action(description="Revoke the selected overlays (their URLs stop working)")
    def revoke(self, request, queryset):
        from . import live, services

        for ov in queryset.filter(revoked_at__isnull=True):
            services.revoke(ov)
            live.overlay_changed(ov.pk, close=True)


@admin.register(DisplaySettings)
class DisplaySettingsAdmin(admin.ModelAdmin):
    list_display = ("meeting", "rotation_seconds", "display_limit", "capture_delay_seconds")
