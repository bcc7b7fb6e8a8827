"""Writes of the meetings domain. Plain functions (sync, run them via database_sync_to_async).

Answers are recorded in BATCHES (a web-vote batcher and the chat listener both call
``record_answers``/``record_words`` with many entries): a handful of queries per batch, never a
query per vote. Correctness comes from the database: one vote per participant per question by
unique constraint, scores changed with F() expressions, first-correct / first-blood bonuses given by
a conditional UPDATE (``... WHERE first_correct IS NULL``) so exactly one submitter wins.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, F, IntegerField, OuterRef, Subquery, Value, When
from django.utils import timezone
from markdown_it import MarkdownIt

from .models import (
    Choice,
    Flag,
    FlagCapture,
    Meeting,
    MeetingState,
    Participant,
    Question,
    QuestionKind,
    QuestionStatus,
    ScoringMode,
    Vote,
    Word,
    hash_token,
    new_join_code,
    new_resume_token,
    normalize_join_code,
)
from .parsing import (
    Rejected,
    blocked_set,
    match_choice,
    normalize_text,
    normalize_word,
    parse_rating,
    strip_flag_wrapper,
)
from .scoring import answer_points, window_for
from .state import Slot, TransitionError, transition
from .window import (
    ENDED,
    NOT_STARTED,
    ended_message,
    host_ended_message,
    host_not_started_message,
    not_started_message,
    phase,
    window_error,
)

# Wrong flag attempts allowed per participant per window.
FLAG_ATTEMPTS = 5
FLAG_WINDOW = timedelta(seconds=60)
# Answers that arrive this long after a question's timer are still accepted (network latency).
TIMER_GRACE = timedelta(seconds=1)

_md = MarkdownIt("commonmark", {"html": False, "linkify": False})


class ServiceError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class MeetingOver(ServiceError):
    """Refused because the meeting's window has ended but the meeting is not ``after`` yet: the
    caller ends it (``end_if_over``) and publishes the new state (polls.live.end_if_over)."""

    def __init__(self, meeting_id: int, message: str):
        super().__init__("closed", message)
        self.meeting_id = meeting_id


# Outcomes of record_answers / record_words outside the meeting's window.
NOT_STARTED_OUTCOME = NOT_STARTED
ENDED_OUTCOME = ENDED


def window_refusal(m: Meeting, now=None) -> str | None:
    """``not_started`` / ``ended`` when a participant write must be refused, else None.
    ``ended`` only while the meeting is not ``after`` yet (then it must be ended)."""
    p = phase(m.starts_at, m.ends_at, now or timezone.now())
    if p == NOT_STARTED:
        return NOT_STARTED
    if p == ENDED and m.state != MeetingState.AFTER:
        return ENDED
    return None


def check_window(m: Meeting, now=None) -> None:
    """Raise the participant-facing ServiceError for a write outside the window."""
    refusal = window_refusal(m, now)
    if refusal == NOT_STARTED:
        raise ServiceError("not_started", not_started_message(m.starts_at))
    if refusal == ENDED:
        raise MeetingOver(m.pk, ended_message(m.ends_at))


def window_message(meeting_id: int) -> tuple[str, str]:
    """(code, message) for a write refused by the window (batched answers carry no meeting)."""
    m = Meeting.objects.get(pk=meeting_id)
    if m.starts_at is not None and phase(m.starts_at, m.ends_at, timezone.now()) == NOT_STARTED:
        return "not_started", not_started_message(m.starts_at)
    return "closed", ended_message(m.ends_at)


def render_description(text: str) -> str:
    """Markdown to HTML with raw HTML disabled (escaped) and unsafe link schemes refused."""
    return _md.render(text or "")


# --- meetings -------------------------------------------------------------------------------
def unique_join_code() -> str:
    for _ in range(20):
        code = new_join_code()
        if not Meeting.objects.filter(join_code=code).exists():
            return code
    raise ServiceError("internal", "could not generate a free join code")


def find_meeting_by_code(code: str) -> Meeting | None:
    return Meeting.objects.filter(join_code=normalize_join_code(code or "")).first()


@transaction.atomic
def duplicate_meeting(meeting_id: int, user=None) -> Meeting:
    src = Meeting.objects.get(pk=meeting_id)
    copy = Meeting.objects.get(pk=meeting_id)
    copy.pk = None
    copy.id = None
    copy.title = f"{src.title} (copy)"[:200]
    copy.join_code = unique_join_code()
    copy.state = MeetingState.BEFORE
    copy.current_question = None
    copy.version = 0
    copy.controller = None
    copy.created_by = user
    copy.state_changed_at = timezone.now()
    copy.save()
    copy.sources.set(src.sources.all())
    for q in src.questions.prefetch_related("choices"):
        choices = list(q.choices.all())
        q.pk = None
        q.id = None
        q.meeting = copy
        q.status = QuestionStatus.PENDING
        q.opened_at = q.first_opened_at = q.closes_at = q.closed_at = None
        q.first_correct = None
        q.save()
        Choice.objects.bulk_create(
            [
                Choice(
                    question=q, order=c.order, text=c.text, token=c.token, is_correct=c.is_correct
                )
                for c in choices
            ]
        )
    Flag.objects.bulk_create(
        [
            Flag(
                meeting=copy,
                name=f.name,
                code=f.code,
                points=f.points,
                first_blood_bonus=f.first_blood_bonus,
            )
            for f in src.flags.all()
        ]
    )
    return copy


@transaction.atomic
def reorder_plan(meeting_id: int, order: list[int]) -> None:
    ids = list(Question.objects.filter(meeting_id=meeting_id).values_list("id", flat=True))
    if sorted(ids) != sorted(order) or len(set(order)) != len(order):
        raise ServiceError("invalid", "the new order must list every question of the meeting once")
    Question.objects.bulk_update(
        [Question(pk=qid, order=i) for i, qid in enumerate(order)], ["order"]
    )
    Meeting.objects.filter(pk=meeting_id).update(version=F("version") + 1)


@transaction.atomic
def add_question(meeting_id: int, *, kind: str, text: str, choices=(), **fields) -> Question:
    """Append a question (and its choices: (text, correct) pairs) to the end of the plan."""
    from django.db.models import Max

    Meeting.objects.select_for_update().get(pk=meeting_id)
    last = Question.objects.filter(meeting_id=meeting_id).aggregate(m=Max("order"))["m"]
    q = Question.objects.create(
        meeting_id=meeting_id,
        order=0 if last is None else last + 1,
        kind=kind,
        text=text,
        **{k: v for k, v in fields.items() if v is not None},
    )
    Choice.objects.bulk_create(
        [Choice(question=q, order=i, text=t, is_correct=c) for i, (t, c) in enumerate(choices)]
    )
    Meeting.objects.filter(pk=meeting_id).update(version=F("version") + 1)
    return q


# --- editing the plan (host dashboard: question.update / question.delete) -------------------
# Limits of a question's fields: the dashboard's add form (polls.views.QuestionForm, kept equal by
# a test) and the host socket's question.update frame (consumers/meeting_protocol.py).
QUESTION_TEXT_MAX = 500  # Question.text
DESCRIPTION_MAX = 5000
CHOICE_TEXT_MAX = 300  # Choice.text
CHOICES_MIN, CHOICES_MAX = 2, 50
TIMER_MIN, TIMER_MAX = 1, 3600
RATING_MAX_MIN, RATING_MAX_MAX = 2, 100
MAX_WORDS_MIN, MAX_WORDS_MAX = 1, 20
WORD_LENGTH_MIN, WORD_LENGTH_MAX = 1, 100  # record_words caps max_word_length at 100 anyway
BLOCKED_WORDS_MAX = 2000

# Always editable; and per kind, the answer settings (frozen once the question has answers).
ALWAYS_EDITABLE = ("text", "description", "timer_seconds")
ANSWER_SETTINGS = {
    QuestionKind.TEXT: (),
    QuestionKind.POLL: ("choices",),
    QuestionKind.QUIZ: ("choices",),
    QuestionKind.WORDCLOUD: ("max_words", "min_word_length", "max_word_length", "blocked_words"),
    QuestionKind.RATING: ("rating_max",),
}
_EDITABLE = {"kind", *ALWAYS_EDITABLE, *{f for fs in ANSWER_SETTINGS.values() for f in fs}}
ANSWERED_MESSAGE = (
    "this question already has answers: only its text, description and timer can change"
)


def _invalid(message: str) -> ServiceError:
    return ServiceError("invalid", message)


def _clean_text(label: str, value, max_length: int, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _invalid(f"{label} must be a string")
    value = value.strip()
    if required and not value:
        raise _invalid(f"{label} cannot be empty")
    if len(value) > max_length:
        raise _invalid(f"{label} is limited to {max_length} characters")
    return value


def _clean_int(label: str, value, low: int, high: int, *, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        none = " (or empty for none)" if nullable else ""
        raise _invalid(f"{label} must be a whole number from {low} to {high}{none}")
    return value


def _clean_choices(kind: str, raw, existing_ids: set[int]) -> list[tuple[int | None, str, bool]]:
    """[{id?, text, correct?}] -> [(id or None, text, correct)], in the new order."""
    if not isinstance(raw, list | tuple):
        raise _invalid("choices must be a list of {id?, text, correct?}")
    if len(raw) < CHOICES_MIN:
        raise _invalid("a poll or a quiz needs at least two choices")
    if len(raw) > CHOICES_MAX:
        raise _invalid(f"a question has at most {CHOICES_MAX} choices")
    out: list[tuple[int | None, str, bool]] = []
    seen: set[int] = set()
    for n, c in enumerate(raw, 1):
        if not isinstance(c, dict) or set(c) - {"id", "text", "correct"}:
            raise _invalid(f"choice {n} must be {{id?, text, correct?}}")
        cid = c.get("id")
        if cid is not None:
            if cid not in existing_ids:
                raise _invalid(f"choice {n} is not a choice of this question")
            if cid in seen:
                raise _invalid(f"choice {n} is listed twice")
            seen.add(cid)
        text = _clean_text(f"choice {n}", c.get("text"), CHOICE_TEXT_MAX, required=True)
        correct = c.get("correct", False)
        if not isinstance(correct, bool):
            raise _invalid(f"choice {n}: correct must be true or false")
        out.append((cid, text, correct))
    if kind == QuestionKind.QUIZ and not any(correct for _, _, correct in out):
        raise _invalid("a quiz needs at least one correct choice")
    return out


def has_answers(question_id: int) -> bool:
    """Votes (poll, quiz, rating) or words (word cloud) were recorded for the question."""
    return (
        Vote.objects.filter(question_id=question_id).exists()
        or Word.objects.filter(question_id=question_id).exists()
    )


@transaction.atomic
def update_question(meeting_id: int, question_id: int, **changes) -> Question:
    """Edit a question of the plan. ``changes``: any of text, description, timer_seconds (None =
    no timer), and the kind's answer settings: choices ([{id?, text, correct?}] for polls and
    quizzes: listed ids are kept, choices left out are deleted, entries without id are added, the
    list order is the new order), max_words / min_word_length / max_word_length / blocked_words
    (word clouds), rating_max (ratings). ``kind`` may be given but never changes.

    Once the question has answers (or words) its answer settings are frozen (``conflict``): only
    the text, description and timer can change; sending the current settings unchanged is fine
    (and while an answer is being written, see _lock_against_answers, it is ``conflict`` too). A
    new timer applies the next time the question opens (an open question keeps its closing time).
    Raises ServiceError (``not_found``, ``invalid``, ``conflict``). Bumps the meeting's version;
    the caller publishes the new state."""
    unknown = sorted(set(changes) - _EDITABLE)
    if unknown:
        raise _invalid(f"a question has no field {', '.join(unknown)}")
    # FOR NO KEY UPDATE: serializes plan edits with each other and with state commands (FOR
    # UPDATE), but not with the foreign-key checks (FOR KEY SHARE) of vote batches that write
    # participants of this meeting meanwhile: a plain FOR UPDATE deadlocked with them.
    m = Meeting.objects.select_for_update(no_key=True).filter(pk=meeting_id).first()
    q = Question.objects.filter(pk=question_id, meeting_id=meeting_id).first()
    if m is None or q is None:
        raise ServiceError("not_found", "no such question in this meeting")
    kind = changes.pop("kind", None)
    if kind is not None and kind != q.kind:
        raise _invalid("the kind of a question cannot change; delete it and add a new one")
    allowed = ANSWER_SETTINGS[q.kind]
    foreign = [f for f in changes if f not in ALWAYS_EDITABLE and f not in allowed]
    if foreign:
        raise _invalid(f"a {q.get_kind_display().lower()} has no {', '.join(foreign)}")

    fields: dict = {}
    if "text" in changes:
        fields["text"] = _clean_text("the text", changes["text"], QUESTION_TEXT_MAX, required=True)
    if "description" in changes:
        fields["description"] = _clean_text(
            "the description", changes["description"], DESCRIPTION_MAX, required=False
        )
    if "timer_seconds" in changes:
        fields["timer_seconds"] = _clean_int(
            "the timer", changes["timer_seconds"], TIMER_MIN, TIMER_MAX, nullable=True
        )
    answer_settings: dict = {}
    if "rating_max" in changes:
        answer_settings["rating_max"] = _clean_int(
            "the rating scale", changes["rating_max"], RATING_MAX_MIN, RATING_MAX_MAX
        )
    if "max_words" in changes:
        answer_settings["max_words"] = _clean_int(
            "the words per participant", changes["max_words"], MAX_WORDS_MIN, MAX_WORDS_MAX
        )
    for name, label in (("min_word_length", "the shortest"), ("max_word_length", "the longest")):
        if name in changes:
            answer_settings[name] = _clean_int(
                f"{label} word length", changes[name], WORD_LENGTH_MIN, WORD_LENGTH_MAX
            )
    shortest = answer_settings.get("min_word_length", q.min_word_length)
    longest = answer_settings.get("max_word_length", q.max_word_length)
    if (
        "min_word_length" in answer_settings or "max_word_length" in answer_settings
    ) and shortest > longest:
        raise _invalid("the shortest word length cannot be more than the longest")
    if "blocked_words" in changes:
        answer_settings["blocked_words"] = _clean_text(
            "the blocked words", changes["blocked_words"], BLOCKED_WORDS_MAX, required=False
        )
    existing = list(q.choices.all()) if "choices" in changes else []
    new_choices = None
    if "choices" in changes:
        new_choices = _clean_choices(q.kind, changes["choices"], {c.pk for c in existing})
        if new_choices == [(c.pk, c.text, c.is_correct) for c in existing]:
            new_choices = None  # the same choices: no change

    answer_settings = {k: v for k, v in answer_settings.items() if getattr(q, k) != v}
    if answer_settings or new_choices is not None:
        _lock_against_answers(q)
        if has_answers(q.pk):
            raise ServiceError("conflict", ANSWERED_MESSAGE)
    fields.update(answer_settings)
    if fields:
        for name, value in fields.items():
            setattr(q, name, value)
        q.save(update_fields=list(fields))
    if new_choices is not None:
        _replace_choices(q, existing, new_choices)
    Meeting.objects.filter(pk=meeting_id).update(version=F("version") + 1)
    return q


def _lock_against_answers(q: Question) -> None:
    """Before the answer settings change: no answer may be written meanwhile. FOR UPDATE on the
    question and its choices blocks the foreign-key checks (FOR KEY SHARE) of new votes until we
    commit; NOWAIT, because a vote being written right now holds such a lock and waiting for it
    deadlocked (it locks the choice and the question in its own order): the host retries."""
    from django.db import DatabaseError

    try:
        with transaction.atomic():
            list(Choice.objects.select_for_update(nowait=True).filter(question=q).values("pk"))
            list(Question.objects.select_for_update(nowait=True).filter(pk=q.pk).values("pk"))
    except DatabaseError as exc:
        raise ServiceError("conflict", "answers are arriving right now; try again") from exc


def _replace_choices(q: Question, existing: list[Choice], new: list[tuple]) -> None:
    keep = {cid for cid, _, _ in new if cid is not None}
    Choice.objects.filter(question=q).exclude(pk__in=keep).delete()
    kept = [
        Choice(pk=cid, question=q, order=i, text=text, is_correct=correct)
        for i, (cid, text, correct) in enumerate(new)
        if cid is not None
    ]
    if kept:  # tokens of kept choices stay
        Choice.objects.bulk_update(kept, ["order", "text", "is_correct"])
    Choice.objects.bulk_create(
        [
            Choice(question=q, order=i, text=text, is_correct=correct)
            for i, (cid, text, correct) in enumerate(new)
            if cid is None
        ]
    )


@transaction.atomic
def delete_question(meeting_id: int, question_id: int) -> dict:
    """Delete a question of the plan with its choices, answers and words. Refused (``conflict``)
    for the question on screen (meeting.current_question). The points its answers earned are
    taken off the participants' scores in the same transaction (see _unscore). Bumps the meeting's
    version; the caller publishes the new state. Returns {question_id, points_removed,
    participants} (participants whose score changed)."""
    m = Meeting.objects.select_for_update(no_key=True).filter(pk=meeting_id).first()  # see above
    q = Question.objects.select_for_update().filter(pk=question_id, meeting_id=meeting_id).first()
    if m is None or q is None:
        raise ServiceError("not_found", "no such question in this meeting")
    if m.current_question_id == q.pk:
        raise ServiceError(
            "conflict", "this question is on screen now; go to another question first"
        )
    earned = list(
        Vote.objects.filter(question=q)
        .exclude(points=0)
        .values_list("participant_id", "points", "created_at")
    )
    _unscore(q, earned)
    q.delete()  # cascades to its choices, votes and words
    Meeting.objects.filter(pk=meeting_id).update(version=F("version") + 1)
    return {
        "question_id": question_id,
        "points_removed": sum(points for _, points, _ in earned),
        "participants": len(earned),
    }


def _unscore(q: Question, earned: list[tuple[int, int, datetime]]) -> None:
    """Take the points of a deleted question's answers off the scores (F() expressions).

    The scoreboard's tie-break is "who reached the score first" (score_reached_at). Whoever
    scored again after the deleted answer reached the remaining score at that later moment, which
    score_reached_at already holds; for whoever's last points came from the deleted answer it
    becomes the time of their latest remaining points (a quiz answer or a flag capture), or when
    they joined if none are left. Streaks (timed mode) are not recomputed."""
    from django.db.models import Max

    if not earned:
        return
    pids = sorted({pid for pid, _, _ in earned})
    # Lock the rows (in id order) first: the open question may be scoring some of them meanwhile.
    # NO KEY: their vote inserts (foreign-key checks) need not wait, only their score updates.
    joined = dict(
        Participant.objects.select_for_update(no_key=True)
        .filter(pk__in=pids)
        .order_by("pk")
        .values_list("pk", "joined_at")
    )
    by_points: dict[int, list[int]] = {}
    for pid, points, _ in earned:
        by_points.setdefault(points, []).append(pid)
    Participant.objects.filter(pk__in=pids).update(
        score=F("score")
        - Case(
            *[When(pk__in=ps, then=Value(pts)) for pts, ps in by_points.items()],
            default=Value(0),
            output_field=IntegerField(),
        )
    )
    last_vote = dict(
        Vote.objects.filter(participant_id__in=pids)
        .exclude(question=q)
        .exclude(points=0)
        .values("participant_id")
        .annotate(t=Max("created_at"))
        .values_list("participant_id", "t")
    )
    last_capture = dict(
        FlagCapture.objects.filter(participant_id__in=pids)
        .exclude(points=0)
        .values("participant_id")
        .annotate(t=Max("created_at"))
        .values_list("participant_id", "t")
    )
    fixed = []
    for pid, _, deleted_at in earned:
        last = max((t for t in (last_vote.get(pid), last_capture.get(pid)) if t), default=None)
        if last is not None and last > deleted_at:
            continue
        fixed.append(Participant(pk=pid, score_reached_at=last or joined[pid]))
    if fixed:
        Participant.objects.bulk_update(fixed, ["score_reached_at"])


def take_control(meeting_id: int, user_id: int) -> None:
    Meeting.objects.filter(pk=meeting_id).update(controller_id=user_id, version=F("version") + 1)


def claim_control_if_free(meeting_id: int, user_id: int) -> bool:
    """The first host to open a dashboard controls the meeting; later ones get a read-only view."""
    Meeting.objects.filter(pk=meeting_id, controller__isnull=True).update(controller_id=user_id)
    return Meeting.objects.filter(pk=meeting_id, controller_id=user_id).exists()


@transaction.atomic
def set_window(meeting_id: int, starts_at, ends_at) -> Meeting:
    """Change the meeting's window (None = open on that side). Publish the state afterwards
    (polls.live.publish_state re-arms the end timer)."""
    error = window_error(starts_at, ends_at)
    if error:
        raise ServiceError("invalid", error)
    m = Meeting.objects.select_for_update().get(pk=meeting_id)
    m.starts_at, m.ends_at = starts_at, ends_at
    m.version += 1
    m.save(update_fields=["starts_at", "ends_at", "version"])
    return m


def apply_command(meeting_id: int, command: str, target_question_id: int | None = None) -> Meeting:
    """Run one state-machine command and persist the new state. Raises ServiceError.

    The window: before ``starts_at`` every command but ``end`` is refused (``not_started``);
    from ``ends_at`` on, every command but ``end`` raises MeetingOver (the caller ends the
    meeting, see end_if_over)."""
    with transaction.atomic():
        m = Meeting.objects.select_for_update().get(pk=meeting_id)
        if command != "end":
            p = phase(m.starts_at, m.ends_at, timezone.now())
            if p == NOT_STARTED:
                raise ServiceError("not_started", host_not_started_message(m.starts_at))
            if p == ENDED:
                raise MeetingOver(m.pk, host_ended_message(m.ends_at))
        return _apply(m, command, target_question_id)


def end_if_over(meeting_id: int, now=None) -> Meeting | None:
    """End the meeting if its window is over and it is not ``after`` yet (idempotent: timers of
    several processes and lazy checks may all call it). Returns the meeting if it ended it."""
    now = now or timezone.now()
    if (
        not Meeting.objects.filter(pk=meeting_id, ends_at__lte=now)
        .exclude(state=MeetingState.AFTER)
        .exists()
    ):
        return None
    with transaction.atomic():
        m = Meeting.objects.select_for_update().get(pk=meeting_id)
        if m.state == MeetingState.AFTER or phase(m.starts_at, m.ends_at, now) != ENDED:
            return None
        return _apply(m, "end", None)


def _apply(m: Meeting, command: str, target_question_id: int | None) -> Meeting:
    questions = list(m.questions.all())
    ids = [q.pk for q in questions]
    index = ids.index(m.current_question_id) if m.current_question_id in ids else None
    target = None
    if target_question_id is not None:
        if target_question_id not in ids:
            raise ServiceError("not_found", "no such question in this meeting")
        target = ids.index(target_question_id)
    try:
        t = transition(m.state, index, [Slot(q.kind, q.status) for q in questions], command, target)
    except TransitionError as exc:
        raise ServiceError(exc.code, exc.message) from exc
    now = timezone.now()
    for i, status in t.changes.items():
        q = questions[i]
        q.status = status
        if status == QuestionStatus.OPEN:
            q.opened_at = now
            q.first_opened_at = q.first_opened_at or now
            q.closes_at = now + timedelta(seconds=q.timer_seconds) if q.timer_seconds else None
            q.closed_at = None
        else:
            q.closed_at = now
            _on_close(m, q)
        q.save(update_fields=["status", "opened_at", "first_opened_at", "closes_at", "closed_at"])
    m.state = t.state
    m.current_question = questions[t.index] if t.index is not None else None
    m.version += 1
    m.state_changed_at = now
    m.save(update_fields=["state", "current_question", "version", "state_changed_at"])
    return m


def _on_close(m: Meeting, q: Question) -> None:
    # Timed mode: a streak is broken by not answering a quiz correctly.
    if q.kind == QuestionKind.QUIZ and m.scoring_mode == ScoringMode.TIMED and m.streak_bonus:
        correct = Vote.objects.filter(question=q, correct=True).values("participant_id")
        Participant.objects.filter(meeting=m, streak__gt=0).exclude(pk__in=correct).update(streak=0)


def close_if_expired(meeting_id: int, question_id: int, opened_at) -> Meeting | None:
    """Auto-close a timed question (idempotent: only if it is still the same opening)."""
    with transaction.atomic():
        m = Meeting.objects.select_for_update().get(pk=meeting_id)
        q = Question.objects.filter(pk=question_id).first()
        if (
            q is None
            or m.current_question_id != q.pk
            or q.status != QuestionStatus.OPEN
            or q.opened_at != opened_at
            or m.state != MeetingState.ONGOING
        ):
            return None
        # Not apply_command: the window rules are for people; a timer just closes its question.
        return _apply(m, "close", None)


# --- participants ---------------------------------------------------------------------------
def join(meeting: Meeting | int, nickname: str) -> tuple[Participant, str]:
    nickname = " ".join((nickname or "").split())[:64]
    if not nickname:
        raise ServiceError("invalid", "choose a nickname")
    meeting_id = meeting if isinstance(meeting, int) else meeting.pk
    m = Meeting.objects.only("state", "starts_at", "ends_at").get(pk=meeting_id)
    check_window(m)
    if m.state == MeetingState.AFTER:
        raise ServiceError("closed", "this meeting has ended")
    token = new_resume_token()
    p = Participant.objects.create(
        meeting_id=meeting_id,
        nickname=nickname,
        platform=Participant.WEB,
        platform_user_id=secrets.token_hex(12),
        token_hash=hash_token(token),
    )
    return p, token


def resume(meeting: Meeting, token: str) -> Participant | None:
    if not token:
        return None
    return Participant.objects.filter(
        meeting=meeting, platform=Participant.WEB, token_hash=hash_token(token)
    ).first()


def participants_for_authors(meeting_id: int, authors: dict[int, object]) -> dict[int, int]:
    """ChatAuthor id -> Participant id for one meeting, creating the missing ones in bulk.

    Identity is (platform, platform user id), never the display name."""
    if not authors:
        return {}
    found = dict(
        Participant.objects.filter(meeting_id=meeting_id, chat_author_id__in=authors).values_list(
            "chat_author_id", "id"
        )
    )
    missing = [a for aid, a in authors.items() if aid not in found]
    if missing:
        now = timezone.now()
        Participant.objects.bulk_create(
            [
                Participant(
                    meeting_id=meeting_id,
                    nickname=(a.display_name or a.login or a.platform_user_id)[:64],
                    platform=a.platform,
                    platform_user_id=a.platform_user_id,
                    chat_author_id=a.pk,
                    joined_at=now,
                    score_reached_at=now,
                )
                for a in missing
            ],
            ignore_conflicts=True,
        )
        found.update(
            Participant.objects.filter(
                meeting_id=meeting_id, chat_author_id__in=[a.pk for a in missing]
            ).values_list("chat_author_id", "id")
        )
    return found


# --- answers --------------------------------------------------------------------------------
@dataclass
class Answer:
    participant_id: int
    choice_id: int | None = None
    value: int | None = None
    raw: str | None = None  # chat token, interpreted for the question's kind
    at: datetime = field(default_factory=timezone.now)
    via: str = "web"
    chat_message_id: int | None = None


OK = "ok"
CHANGED = "changed"
DUPLICATE = "duplicate"


@dataclass
class BatchResult:
    meeting_id: int | None
    outcomes: list[str]
    first_correct: int | None = None  # participant id that won the bonus in this batch


def _question_open(q: Question, now) -> bool:
    if q.status != QuestionStatus.OPEN:
        return False
    return not (q.closes_at and now > q.closes_at + TIMER_GRACE)


def record_answers(question_id: int, answers: list[Answer], meeting_id=None) -> BatchResult:
    """Record many poll/quiz/rating answers in a few queries. Outcome per answer, in order:
    ok, changed, duplicate, closed, invalid, not_found; not_started / ended outside the meeting's
    window (then nothing is written)."""
    try:
        with transaction.atomic():
            return _record_answers(question_id, answers, meeting_id)
    except IntegrityError:
        # A choice read as valid was deleted meanwhile (the host edited the question before its
        # first answer: update_question): once more, with the choices as they are now.
        with transaction.atomic():
            return _record_answers(question_id, answers, meeting_id)


def _record_answers(question_id, answers, meeting_id) -> BatchResult:
    q = Question.objects.select_related("meeting").filter(pk=question_id).first()
    if q is None or (meeting_id is not None and q.meeting_id != meeting_id):
        return BatchResult(meeting_id, ["not_found"] * len(answers))
    m = q.meeting
    now = timezone.now()
    refusal = window_refusal(m, now)
    if refusal:
        return BatchResult(m.pk, [refusal] * len(answers))
    if q.kind not in (QuestionKind.POLL, QuestionKind.QUIZ, QuestionKind.RATING):
        return BatchResult(m.pk, ["invalid"] * len(answers))
    if not _question_open(q, now):
        return BatchResult(m.pk, ["closed"] * len(answers))
    outcomes: list[str | None] = [None] * len(answers)
    choices = list(q.choices.values_list("id", "token", "text", "is_correct"))
    correct_ids = {c[0] for c in choices if c[3]}
    valid_ids = {c[0] for c in choices}
    spec = [(c[0], c[1], c[2]) for c in choices]
    may_change = m.allow_vote_change and q.kind in (QuestionKind.POLL, QuestionKind.RATING)

    # 1. Interpret and validate each answer; keep one per participant.
    chosen: dict[int, int] = {}  # participant -> index into answers
    for i, a in enumerate(answers):
        if q.kind == QuestionKind.RATING:
            try:
                a.value = parse_rating(a.raw if a.raw is not None else a.value, q.rating_max)
            except Rejected:
                outcomes[i] = "invalid"
                continue
        else:
            if a.raw is not None:
                a.choice_id = match_choice(a.raw, spec)
            if a.choice_id not in valid_ids:
                outcomes[i] = "invalid"
                continue
        prev = chosen.get(a.participant_id)
        if prev is not None:
            if may_change:
                outcomes[prev] = CHANGED
            else:
                outcomes[i] = DUPLICATE
                continue
        chosen[a.participant_id] = i
    if not chosen:
        return BatchResult(m.pk, [o or "invalid" for o in outcomes])

    existing = {
        pid: (vid, cid, val)
        for pid, vid, cid, val in Vote.objects.filter(
            question=q, participant_id__in=list(chosen)
        ).values_list("participant_id", "id", "choice_id", "value")
    }
    # 2. Changes of existing votes (polls/ratings, when the host allows it).
    changed = []
    for pid, i in list(chosen.items()):
        if pid in existing:
            del chosen[pid]
            vid, cid, val = existing[pid]
            a = answers[i]
            if not may_change:
                outcomes[i] = DUPLICATE
            elif (a.choice_id, a.value) == (cid, val):
                outcomes[i] = OK
            else:
                changed.append(Vote(pk=vid, choice_id=a.choice_id, value=a.value, updated_at=now))
                outcomes[i] = CHANGED
    if changed:
        Vote.objects.bulk_update(changed, ["choice", "value", "updated_at"])

    # 3. New votes, scored at answer time (quiz).
    first_winner = None
    if chosen:
        batch = secrets.token_hex(8)
        timed = m.scoring_mode == ScoringMode.TIMED
        streaks = {}
        if q.kind == QuestionKind.QUIZ and timed and m.streak_bonus:
            streaks = dict(
                Participant.objects.filter(pk__in=list(chosen)).values_list("id", "streak")
            )
        window = window_for(q.timer_seconds, m.timed_window_seconds)
        started = q.first_opened_at or q.opened_at  # reopening does not restart the points clock
        votes = []
        for pid, i in chosen.items():
            a = answers[i]
            correct = q.kind == QuestionKind.QUIZ and a.choice_id in correct_ids
            at = min(a.at, now)
            points = (
                answer_points(
                    mode=m.scoring_mode,
                    correct=correct,
                    points_correct=m.points_correct,
                    max_points=m.timed_max_points,
                    elapsed=(at - started).total_seconds() if started else 0.0,
                    window=window,
                    streak_before=streaks.get(pid, 0),
                    streak_bonus=m.streak_bonus,
                )
                if q.kind == QuestionKind.QUIZ
                else 0
            )
            votes.append(
                _NewVote(pid, a.choice_id, a.value, correct, points, a.via, a.chat_message_id, at)
            )
        inserted = _insert_votes(q.pk, votes, batch)
        by_pid = {v.participant_id: v for v in votes}
        for pid, i in chosen.items():
            outcomes[i] = OK if pid in inserted else DUPLICATE
        if q.kind == QuestionKind.QUIZ and inserted:
            first_winner = _score_quiz(m, q, [by_pid[p] for p in inserted])
    return BatchResult(m.pk, [o or "invalid" for o in outcomes], first_winner)


class _NewVote(NamedTuple):
    participant_id: int
    choice_id: int | None
    value: int | None
    correct: bool
    points: int
    via: str
    chat_message_id: int | None
    created_at: datetime


_VOTE_COLUMNS = (
    "question_id",
    "participant_id",
    "choice_id",
    "value",
    "correct",
    "points",
    "via",
    "batch",
    "chat_message_id",
    "created_at",
)
_VOTE_CHUNK = 500


def _insert_votes(question_id: int, votes: list[_NewVote], batch: str) -> set[int]:
    """Insert new votes; return the participants whose vote was inserted.

    ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (SQLite >= 3.35 and PostgreSQL): the unique
    constraint decides who already voted (also against concurrent writers), and no model instance
    is built per vote (that was most of the cost of a 2,000-vote batch)."""
    ops = connection.ops
    row = "(" + ", ".join(["%s"] * len(_VOTE_COLUMNS)) + ")"
    inserted: set[int] = set()
    for start in range(0, len(votes), _VOTE_CHUNK):
        chunk = votes[start : start + _VOTE_CHUNK]
        params: list = []
        for v in chunk:
            params += [
                question_id,
                v.participant_id,
                v.choice_id,
                v.value,
                v.correct,
                v.points,
                v.via,
                batch,
                v.chat_message_id,
                ops.adapt_datetimefield_value(v.created_at),
            ]
        sql = (
            f"INSERT INTO polls_vote ({', '.join(_VOTE_COLUMNS)}) VALUES "  # noqa: S608 (constants)
            + ", ".join([row] * len(chunk))
            + " ON CONFLICT (question_id, participant_id) DO NOTHING RETURNING participant_id"
        )
        with connection.cursor() as cur:
            cur.execute(sql, params)
            inserted.update(r[0] for r in cur.fetchall())
    return inserted


def _score_quiz(m: Meeting, q: Question, votes: list[_NewVote]) -> int | None:
    correct = sorted(
        (v for v in votes if v.correct), key=lambda v: (v.created_at, v.participant_id)
    )
    points = {v.participant_id: v.points for v in votes}
    winner = None
    if correct and m.first_correct_bonus:
        first = correct[0].participant_id
        # Exactly once, whatever the concurrency: only one UPDATE finds first_correct NULL.
        if Question.objects.filter(pk=q.pk, first_correct__isnull=True).update(
            first_correct_id=first
        ):
            winner = first
            points[first] += m.first_correct_bonus
            Vote.objects.filter(question=q, participant_id=first).update(
                points=F("points") + m.first_correct_bonus
            )
    elif correct:
        Question.objects.filter(pk=q.pk, first_correct__isnull=True).update(
            first_correct_id=correct[0].participant_id
        )
    by_points: dict[int, list[int]] = {}
    for pid, pts in points.items():
        if pts:
            by_points.setdefault(pts, []).append(pid)
    correct_ids = [v.participant_id for v in correct]
    wrong_ids = [v.participant_id for v in votes if not v.correct]
    if by_points:
        Participant.objects.filter(pk__in=[p for ps in by_points.values() for p in ps]).update(
            score=F("score")
            + Case(
                *[When(pk__in=ps, then=Value(pts)) for pts, ps in by_points.items()],
                default=Value(0),
                output_field=IntegerField(),
            ),
            # The tie-break is who reached the score first: the moment each one ANSWERED (their
            # vote's time; one indexed lookup per row), not when the batch was written, which is
            # the same for everyone in it.
            score_reached_at=Subquery(
                Vote.objects.filter(question_id=q.pk, participant_id=OuterRef("pk")).values(
                    "created_at"
                )[:1]
            ),
        )
    if correct_ids:
        Participant.objects.filter(pk__in=correct_ids).update(streak=F("streak") + 1)
    if wrong_ids:
        Participant.objects.filter(pk__in=wrong_ids).update(streak=0)
    return winner


def record_words(question_id: int, entries: list[tuple[int, str]], meeting_id=None) -> BatchResult:
    """Word-cloud entries (participant id, raw text) in a few queries. Outcome per entry:
    ok, duplicate, limit, too_short, too_long, blocked, invalid, closed, not_found, and
    not_started / ended outside the meeting's window."""
    with transaction.atomic():
        q = Question.objects.select_related("meeting").filter(pk=question_id).first()
        if q is None or (meeting_id is not None and q.meeting_id != meeting_id):
            return BatchResult(meeting_id, ["not_found"] * len(entries))
        now = timezone.now()
        refusal = window_refusal(q.meeting, now)
        if refusal:
            return BatchResult(q.meeting_id, [refusal] * len(entries))
        if q.kind != QuestionKind.WORDCLOUD:
            return BatchResult(q.meeting_id, ["invalid"] * len(entries))
        if not _question_open(q, now):
            return BatchResult(q.meeting_id, ["closed"] * len(entries))
        blocked = blocked_set(q.blocked_words)
        outcomes: list[str] = ["invalid"] * len(entries)
        pids = {pid for pid, _ in entries}
        counts = dict(
            Word.objects.filter(question=q, participant_id__in=pids)
            .values("participant_id")
            .annotate(n=Count("id"))
            .values_list("participant_id", "n")
        )
        have = set(
            Word.objects.filter(question=q, participant_id__in=pids).values_list(
                "participant_id", "word"
            )
        )
        new = []
        for i, (pid, raw) in enumerate(entries):
            try:
                word = normalize_word(
                    raw,
                    min_length=q.min_word_length,
                    max_length=min(q.max_word_length, 100),
                    blocked=blocked,
                )
            except Rejected as exc:
                outcomes[i] = exc.code
                continue
            if (pid, word) in have:
                outcomes[i] = DUPLICATE
                continue
            if counts.get(pid, 0) >= q.max_words:
                outcomes[i] = "limit"
                continue
            counts[pid] = counts.get(pid, 0) + 1
            have.add((pid, word))
            new.append(Word(question=q, participant_id=pid, word=word, created_at=now))
            outcomes[i] = OK
        if new:
            Word.objects.bulk_create(new, ignore_conflicts=True)
        return BatchResult(q.meeting_id, outcomes)


