"""The chat domain: where messages come from, who wrote them, and what moderators did."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from .fields import EncryptedJSONField


class Platform(models.TextChoices):
    DEMO = "demo", "Demo"
    TWITCH = "twitch", "Twitch"
    YOUTUBE = "youtube", "YouTube"
    TIKTOK = "tiktok", "TikTok"
    SLACK = "slack", "Slack"
    REPLAY = "replay", "Replay (recorded chat)"


class PlatformAccount(models.Model):
    """An OAuth connection to a platform (whose token it is, its scopes and expiry)."""

    class Status(models.TextChoices):
        OK = "ok", "Connected"
        NEEDS_RECONNECT = "needs_reconnect", "Reconnect needed"

    platform = models.CharField(max_length=16, choices=Platform.choices)
    account_id = models.CharField(max_length=128)
    login = models.CharField(max_length=128, blank=True)
    display_name = models.CharField(max_length=256, blank=True)
    scopes = models.JSONField(default=list, blank=True)
    credentials = EncryptedJSONField(default=dict, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OK)
    status_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "account_id"], name="uniq_account")
        ]

    def __str__(self):
        return (
            f"{self.get_platform_display()}: {self.display_name or self.login or self.account_id}"
        )


class ChatSource(models.Model):
    """One place chat comes from: a Twitch channel, a YouTube stream, a TikTok user, a Slack channel."""

    class Status(models.TextChoices):
        IDLE = "idle", "Idle"
        CONNECTING = "connecting", "Connecting"
        CONNECTED = "connected", "Connected"
        OFFLINE = "offline", "Offline (waiting to go live)"
        RETRYING = "retrying", "Retrying"
        FAILED = "failed", "Failed"
        STOPPED = "stopped", "Stopped"

    platform = models.CharField(max_length=16, choices=Platform.choices)
    identifier = models.CharField(
        max_length=255, help_text="Channel login, video id, @handle or Slack channel id"
    )
    name = models.CharField(max_length=255, blank=True)
    enabled = models.BooleanField(default=True)
    settings = models.JSONField(default=dict, blank=True, help_text="Adapter options (not secret)")
    credentials = EncryptedJSONField(default=dict, blank=True, help_text="Encrypted at rest")
    account = models.ForeignKey(
        PlatformAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="sources"
    )
    # Public JSON feed (seed 004's /api/<channel id>).
    public = models.BooleanField(default=False)
    headline = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    display_rotation_seconds = models.PositiveIntegerField(default=10)
    # Resume point, written only after the events before it are stored.
    cursor = models.TextField(blank=True)
    state = models.JSONField(default=dict, blank=True)
    # Health, written on change only.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IDLE)
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_worker = models.CharField(max_length=128, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "identifier"], name="uniq_source")
        ]
        ordering = ["platform", "identifier"]

    def __str__(self):
        return self.name or f"{self.platform}:{self.identifier}"


class LiveSession(models.Model):
    """One broadcast of a source: from stream start to stream end."""

    source = models.ForeignKey(ChatSource, on_delete=models.CASCADE, related_name="sessions")
    platform_session_id = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=500, blank=True)
    category = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=255, blank=True)
    viewer_count = models.PositiveIntegerField(null=True, blank=True)
    peak_viewer_count = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["source", "ended_at"])]

    def __str__(self):
        return f"{self.source} @ {self.started_at:%Y-%m-%d %H:%M}"


class ChatAuthor(models.Model):
    """A person as one platform knows them (identity = platform user id, never display name)."""

    platform = models.CharField(max_length=16, choices=Platform.choices)
    platform_user_id = models.CharField(max_length=255)
    login = models.CharField(max_length=255, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    avatar_url = models.URLField(max_length=1000, blank=True)
    roles = models.JSONField(default=list, blank=True)
    badges = models.JSONField(default=list, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "platform_user_id"], name="uniq_author")
        ]
        indexes = [models.Index(fields=["login"]), models.Index(fields=["display_name"])]

    def __str__(self):
        return f"{self.display_name or self.login} ({self.platform})"


class MessageStatus(models.TextChoices):
    NEW = "new", "New"
    REVIEWED = "reviewed", "Reviewed"
    SENT = "sent", "Sent"
    IGNORED = "ignored", "Ignored"


class PlatformState(models.TextChoices):
    VISIBLE = "visible", "Visible"
    DELETED = "deleted", "Deleted on the platform"
    BANNED = "banned", "Author banned"
    TIMED_OUT = "timed_out", "Author timed out"
    CLEARED = "cleared", "Chat cleared"


class ChatMessage(models.Model):
    """One stored chat item (message, paid message, membership, follow, gift)."""

    source = models.ForeignKey(ChatSource, on_delete=models.CASCADE, related_name="messages")
    session = models.ForeignKey(
        LiveSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    author = models.ForeignKey(
        ChatAuthor, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    platform = models.CharField(max_length=16, choices=Platform.choices)
    platform_message_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, default="message")
    text = models.TextField(blank=True)
    fragments = models.JSONField(default=list, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=16, blank=True)
    amount_display = models.CharField(max_length=64, blank=True)
    reply_to = models.CharField(max_length=255, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    sent_at = models.DateTimeField()
    received_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    # Moderation workflow (ours).
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.NEW
    )
    note = models.TextField(blank=True)
    display_selected = models.BooleanField(default=False)
    pinned = models.BooleanField(default=False)
    display_order = models.IntegerField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    # What the platform did to it.
    platform_state = models.CharField(
        max_length=16, choices=PlatformState.choices, default=PlatformState.VISIBLE
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    removal_event = models.ForeignKey(
        "ModerationEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "platform_message_id"], name="uniq_platform_message"
            )
        ]
        indexes = [
            models.Index(fields=["status", "id"]),
            models.Index(fields=["source", "id"]),
            models.Index(fields=["display_selected", "display_order"]),
            models.Index(fields=["sent_at"]),
        ]

    def __str__(self):
        return f"{self.platform}:{self.platform_message_id}"


class ModerationEvent(models.Model):
    """What the platform's own moderators did: deletes, bans, timeouts, unbans, clears."""

    class Kind(models.TextChoices):
        DELETION = "deletion", "Message deleted"
        BAN = "ban", "Ban"
        TIMEOUT = "timeout", "Timeout"
        UNBAN = "unban", "Unban"
        CLEAR = "clear", "Chat cleared"

    source = models.ForeignKey(ChatSource, on_delete=models.CASCADE, related_name="moderation")
    session = models.ForeignKey(LiveSession, null=True, blank=True, on_delete=models.SET_NULL)
    platform = models.CharField(max_length=16, choices=Platform.choices)
    platform_event_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    target_author = models.ForeignKey(ChatAuthor, null=True, blank=True, on_delete=models.SET_NULL)
    target_message_id = models.CharField(max_length=255, blank=True)
    target_text = models.TextField(blank=True, help_text="Text of the deleted message, if known")
    moderator = models.CharField(max_length=255, blank=True)
    reason = models.TextField(blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "platform_event_id"], name="uniq_platform_event"
            )
        ]
        ordering = ["-occurred_at"]

    def __str__(self):
        return f"{self.kind} on {self.source}"


