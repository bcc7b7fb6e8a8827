"""A YouTube source saved anywhere (admin, API, shell, commands) with a URL is stored by video id."""

from django.db.models.signals import pre_save
from django.dispatch import receiver

from ..models import ChatSource, Platform
from .mapping import normalize_video_id


@receiver(pre_save, sender=ChatSource, dispatch_uid="youtube_normalize_identifier")
def normalize_identifier(sender, instance: ChatSource, **kwargs):
    if instance.platform != Platform.YOUTUBE or instance.identifier.strip().lower() == "mine":
        return
    try:
        instance.identifier = normalize_video_id(instance.identifier)
    except ValueError:
        pass  # the adapter reports "not a YouTube video id or URL" on the source