# --- flags ----------------------------------------------------------------------------------
def submit_flag(meeting_id: int, participant_id: int, raw: str) -> dict:
    """Check a flag code. Returns {"flag", "points", "first_blood"}; raises ServiceError with
    code wrong / already / rate_limited / closed / not_started (MeetingOver after the window)."""
    with transaction.atomic():
        p = (
            Participant.objects.select_for_update()
            .select_related("meeting")
            .get(pk=participant_id, meeting_id=meeting_id)
        )
        m = p.meeting
        now = timezone.now()
        check_window(m, now)
        if m.state in (MeetingState.BEFORE, MeetingState.AFTER):
            raise ServiceError("closed", "flags are accepted while the meeting runs")
        window_open = p.flag_window_start is not None and now - p.flag_window_start < FLAG_WINDOW
        if window_open and p.flag_failures >= FLAG_ATTEMPTS:
            wait = int((p.flag_window_start + FLAG_WINDOW - now).total_seconds()) + 1
            raise ServiceError("rate_limited", f"too many wrong flags; try again in {wait} s")
        code = strip_flag_wrapper(raw, m.flag_prefix)
        flag = None
        for f in Flag.objects.filter(meeting=m):
            if code and hmac.compare_digest(f.code.encode(), code.encode()):
                flag = f
        if flag is None:
            if window_open:
                Participant.objects.filter(pk=p.pk).update(flag_failures=F("flag_failures") + 1)
            else:
                Participant.objects.filter(pk=p.pk).update(flag_failures=1, flag_window_start=now)
            # Returned, not raised, so the failure count is committed.
            return {"error": ("wrong", "this is not a valid flag")}
        try:
            with transaction.atomic():
                capture = FlagCapture.objects.create(flag=flag, participant=p, created_at=now)
        except IntegrityError:
            return {"error": ("already", f"you already captured “{flag.name}”")}
        points = flag.points
        first = False
        if flag.first_blood_bonus and Flag.objects.filter(
            pk=flag.pk, first_blood__isnull=True
        ).update(first_blood=p):
            first = True
            points += flag.first_blood_bonus
        FlagCapture.objects.filter(pk=capture.pk).update(points=points, first_blood=first)
        if points:
            Participant.objects.filter(pk=p.pk).update(
                score=F("score") + points, score_reached_at=now
            )
        return {
            "flag": flag.name,
            "flag_id": flag.pk,
            "points": points,
            "first_blood": first,
            "participant": {"id": p.pk, "nickname": p.nickname, "platform": p.platform},
        }