class MessageAction(models.Model):
    """Audit trail: who changed what on a message, and when."""

    message = models.ForeignKey(ChatMessage, on_delete=models.CASCADE, related_name="actions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    via = models.CharField(max_length=16, default="dashboard")  # dashboard / api / admin
    changes = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.user} {self.via} {self.created_at:%Y-%m-%d %H:%M:%S}"


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the key is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.prefix}… ({self.user})"

    @classmethod
    def issue(cls, user, name: str = "") -> tuple["ApiToken", str]:
        prefix = secrets.token_hex(4)
        key = f"chorus_{prefix}_{secrets.token_urlsafe(32)}"
        token = cls.objects.create(user=user, name=name, prefix=prefix, key_hash=_hash_key(key))
        return token, key

    @classmethod
    def authenticate(cls, key: str):
        try:
            token = cls.objects.select_related("user").get(
                key_hash=_hash_key(key), revoked_at__isnull=True
            )
        except cls.DoesNotExist:
            return None
        if not token.user.is_active:
            return None
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
        return token


class QuotaUsage(models.Model):
    """API quota spent per platform and quota day (YouTube: midnight to midnight Pacific).

    Shared by every process through the database, so the dashboard and /api/health/ see what
    all workers spent. Written with F() increments (no lost updates between workers).
    """

    platform = models.CharField(max_length=16, choices=Platform.choices)
    day = models.DateField()
    units = models.PositiveIntegerField(default=0)
    calls = models.PositiveIntegerField(default=0)
    exhausted_until = models.DateTimeField(null=True, blank=True)
    exhausted_reason = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "day"], name="uniq_quota_day")]
        ordering = ["-day"]

    def __str__(self):
        return f"{self.platform} {self.day}: {self.units} units"
