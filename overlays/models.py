"""OBS overlays (browser sources) of a meeting, and the meeting's display settings.

An overlay is reached with an unguessable token in its URL (OBS cannot log in). The token is looked
up by its SHA-256 (and compared in constant time); the token itself is kept only encrypted at rest
(EncryptedJSONField), so the dashboard can show the URL, its "copy" button and a preview again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings as django_settings
from django.db import models
from django.utils import timezone

from ingest.fields import EncryptedJSONField


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class OverlayKind(models.TextChoices):
    FEATURED = "featured", "Featured chat"
    TICKER = "ticker", "Live chat ticker"
    QUESTION = "question", "Current question + live results"
    WORDCLOUD = "wordcloud", "Word cloud"
    SCOREBOARD = "scoreboard", "Scoreboard / podium"
    ALERTS = "alerts", "Alerts"
    JOINCARD = "joincard", "Join card (QR + code)"


class Overlay(models.Model):
    meeting = models.ForeignKey("polls.Meeting", on_delete=models.CASCADE, related_name="overlays")
    kind = models.CharField(max_length=16, choices=OverlayKind.choices)
    name = models.CharField(max_length=100, blank=True)
    token_prefix = models.CharField(max_length=8, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    token_secret = EncryptedJSONField(default=dict, blank=True, help_text="{token}, encrypted")
    settings = models.JSONField(default=dict, blank=True)
    custom_css = models.TextField(blank=True, help_text="Served as text/css from its own URL")
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    token_issued_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["meeting", "kind", "id"]

    def __str__(self):
        return self.name or f"{self.get_kind_display()} ({self.meeting_id})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def set_token(self) -> str:
        """Give the overlay a new token (the old one stops working). Returns it; not saved."""
        token = secrets.token_urlsafe(24)
        self.token_prefix = token[:8]
        self.token_hash = hash_token(token)
        self.token_secret = {"token": token}
        self.token_issued_at = timezone.now()
        self.revoked_at = None
        return token

    @property
    def token(self) -> str:
        return (self.token_secret or {}).get("token", "")

    def token_matches(self, token: str) -> bool:
        return hmac.compare_digest(self.token_hash, hash_token(token))


class DisplaySettings(models.Model):
    """How a meeting's featured chat is shown (seed 000 had one global setting; this is per meeting)."""

    meeting = models.OneToOneField(
        "polls.Meeting", on_delete=models.CASCADE, related_name="display_settings"
    )
    rotation_seconds = models.PositiveIntegerField(default=10)
    display_limit = models.PositiveIntegerField(
        default=10, help_text="Over the limit, the oldest unpinned messages leave the display"
    )
    capture_delay_seconds = models.PositiveIntegerField(
        default=0, help_text="Hold new messages back this long before they can go on air"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "display settings"

    def __str__(self):
        return f"display of meeting {self.meeting_id}"
