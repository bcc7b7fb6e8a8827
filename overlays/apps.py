from django.apps import AppConfig


class OverlaysConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "overlays"
    verbose_name = "OBS overlays"

    def ready(self):
        from . import signals  # noqa: F401
