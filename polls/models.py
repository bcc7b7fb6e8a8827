"""Meetings: a plan of questions run live for a room and for stream chats at once.

The meeting state machine lives in polls/state.py; scoring rules in polls/scoring.py; writes in
polls/services.py. Models hold data and database constraints only.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

# Unambiguous characters, read off a projector or said aloud: no 0/O, 1/I/L, 8/B, 5/S, 2/Z, U/V.
JOIN_CODE_ALPHABET = "ACDEFGHJKMNPQRTVWXY2345679"
JOIN_CODE_LENGTH = 6


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def normalize_join_code(code: str) -> str:
    return "".join(code.split()).upper()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class MeetingState(models.TextChoices):
    BEFORE = "before", "Not started"
    WAITING = "waiting", "Waiting"
    ONGOING = "ongoing", "Question open"
    RESULTS = "results", "Showing results"
    SCOREBOARD = "scoreboard", "Showing scoreboard"
    AFTER = "after", "Finished"


class ScoringMode(models.TextChoices):
    CLASSIC = "classic", "Classic (1 point, first-correct bonus)"
    TIMED = "timed", "Timed (faster answers score more)"


class Meeting(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown (raw HTML is not rendered)")
    join_code = models.CharField(max_length=16, unique=True, default=new_join_code)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    sources = models.ManyToManyField(
        "ingest.ChatSource", blank=True, related_name="meetings", help_text="Chat that can vote"
    )
    # Scoring.
    scoring_mode = models.CharField(
        max_length=16, choices=ScoringMode.choices, default=ScoringMode.CLASSIC
    )
    points_correct = models.PositiveIntegerField(default=1, help_text="Classic: per correct answer")
    first_correct_bonus = models.PositiveIntegerField(default=1)
    timed_max_points = models.PositiveIntegerField(default=1000)
    timed_window_seconds = models.PositiveIntegerField(
        default=20, help_text="Timed mode, questions without a timer: time to reach half points"
    )
    streak_bonus = models.PositiveIntegerField(
        default=0, help_text="Timed mode: extra points per consecutive correct answer"
    )
    allow_vote_change = models.BooleanField(default=True, help_text="Polls: change until closed")
    # Chat interaction.
    chat_prefix = models.CharField(max_length=4, default="#")
    flag_command = models.CharField(max_length=16, default="!flag")
    flag_prefix = models.CharField(max_length=32, blank=True, default="FLAG")
    # Live state (persisted: a restart resumes here).
    state = models.CharField(
        max_length=16, choices=MeetingState.choices, default=MeetingState.BEFORE
    )
    current_question = models.ForeignKey(
        "Question", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state_changed_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=0)
    controller = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.title

    def clean(self):
        from django.core.exceptions import ValidationError

        from .window import window_error

        error = window_error(self.starts_at, self.ends_at)
        if error:
            raise ValidationError({"ends_at": error})


class QuestionKind(models.TextChoices):
    TEXT = "text", "Text slide"
    POLL = "poll", "Poll"
    QUIZ = "quiz", "Quiz"
    WORDCLOUD = "wordcloud", "Word cloud"
    RATING = "rating", "Rating scale"


class QuestionStatus(models.TextChoices):
    PENDING = "pending", "Not asked yet"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Question(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=QuestionKind.choices, default=QuestionKind.POLL)
    text = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    timer_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Word cloud.
    max_words = models.PositiveIntegerField(default=3)
    min_word_length = models.PositiveIntegerField(default=1)
    max_word_length = models.PositiveIntegerField(default=30)
    blocked_words = models.TextField(blank=True, help_text="One per line or comma-separated")
    # Rating.
    rating_max = models.PositiveIntegerField(default=5)
    # Live.
    status = models.CharField(
        max_length=16, choices=QuestionStatus.choices, default=QuestionStatus.PENDING
    )
    opened_at = models.DateTimeField(null=True, blank=True)
    # When the question FIRST opened: timed scoring counts from it, so reopening a question does
    # not give late answers full points again (opened_at is the current opening, for its timer).
    first_opened_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    first_correct = models.ForeignKey(
        "Participant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["order", "id"]

    def __str__(self):
        return self.text

    @property
    def takes_answers(self) -> bool:
        return self.kind != QuestionKind.TEXT


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    order = models.PositiveIntegerField(default=0)
    text = models.CharField(max_length=300)
    token = models.CharField(
        max_length=32, blank=True, help_text="Short chat token (e.g. A, 1, yes); default A, B, C…"
    )
    is_correct = models.BooleanField(default=False)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self):
        return self.text


class Participant(models.Model):
    WEB = "web"

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="participants")
    nickname = models.CharField(max_length=64)
    platform = models.CharField(max_length=16, default=WEB)
    platform_user_id = models.CharField(max_length=255)
    chat_author = models.ForeignKey(
        "ingest.ChatAuthor", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    score = models.IntegerField(default=0)
    score_reached_at = models.DateTimeField(default=timezone.now)
    streak = models.PositiveIntegerField(default=0)
    flag_failures = models.PositiveIntegerField(default=0)
    flag_window_start = models.DateTimeField(null=True, blank=True)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["meeting", "platform", "platform_user_id"], name="uniq_participant"
            )
        ]
        indexes = [models.Index(fields=["meeting", "-score", "score_reached_at"])]

    def __str__(self):
        return self.nickname


class Vote(models.Model):
    """One answer per participant per question (poll, quiz or rating), by constraint."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="votes")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="votes")
    choice = models.ForeignKey(Choice, null=True, blank=True, on_delete=models.CASCADE)
    value = models.IntegerField(null=True, blank=True)
    correct = models.BooleanField(default=False)
    points = models.IntegerField(default=0)
    via = models.CharField(max_length=16, default="web")
    batch = models.CharField(max_length=32, blank=True)
    chat_message_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["question", "participant"], name="one_vote_per_question")
        ]

    def __str__(self):
        return f"vote {self.participant_id} on {self.question_id}"


class Word(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="words")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="words")
    word = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["question", "participant", "word"], name="one_word_once_per_participant"
            )
        ]

    def __str__(self):
        return self.word


class Flag(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="flags")
    name = models.CharField(max_length=100)
    code = models.CharField(max_length=200, help_text="Without the PREFIX{...} wrapper")
    points = models.PositiveIntegerField(default=10)
    first_blood_bonus = models.PositiveIntegerField(default=5)
    first_blood = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meeting", "code"], name="uniq_flag_code")]

    def __str__(self):
        return self.name


class FlagCapture(models.Model):
    flag = models.ForeignKey(Flag, on_delete=models.CASCADE, related_name="captures")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="captures")
    points = models.IntegerField(default=0)
    first_blood = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["flag", "participant"], name="one_capture_per_flag")
        ]

    def __str__(self):
        return f"{self.participant_id} captured {self.flag_id}"


def new_resume_token() -> str:
    return secrets.token_urlsafe(24)
