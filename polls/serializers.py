"""One JSON shape per meetings object (websocket frames, pages, exports)."""

from __future__ import annotations

from django.db.models import Avg, Count

from .models import (
    Choice,
    Meeting,
    MeetingState,
    Participant,
    Question,
    QuestionKind,
    QuestionStatus,
    Vote,
    Word,
)
from .parsing import choice_token

SCOREBOARD_SIZE = 10
WORDS_SHOWN = 100


def _iso(dt):
    return dt.isoformat() if dt else None


def choice_dict(c: Choice, index: int, reveal: bool) -> dict:
    d = {"id": c.pk, "token": choice_token(c.token, index), "text": c.text}
    if reveal:
        d["correct"] = c.is_correct
    return d


def question_dict(q: Question, *, reveal: bool = False, choices=None) -> dict:
    from .services import render_description

    if choices is None:
        choices = list(q.choices.all()) if q.kind in (QuestionKind.POLL, QuestionKind.QUIZ) else []
    d = {
        "id": q.pk,
        "order": q.order,
        "kind": q.kind,
        "text": q.text,
        "description": q.description,
        # Markdown rendered with raw HTML escaped: the only HTML pages may insert as is.
        "description_html": render_description(q.description),
        "status": q.status,
        "timer_seconds": q.timer_seconds,
        "opened_at": _iso(q.opened_at),
        "closes_at": _iso(q.closes_at),
        "choices": [choice_dict(c, i, reveal) for i, c in enumerate(choices)],
    }
    if q.kind == QuestionKind.WORDCLOUD:
        d["max_words"] = q.max_words
        d["min_word_length"] = q.min_word_length
        d["max_word_length"] = q.max_word_length
    if q.kind == QuestionKind.RATING:
        d["rating_max"] = q.rating_max
    return d


def question_results(q: Question, *, reveal: bool = False) -> dict:
    """Aggregated results of one question: a couple of GROUP BY queries, never a row per vote."""
    d: dict = {"question_id": q.pk, "kind": q.kind, "total": 0}
    if q.kind in (QuestionKind.POLL, QuestionKind.QUIZ):
        counts = dict(
            Vote.objects.filter(question=q)
            .values("choice_id")
            .annotate(n=Count("id"))
            .values_list("choice_id", "n")
        )
        choices = list(q.choices.all())
        d["choices"] = [
            {**choice_dict(c, i, reveal), "count": counts.get(c.pk, 0)}
            for i, c in enumerate(choices)
        ]
        d["total"] = sum(counts.values())
    elif q.kind == QuestionKind.RATING:
        counts = dict(
            Vote.objects.filter(question=q)
            .values("value")
            .annotate(n=Count("id"))
            .values_list("value", "n")
        )
        d["distribution"] = [counts.get(v, 0) for v in range(1, q.rating_max + 1)]
        d["total"] = sum(counts.values())
        avg = Vote.objects.filter(question=q).aggregate(a=Avg("value"))["a"]
        d["average"] = round(avg, 2) if avg is not None else None
        d["rating_max"] = q.rating_max
    elif q.kind == QuestionKind.WORDCLOUD:
        rows = (
            Word.objects.filter(question=q)
            .values("word")
            .annotate(n=Count("id"))
            .order_by("-n", "word")[:WORDS_SHOWN]
        )
        d["words"] = [{"word": r["word"], "count": r["n"]} for r in rows]
        d["total"] = Word.objects.filter(question=q).count()
    return d


def participant_dict(p: Participant) -> dict:
    return {
        "id": p.pk,
        "nickname": p.nickname,
        "platform": p.platform,
        "score": p.score,
    }


def scoreboard(meeting_id: int, limit: int = SCOREBOARD_SIZE) -> list[dict]:
    rows = (
        Participant.objects.filter(meeting_id=meeting_id)
        .order_by("-score", "score_reached_at", "id")
        .values("id", "nickname", "platform", "score")[:limit]
    )
    return [{**r, "rank": i} for i, r in enumerate(rows, 1)]


def rank_of(p: Participant) -> int:
    from django.db.models import Q

    ahead = Participant.objects.filter(meeting_id=p.meeting_id).filter(
        Q(score__gt=p.score)
        | Q(score=p.score, score_reached_at__lt=p.score_reached_at)
        | Q(score=p.score, score_reached_at=p.score_reached_at, id__lt=p.pk)
    )
    return ahead.count() + 1


