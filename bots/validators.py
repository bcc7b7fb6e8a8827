"""Uploaded alert videos: checked by content (not by name) and by size."""

from django.conf import settings
from django.core.exceptions import ValidationError


def sniff_video(head: bytes) -> str | None:
    """'webm' or 'mp4' from the first bytes, else None."""
    if head[:4] == b"\x1a\x45\xdf\xa3" and b"webm" in head[:64]:
        return "webm"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "mp4"
    return None


def validate_alert_video(f) -> str:
    size = getattr(f, "size", None)
    limit = settings.BOT_ALERT_MAX_BYTES
    if size is not None and size > limit:
        raise ValidationError(
            f"The video is {size // 1_000_000} MB; the limit is {limit // 1_000_000} MB."
        )
    pos = f.tell() if hasattr(f, "tell") else 0
    f.seek(0)
    head = f.read(64)
    f.seek(pos)
    kind = sniff_video(head)
    if kind is None:
        raise ValidationError(
            "Only WebM or MP4 videos are accepted (the file's content is neither)."
        )
    return kind
