"""Bots app: OBS connections, chat keyword triggers and the clips they save."""

from django.db import models
from django.utils.crypto import salted_hmac

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


# --- Chat bots, configured per meeting ----------------------------------------------------------
class Audience(models.TextChoices):
    EVERYONE = "everyone", "Everyone"
    SUBSCRIBERS = "subscribers", "Subscribers / members"
    MODERATORS = "moderators", "Moderators"


class BotConfig(models.Model):
    meeting = models.OneToOneField(
        "polls.Meeting", on_delete=models.CASCADE, related_name="bot_config"
    )
    enabled = models.BooleanField(default=True)
    command_prefix = models.CharField(max_length=4, default="!")
    builtin_commands = models.BooleanField(default=True, help_text="!score, !top, !join")

    def __str__(self):
        return f"Bots of {self.meeting}"


class TimerMessage(models.Model):
    """A periodic post. Timers of a meeting take turns in ``order``."""

    meeting = models.ForeignKey("polls.Meeting", on_delete=models.CASCADE, related_name="timers")
    group = models.CharField(max_length=50, blank=True, help_text="Enable/disable timers by group")
    text = models.TextField(
        help_text="Variables: {join_url} {join_code} {question} {top_scorer} {uptime}"
    )
    interval_seconds = models.PositiveIntegerField(default=300)
    min_lines = models.PositiveIntegerField(
        default=5, help_text="Chat lines needed since the last post"
    )
    order = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self):
        return self.text[:50]


class ChatCommand(models.Model):
    meeting = models.ForeignKey("polls.Meeting", on_delete=models.CASCADE, related_name="commands")
    name = models.CharField(max_length=32, help_text="Without the prefix, e.g. discord")
    aliases = models.CharField(max_length=200, blank=True, help_text="Comma-separated")
    reply = models.TextField(
        help_text="Variables: {user} {args} {join_url} {join_code} {question} {top_scorer} {uptime}"
    )
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.EVERYONE)
    global_cooldown = models.PositiveIntegerField(default=5)
    user_cooldown = models.PositiveIntegerField(default=30)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meeting", "name"], name="uniq_command")]

    def __str__(self):
        return self.name

    def names(self) -> list[str]:
        return [self.name.casefold()] + [
            a.strip().casefold() for a in self.aliases.split(",") if a.strip()
        ]


def alert_video_key(revolution_id: int, file_name: str) -> str:
    return salted_hmac(
        "chorus.bots.alert-video", f"{revolution_id}:{file_name}", algorithm="sha256"
    ).hexdigest()[:32]


class Revolution(models.Model):
    """When N distinct viewers send the command within T seconds: post, play an alert, run OBS."""

    meeting = models.ForeignKey(
        "polls.Meeting", on_delete=models.CASCADE, related_name="revolutions"
    )
    command = models.CharField(max_length=32, default="revolution", help_text="Without the prefix")
    threshold = models.PositiveIntegerField(default=10, help_text="Distinct viewers")
    window_seconds = models.PositiveIntegerField(default=60)
    cooldown_seconds = models.PositiveIntegerField(default=300)
    message = models.TextField(default="The revolution has begun!")
    alert_video = models.FileField(upload_to="alerts/", blank=True)
    obs_connection = models.ForeignKey(
        ObsConnection, null=True, blank=True, on_delete=models.SET_NULL
    )
    obs_actions = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)

    def __str__(self):
        return f"{self.command} ({self.threshold} in {self.window_seconds}s)"

    def alert_video_url(self) -> str:
        """Where OBS plays the alert video: public (OBS cannot log in) but unguessable, since the
        key is an HMAC of the revolution and its file name (SECRET_KEY). A new upload gets a new
        URL. Empty without a video."""
        if not self.alert_video:
            return ""
        from django.urls import reverse

        return reverse("bots:alert-video", args=[self.pk, alert_video_key(self.pk, self.alert_video.name)])

    def clean(self):
        from .validators import validate_alert_video

        if self.alert_video:
            validate_alert_video(self.alert_video)