def meeting_info(m: Meeting) -> dict:
    from .services import render_description

    return {
        "id": m.pk,
        "title": m.title,
        "description_html": render_description(m.description),
        "state": m.state,
        "version": m.version,
        "starts_at": _iso(m.starts_at),
        "ends_at": _iso(m.ends_at),
        "scoring_mode": m.scoring_mode,
        "allow_vote_change": m.allow_vote_change,
        "chat_prefix": m.chat_prefix,
        "flag_command": m.flag_command,
        "flag_prefix": m.flag_prefix,
    }


def public_state(m: Meeting) -> dict:
    """What every participant sees right now (no correct answers before the results)."""
    q = m.current_question
    reveal = m.state in (MeetingState.RESULTS, MeetingState.SCOREBOARD, MeetingState.AFTER)
    total = m.questions.count()
    index = None
    if q is not None:
        index = (
            m.questions.filter(order__lt=q.order).count()
            + m.questions.filter(order=q.order, id__lt=q.pk).count()
        )
    d = {
        "meeting": meeting_info(m),
        "question": question_dict(q, reveal=reveal and q.status == QuestionStatus.CLOSED)
        if q
        else None,
        "position": {"index": index, "total": total},
        "results": None,
        "scoreboard": None,
    }
    if q is not None and q.takes_answers and m.state == MeetingState.RESULTS:
        d["results"] = question_results(q, reveal=True)
    if m.state in (MeetingState.SCOREBOARD, MeetingState.AFTER):
        d["scoreboard"] = scoreboard(m.pk)
    return d


def plan_entry(q: Question, answers: int) -> dict:
    """One question of the dashboard's plan, with what its edit form needs (host channel only:
    correct choices and blocked words included)."""
    d = {
        "id": q.pk,
        "order": q.order,
        "kind": q.kind,
        "text": q.text,
        "description": q.description,
        "status": q.status,
        "timer_seconds": q.timer_seconds,
        "answers": answers,
        "choices": [
            {"id": c.pk, "token": choice_token(c.token, i), "text": c.text, "correct": c.is_correct}
            for i, c in enumerate(q.choices.all())
        ]
        if q.kind in (QuestionKind.POLL, QuestionKind.QUIZ)
        else [],
    }
    if q.kind == QuestionKind.WORDCLOUD:
        d["max_words"] = q.max_words
        d["min_word_length"] = q.min_word_length
        d["max_word_length"] = q.max_word_length
        d["blocked_words"] = q.blocked_words
    if q.kind == QuestionKind.RATING:
        d["rating_max"] = q.rating_max
    return d


def host_state(m: Meeting) -> dict:
    """The dashboard's view: the public state plus the plan, live results and counts."""
    d = public_state(m)
    d["meeting"]["join_code"] = m.join_code
    d["meeting"]["controller"] = m.controller.get_username() if m.controller_id else None
    answers = dict(
        Vote.objects.filter(question__meeting=m)
        .values("question_id")
        .annotate(n=Count("id"))
        .values_list("question_id", "n")
    )
    words = dict(
        Word.objects.filter(question__meeting=m)
        .values("question_id")
        .annotate(n=Count("id"))
        .values_list("question_id", "n")
    )
    d["plan"] = [
        plan_entry(q, answers.get(q.pk, 0) + words.get(q.pk, 0))
        for q in m.questions.prefetch_related("choices")
    ]
    q = m.current_question
    if q is not None and q.takes_answers and q.status != QuestionStatus.PENDING:
        d["results"] = question_results(q, reveal=True)
    if d["scoreboard"] is None:
        d["scoreboard"] = scoreboard(m.pk)
    d["participants"] = m.participants.count()
    d["flags"] = [
        {"id": f.pk, "name": f.name, "points": f.points, "captures": f.n}
        for f in m.flags.annotate(n=Count("captures")).order_by("id")
    ]
    return d


def live_frame(meeting_id: int) -> dict:
    """The throttled live update for dashboards: current results + participant count."""
    m = Meeting.objects.select_related("current_question").get(pk=meeting_id)
    q = m.current_question
    results = None
    if q is not None and q.takes_answers and q.status != QuestionStatus.PENDING:
        results = question_results(q, reveal=True)
    return {
        "type": "results",
        "meeting_id": m.pk,
        "question_id": q.pk if q else None,
        "results": results,
        "participants": m.participants.count(),
        "scoreboard": scoreboard(m.pk),
    }