def check_flag(meeting_id: int, participant_id: int, raw: str) -> dict:
    """submit_flag, raising ServiceError for the user-facing errors (after the failure count is
    committed)."""
    result = submit_flag(meeting_id, participant_id, raw)
    if "error" in result:
        raise ServiceError(*result["error"])
    return result


# --- reads for participants -----------------------------------------------------------------
def me(participant_id: int) -> dict:
    from .serializers import rank_of

    p = Participant.objects.select_related("meeting__current_question").get(pk=participant_id)
    m = p.meeting
    q = m.current_question
    d = {"id": p.pk, "nickname": p.nickname, "platform": p.platform}
    score = p.score
    # While a quiz is open, the score does not reveal whether the answer just given was right.
    if q is not None and q.status == QuestionStatus.OPEN and q.kind == QuestionKind.QUIZ:
        hidden = Vote.objects.filter(question=q, participant=p).values_list("points", flat=True)
        score -= sum(hidden)
    d["score"] = score
    d["rank"] = rank_of(p) if q is None or q.status != QuestionStatus.OPEN else None
    if q is not None and q.takes_answers:
        vote = Vote.objects.filter(question=q, participant=p).first()
        d["answer"] = (
            {"choice_id": vote.choice_id, "value": vote.value} if vote is not None else None
        )
        if q.kind == QuestionKind.WORDCLOUD:
            d["words"] = list(
                Word.objects.filter(question=q, participant=p).values_list("word", flat=True)
            )
        if q.status == QuestionStatus.CLOSED and vote is not None and q.kind == QuestionKind.QUIZ:
            d["answer"]["correct"] = vote.correct
            d["answer"]["points"] = vote.points
    d["flags"] = list(
        FlagCapture.objects.filter(participant=p).values_list("flag__name", flat=True)
    )
    return d


def normalize_nickname(raw: str) -> str:
    return normalize_text(raw)
