"""Demo meeting for `manage.py seed_demo` (random join code; attached to the demo chat)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction

from ingest.models import ChatSource

from . import services
from .models import Choice, Flag, Meeting, Question, QuestionKind


@transaction.atomic
def seed() -> str:
    meeting = Meeting.objects.create(
        title="Chorus demo meeting",
        description="A **demo** of every question type. Vote here or in the demo chat with `#A`, `#2`…",
        join_code=services.unique_join_code(),
    )
    src = ChatSource.objects.filter(platform="demo", identifier="demo").first()
    if src is not None:
        meeting.sources.add(src)
    plan = [
        (QuestionKind.TEXT, "Welcome! Scan the QR code to join.", [], {}),
        (QuestionKind.POLL, "Where are you watching from?", ["Home", "Office", "On the go"], {}),
        (
            QuestionKind.QUIZ,
            "Which protocol do Chorus sockets use?",
            ["WebSocket", "Carrier pigeon", "FTP"],
            {"timer_seconds": 30},
        ),
        (QuestionKind.WORDCLOUD, "One word for today?", [], {"max_words": 3}),
        (QuestionKind.RATING, "How was it?", [], {"rating_max": 5}),
    ]
    for i, (kind, text, choices, extra) in enumerate(plan):
        q = Question.objects.create(meeting=meeting, order=i, kind=kind, text=text, **extra)
        for j, c in enumerate(choices):
            Choice.objects.create(
                question=q, order=j, text=c, is_correct=(kind == QuestionKind.QUIZ and j == 0)
            )
    flag_code = secrets.token_hex(4)
    Flag.objects.create(meeting=meeting, name="Demo flag", code=flag_code, points=10)
    base = getattr(settings, "CHORUS_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
    return (
        f"demo meeting created: join {base}/join/?code={meeting.join_code} "
        f"(code {meeting.join_code}), host dashboard {base}/host/{meeting.pk}/, "
        f"demo flag {meeting.flag_prefix}{{{flag_code}}}"
    )
