"""Bots app: OBS connections, chat keyword triggers and the clips they save."""

from django.db import models

from ingest.fields import EncryptedJSONField
from ingest.models import ChatMessage, ChatSource


class ObsConnection(models.Model):
    class Status(models.TextChoices):
        IDLE = "idle", "Idle"
        CONNECTING = "connecting", "Connecting"
        CONNECTED = "connected", "Connected"
        ERROR = "error", "Error"

    name = models.CharField(max_length=100, unique=True)
    host = models.CharField(max_length=255, default="127.0.0.1")
    port = models.PositiveIntegerField(default=4455)
    secrets = EncryptedJSONField(
        default=dict, blank=True, help_text='{"password": "..."} encrypted at rest'
    )
    enabled = models.BooleanField(default=True)
    # Where OBS writes replays, as seen from Chorus (empty: the path OBS reports is used as is).
    clips_dir = models.CharField(max_length=1000, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IDLE)
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} ({self.host}:{self.port})"

    @property
    def password(self) -> str:
        return (self.secrets or {}).get("password", "")


class KeywordTrigger(models.Model):
    """Chat keywords that run OBS actions (save the replay, switch scene, set text...)."""

    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    keywords = models.TextField(help_text="One keyword or phrase per line (case-insensitive)")
    whole_word = models.BooleanField(default=True, help_text="Off: match inside words too")
    sources = models.ManyToManyField(ChatSource, blank=True, help_text="Empty: every source")
    connection = models.ForeignKey(ObsConnection, on_delete=models.CASCADE, related_name="triggers")
    actions = models.JSONField(
        default=list,
        help_text=(
            'A list of actions, in order: {"type": "save_replay"}, '
            '{"type": "switch_scene", "scene": "..."}, '
            '{"type": "set_text", "input": "...", "text": "{author}: {message}"}, '
            '{"type": "set_item_visible", "scene": "...", "source": "...", "visible": true}, '
            '{"type": "raw", "request": "GetVersion", "data": {}}'
        ),
    )
    cooldown_seconds = models.PositiveIntegerField(default=30)

    def __str__(self):
        return self.name

    def keyword_list(self) -> list[str]:
        return [k.strip() for k in self.keywords.splitlines() if k.strip()]


class Clip(models.Model):
    """A replay saved because chat asked for it."""

    trigger = models.ForeignKey(KeywordTrigger, null=True, on_delete=models.SET_NULL)
    connection = models.ForeignKey(ObsConnection, null=True, on_delete=models.SET_NULL)
    source = models.ForeignKey(ChatSource, null=True, blank=True, on_delete=models.SET_NULL)
    message = models.ForeignKey(ChatMessage, null=True, blank=True, on_delete=models.SET_NULL)
    author = models.CharField(max_length=255)
    keyword = models.CharField(max_length=255)
    text = models.TextField(blank=True)
    path = models.CharField(max_length=2000)
    size_bytes = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.path
