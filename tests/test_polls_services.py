"""Meetings services against the database: answers, scoring, words, flags, persisted state."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ingest.models import ChatAuthor
from polls import services as svc
from polls.models import Meeting, MeetingState, Participant, Vote, Word
from polls.models import QuestionKind as K
from polls.serializers import (
    host_state,
    public_state,
    question_dict,
    question_results,
    scoreboard,
)
from tests.meetings import choice, q, standard

pytestmark = pytest.mark.django_db


def people(m, n):
    return [svc.join(m, f"p{i}")[0] for i in range(n)]


def goto(m, kind):
    return svc.apply_command(m.pk, "goto", q(m, kind).pk)


def test_state_is_persisted_and_a_restart_resumes_it():
    m = standard()
    svc.apply_command(m.pk, "start")
    goto(m, K.QUIZ)
    fresh = Meeting.objects.get(pk=m.pk)  # as a new process would see it
    assert fresh.state == MeetingState.ONGOING and fresh.current_question == q(m, K.QUIZ)
    assert q(m, K.QUIZ).status == "open" and q(m, K.QUIZ).opened_at is not None
    state = public_state(fresh)
    assert state["question"]["text"] == "2 + 2?"
    assert "correct" not in state["question"]["choices"][0]  # not revealed while open
    for _ in range(10):
        try:
            svc.apply_command(m.pk, "next")
        except svc.ServiceError as exc:
            assert exc.code == "conflict"
    fresh = Meeting.objects.get(pk=m.pk)
    assert fresh.state == MeetingState.AFTER and public_state(fresh)["scoreboard"] == []


def test_poll_votes_one_per_participant_changes_and_invalid():
    m = standard()
    poll = q(m, K.POLL)
    a, b = people(m, 2)
    red, blue = choice(poll, "Red").pk, choice(poll, "Blue").pk
    res = svc.record_answers(poll.pk, [svc.Answer(a.pk, choice_id=red)])
    assert res.outcomes == ["closed"]  # not open yet
    goto(m, K.POLL)
    res = svc.record_answers(
        poll.pk,
        [
            svc.Answer(a.pk, choice_id=red),
            svc.Answer(b.pk, choice_id=red),
            svc.Answer(b.pk, choice_id=blue),  # same batch: last wins when changes are allowed
            svc.Answer(a.pk, choice_id=999999),
        ],
    )
    assert res.outcomes == ["ok", "changed", "ok", "invalid"]
    res = svc.record_answers(poll.pk, [svc.Answer(a.pk, choice_id=blue)])
    assert res.outcomes == ["changed"]
    assert Vote.objects.filter(question=poll).count() == 2
    stored = Vote.objects.filter(question=poll).first()
    assert abs((stored.created_at - timezone.now()).total_seconds()) < 60 and stored.via == "web"
    counts = {c["text"]: c["count"] for c in question_results(poll)["choices"]}
    assert counts == {"Red": 0, "Green": 0, "Blue": 2}
    Meeting.objects.filter(pk=m.pk).update(allow_vote_change=False)
    res = svc.record_answers(poll.pk, [svc.Answer(a.pk, choice_id=red)])
    assert res.outcomes == ["duplicate"]
    svc.apply_command(m.pk, "close")
    assert svc.record_answers(poll.pk, [svc.Answer(b.pk, choice_id=red)]).outcomes == ["closed"]


def test_quiz_classic_scoring_first_correct_bonus_once_and_final_answers():
    m = standard(first_correct_bonus=2)
    quiz = q(m, K.QUIZ)
    a, b, c = people(m, 3)
    goto(m, K.QUIZ)
    now = timezone.now()
    res = svc.record_answers(
        quiz.pk,
        [
            svc.Answer(b.pk, choice_id=choice(quiz, "4").pk, at=now),
            svc.Answer(a.pk, choice_id=choice(quiz, "Four").pk, at=now - timedelta(seconds=1)),
            svc.Answer(c.pk, choice_id=choice(quiz, "3").pk, at=now),
        ],
    )
    assert res.outcomes == ["ok", "ok", "ok"] and res.first_correct == a.pk
    res = svc.record_answers(quiz.pk, [svc.Answer(c.pk, choice_id=choice(quiz, "4").pk)])
    assert res.outcomes == ["duplicate"]  # quiz answers are final
    scores = dict(Participant.objects.values_list("nickname", "score"))
    assert scores == {"p0": 3, "p1": 1, "p2": 0}
    # While open the participant's visible score hides the quiz points.
    assert svc.me(a.pk)["score"] == 0
    svc.apply_command(m.pk, "results")
    mine = svc.me(a.pk)
    assert mine["score"] == 3 and mine["answer"]["correct"] and mine["rank"] == 1
    assert [r["nickname"] for r in scoreboard(m.pk)] == ["p0", "p1", "p2"]
    # Reopen and close again: no second bonus.
    svc.apply_command(m.pk, "reopen")
    d = svc.record_answers(
        quiz.pk, [svc.Answer(svc.join(m, "late")[0].pk, choice_id=choice(quiz, "4").pk)]
    )
    assert d.first_correct is None
    assert Participant.objects.get(nickname="late").score == 1


def test_timed_scoring_and_streak():
    m = standard(
        scoring_mode="timed", timed_max_points=1000, streak_bonus=100, first_correct_bonus=0
    )
    quiz = q(m, K.QUIZ)
    quiz.timer_seconds = 10
    quiz.save()
    a, b = people(m, 2)
    Participant.objects.filter(pk=a.pk).update(streak=2)
    goto(m, K.QUIZ)
    from polls.models import Question

    start = timezone.now() - timedelta(seconds=5)
    Question.objects.filter(pk=quiz.pk).update(
        opened_at=start, first_opened_at=start, closes_at=start + timedelta(seconds=10)
    )
    quiz.refresh_from_db()
    four = choice(quiz, "4").pk
    svc.record_answers(
        quiz.pk,
        [
            svc.Answer(a.pk, choice_id=four, at=quiz.opened_at),
            svc.Answer(b.pk, choice_id=four, at=quiz.opened_at + timedelta(seconds=5)),
        ],
    )
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.score == 1000 + 200 and a.streak == 3
    assert b.score == 750 and b.streak == 1
    # Answering after the timer is refused.
    Participant.objects.create(meeting=m, nickname="slow", platform_user_id="s")

    Question.objects.filter(pk=quiz.pk).update(closes_at=timezone.now() - timedelta(seconds=5))
    slow = Participant.objects.get(nickname="slow")
    assert svc.record_answers(quiz.pk, [svc.Answer(slow.pk, choice_id=four)]).outcomes == ["closed"]


def test_rating_average_and_distribution_and_nobody_answering():
    m = standard()
    rating = q(m, K.RATING)
    goto(m, K.RATING)
    assert question_results(rating)["total"] == 0  # nobody answering is a valid result
    svc.apply_command(m.pk, "results")
    assert public_state(Meeting.objects.get(pk=m.pk))["results"]["average"] is None
    svc.apply_command(m.pk, "reopen")
    a, b, c = people(m, 3)
    res = svc.record_answers(
        rating.pk, [svc.Answer(a.pk, value=5), svc.Answer(b.pk, raw="4"), svc.Answer(c.pk, raw="9")]
    )
    assert res.outcomes == ["ok", "ok", "invalid"]
    r = question_results(rating)
    assert r["distribution"] == [0, 0, 0, 1, 1] and r["average"] == 4.5


def test_word_cloud_limits_normalization_and_blocked_words():
    m = standard()
    wc = q(m, K.WORDCLOUD)
    goto(m, K.WORDCLOUD)
    a, b = people(m, 2)
    res = svc.record_words(
        wc.pk,
        [
            (a.pk, "Python"),
            (a.pk, "PYTHON "),
            (a.pk, "spam"),
            (a.pk, "Django"),
            (a.pk, "rust"),
            (b.pk, "python"),
        ],
    )
    assert res.outcomes == ["ok", "duplicate", "blocked", "ok", "limit", "ok"]
    assert svc.record_words(wc.pk, [(a.pk, "go")]).outcomes == ["limit"]
    words = {w["word"]: w["count"] for w in question_results(wc)["words"]}
    assert words == {"python": 2, "django": 1}
    assert Word.objects.count() == 3


def test_flags_points_first_blood_once_wrapper_and_rate_limit():
    m = standard()
    svc.apply_command(m.pk, "start")
    a, b = people(m, 2)
    r = svc.check_flag(m.pk, a.pk, "FLAG{s3cret}")
    assert r["points"] == 15 and r["first_blood"]
    r = svc.check_flag(m.pk, b.pk, "s3cret")
    assert r["points"] == 10 and not r["first_blood"]
    with pytest.raises(svc.ServiceError) as exc:
        svc.check_flag(m.pk, a.pk, "s3cret")
    assert exc.value.code == "already"
    for _ in range(svc.FLAG_ATTEMPTS):
        with pytest.raises(svc.ServiceError) as exc:
            svc.check_flag(m.pk, b.pk, "nope")
        assert exc.value.code == "wrong"
    with pytest.raises(svc.ServiceError) as exc:
        svc.check_flag(m.pk, b.pk, "nope")
    assert exc.value.code == "rate_limited"
    assert dict(Participant.objects.values_list("nickname", "score")) == {"p0": 15, "p1": 10}


def test_chat_authors_become_participants_by_platform_id():
    m = standard()
    x = ChatAuthor.objects.create(platform="twitch", platform_user_id="42", display_name="Same")
    y = ChatAuthor.objects.create(platform="youtube", platform_user_id="42", display_name="Same")
    ids = svc.participants_for_authors(m.pk, {x.pk: x, y.pk: y})
    again = svc.participants_for_authors(m.pk, {x.pk: x})
    assert len(set(ids.values())) == 2 and again[x.pk] == ids[x.pk]
    assert set(Participant.objects.values_list("platform", flat=True)) == {"twitch", "youtube"}


def test_resume_token_not_nickname():
    m = standard()
    p, token = svc.join(m, "alice")
    svc.join(m, "alice")
    assert svc.resume(m, token) == p
    assert svc.resume(m, "alice") is None and svc.resume(m, "") is None
    with pytest.raises(svc.ServiceError):
        svc.join(m, "   ")


def test_duplicate_meeting_copies_plan_with_a_new_code_and_fresh_state():
    m = standard()
    goto(m, K.POLL)
    copy = svc.duplicate_meeting(m.pk)
    assert copy.join_code != m.join_code and copy.state == MeetingState.BEFORE
    assert [x.text for x in copy.questions.all()] == [x.text for x in m.questions.all()]
    assert {x.status for x in copy.questions.all()} == {"pending"}
    assert q(copy, K.QUIZ).choices.filter(is_correct=True).count() == 2
    assert copy.flags.get().code == "s3cret"


def test_reorder_and_host_state():
    m = standard()
    ids = list(m.questions.values_list("id", flat=True))
    svc.reorder_plan(m.pk, list(reversed(ids)))
    assert list(m.questions.values_list("id", flat=True)) == list(reversed(ids))
    with pytest.raises(svc.ServiceError):
        svc.reorder_plan(m.pk, ids[:2])
    state = host_state(Meeting.objects.get(pk=m.pk))
    assert [p["id"] for p in state["plan"]] == list(reversed(ids))
    assert state["meeting"]["join_code"] == m.join_code


def test_description_markdown_is_rendered_without_html():
    html = svc.render_description("**hi** <script>alert(1)</script> [x](javascript:alert(1))")
    assert "<strong>hi</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html


def test_question_descriptions_are_serialized_as_safe_html():
    m = standard(description="**Town** <script>alert(1)</script>")
    poll = q(m, K.POLL)
    poll.description = "Pick **bold** <script>alert(1)</script> [x](javascript:alert(1))"
    poll.save()
    d = question_dict(poll)
    assert d["description"] == poll.description  # the Markdown source, for the editor
    html = d["description_html"]
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript' not in html
    assert question_dict(q(m, K.TEXT))["description_html"] == ""
    goto(m, K.POLL)
    m = Meeting.objects.get(pk=m.pk)
    for state in (public_state(m), host_state(m)):
        assert state["question"]["description_html"] == html
        assert "<strong>Town</strong>" in state["meeting"]["description_html"]
        assert "<script" not in state["meeting"]["description_html"]


def test_scoreboard_ties_go_to_who_reached_the_score_first():
    m = standard(first_correct_bonus=0)
    svc.apply_command(m.pk, "start")
    late, early = people(m, 2)  # late joined first, but scores later
    svc.check_flag(m.pk, early.pk, "s3cret")
    svc.check_flag(m.pk, late.pk, "s3cret")
    Participant.objects.filter(pk=early.pk).update(score=12)
    Participant.objects.filter(pk=late.pk).update(score=12)
    board = scoreboard(m.pk)
    assert [r["id"] for r in board] == [early.pk, late.pk]
    assert [r["rank"] for r in board] == [1, 2]
    assert svc.me(late.pk)["rank"] == 2


def test_a_tie_within_one_batch_goes_to_who_answered_first_not_who_joined_first():
    m = standard(first_correct_bonus=0)
    quiz = q(m, K.QUIZ)
    joined_first, joined_second = people(m, 2)
    goto(m, K.QUIZ)
    right = choice(quiz, "4").pk
    t = timezone.now()
    # One batch (as under a vote storm): the one who joined second answered 300 ms earlier.
    svc.record_answers(
        quiz.pk,
        [
            svc.Answer(joined_first.pk, choice_id=right, at=t),
            svc.Answer(joined_second.pk, choice_id=right, at=t - timedelta(milliseconds=300)),
        ],
    )
    svc.apply_command(m.pk, "close")
    board = scoreboard(m.pk)
    assert [r["score"] for r in board] == [1, 1]
    assert [r["id"] for r in board] == [joined_second.pk, joined_first.pk]
    assert svc.me(joined_first.pk)["rank"] == 2


def test_reopening_a_timed_quiz_does_not_restart_the_points_clock():
    m = standard(scoring_mode="timed", timed_max_points=1000, first_correct_bonus=0)
    quiz = q(m, K.QUIZ)
    quiz.timer_seconds = 10
    quiz.save()
    _, late = people(m, 2)
    goto(m, K.QUIZ)
    from polls.models import Question

    # It first opened 30 s ago; the host closed it and now reopens it for the latecomers.
    Question.objects.filter(pk=quiz.pk).update(
        first_opened_at=timezone.now() - timedelta(seconds=30)
    )
    svc.apply_command(m.pk, "close")
    svc.apply_command(m.pk, "reopen")
    quiz.refresh_from_db()
    assert quiz.status == "open" and quiz.opened_at > quiz.first_opened_at
    svc.record_answers(quiz.pk, [svc.Answer(late.pk, choice_id=choice(quiz, "4").pk)])
    late.refresh_from_db()
    assert late.score == 500  # half: 30 s after it first opened, not full points again


def test_timed_streak_is_broken_by_not_answering():
    m = standard(scoring_mode="timed", streak_bonus=50)
    quiz = q(m, K.QUIZ)
    answered, silent = people(m, 2)
    Participant.objects.filter(pk__in=[answered.pk, silent.pk]).update(streak=3)
    goto(m, K.QUIZ)
    svc.record_answers(quiz.pk, [svc.Answer(answered.pk, choice_id=choice(quiz, "4").pk)])
    svc.apply_command(m.pk, "close")
    streaks = dict(Participant.objects.values_list("nickname", "streak"))
    assert streaks == {"p0": 4, "p1": 0}


# --- the meeting's window -------------------------------------------------------------------
def test_before_the_window_nobody_joins_answers_or_starts_and_the_message_says_when():
    m = standard(starts_at=timezone.now() + timedelta(hours=1))
    with pytest.raises(svc.ServiceError) as exc:
        svc.join(m, "early")
    assert exc.value.code == "not_started" and "opens at" in exc.value.message
    for cmd in ("start", "next"):
        with pytest.raises(svc.ServiceError) as exc:
            svc.apply_command(m.pk, cmd)
        assert exc.value.code == "not_started" and "admin" in exc.value.message
    assert Meeting.objects.get(pk=m.pk).state == MeetingState.BEFORE
    # A meeting that was running when its window was moved into the future: answers refused.
    Meeting.objects.filter(pk=m.pk).update(starts_at=None)
    (p,) = people(m, 1)
    goto(m, K.POLL)
    Meeting.objects.filter(pk=m.pk).update(starts_at=timezone.now() + timedelta(hours=1))
    poll = q(m, K.POLL)
    res = svc.record_answers(poll.pk, [svc.Answer(p.pk, choice_id=choice(poll, "Red").pk)])
    assert res.outcomes == ["not_started"] and Vote.objects.count() == 0
    with pytest.raises(svc.ServiceError) as exc:
        svc.check_flag(m.pk, p.pk, "s3cret")
    assert exc.value.code == "not_started"
    # The host can always end it.
    assert svc.apply_command(m.pk, "end").state == MeetingState.AFTER


def test_after_the_window_writes_are_refused_and_end_if_over_ends_the_meeting_once():
    m = standard()
    svc.apply_command(m.pk, "start")
    (p,) = people(m, 1)
    goto(m, K.WORDCLOUD)
    Meeting.objects.filter(pk=m.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    wc = q(m, K.WORDCLOUD)
    assert svc.record_words(wc.pk, [(p.pk, "late")]).outcomes == ["ended"]
    with pytest.raises(svc.MeetingOver) as exc:
        svc.join(m, "late")
    assert exc.value.code == "closed" and exc.value.meeting_id == m.pk
    with pytest.raises(svc.MeetingOver):
        svc.apply_command(m.pk, "next")
    ended = svc.end_if_over(m.pk)
    assert ended is not None and ended.state == MeetingState.AFTER
    assert q(m, K.WORDCLOUD).status == "closed"  # the open question was closed
    assert svc.end_if_over(m.pk) is None  # idempotent
    assert svc.record_words(wc.pk, [(p.pk, "late")]).outcomes == ["closed"]
    assert Word.objects.count() == 0
    with pytest.raises(svc.ServiceError) as exc:
        svc.join(m, "later")
    assert exc.value.code == "closed"


def test_end_if_over_leaves_a_meeting_without_window_or_before_its_end_alone():
    m = standard()
    svc.apply_command(m.pk, "start")
    assert svc.end_if_over(m.pk) is None
    Meeting.objects.filter(pk=m.pk).update(ends_at=timezone.now() + timedelta(minutes=5))
    assert svc.end_if_over(m.pk) is None
    assert Meeting.objects.get(pk=m.pk).state == MeetingState.WAITING


def test_window_validation_model_admin_form_dashboard_form_and_service(rf):
    from django.contrib import admin
    from django.contrib.auth.models import User
    from django.core.exceptions import ValidationError

    from polls.views import WindowForm

    now = timezone.now()
    m = standard()
    m.starts_at, m.ends_at = now, now - timedelta(hours=1)
    with pytest.raises(ValidationError) as exc:
        m.full_clean()
    assert "ends_at" in exc.value.message_dict
    request = rf.get("/")
    request.user = User.objects.create_superuser("root", password="x" * 20)
    admin_form = admin.site._registry[Meeting].get_form(request, obj=m)
    data = {
        "title": "T",
        "scoring_mode": "classic",
        "points_correct": 1,
        "first_correct_bonus": 1,
        "timed_max_points": 1000,
        "timed_window_seconds": 20,
        "streak_bonus": 0,
        "chat_prefix": "#",
        "flag_command": "!flag",
        "starts_at_0": "2030-05-01",
        "starts_at_1": "15:00",
        "ends_at_0": "2030-05-01",
        "ends_at_1": "14:00",
        "state_changed_at_0": "2030-01-01",
        "state_changed_at_1": "10:00",
    }
    form = admin_form(data, instance=Meeting.objects.get(pk=m.pk))
    assert not form.is_valid() and "ends_at" in form.errors
    form = admin_form({**data, "ends_at_1": "16:00"}, instance=Meeting.objects.get(pk=m.pk))
    assert form.is_valid(), form.errors
    form = WindowForm(
        {"starts_at": "2030-05-01T15:00", "ends_at": "2030-05-01T15:00"},
        instance=Meeting.objects.get(pk=m.pk),
    )
    assert not form.is_valid() and "ends_at" in form.errors
    with pytest.raises(svc.ServiceError) as exc:
        svc.set_window(m.pk, now, now)
    assert exc.value.code == "invalid"
    before = Meeting.objects.get(pk=m.pk).version
    svc.set_window(m.pk, None, now + timedelta(hours=2))
    fresh = Meeting.objects.get(pk=m.pk)
    assert fresh.starts_at is None and fresh.version == before + 1
    assert public_state(fresh)["meeting"]["ends_at"] == (now + timedelta(hours=2)).isoformat()


# --- editing the plan: update_question / delete_question --------------------------------------
def _choices(question):
    return [(c.text, c.is_correct) for c in question.choices.all()]


def _error(fn, *args, **kw):
    with pytest.raises(svc.ServiceError) as exc:
        fn(*args, **kw)
    return exc.value


def test_update_question_text_timer_and_choices_before_any_answer():
    m = standard()
    quiz = q(m, K.QUIZ)
    three, four = choice(quiz, "3"), choice(quiz, "4")
    version = Meeting.objects.get(pk=m.pk).version
    svc.update_question(
        m.pk,
        quiz.pk,
        kind="quiz",
        text="  2 + 3?  ",
        description="*sum*",
        timer_seconds=30,
        choices=[
            {"id": four.pk, "text": "4", "correct": False},
            {"text": "5", "correct": True},
            {"id": three.pk, "text": "three"},
        ],
    )
    quiz.refresh_from_db()
    assert (quiz.text, quiz.description, quiz.timer_seconds) == ("2 + 3?", "*sum*", 30)
    assert _choices(quiz) == [("4", False), ("5", True), ("three", False)]  # "Four" deleted
    assert choice(quiz, "4").pk == four.pk and choice(quiz, "three").pk == three.pk  # kept
    assert Meeting.objects.get(pk=m.pk).version == version + 1
    svc.update_question(m.pk, quiz.pk, timer_seconds=None)
    quiz.refresh_from_db()
    assert quiz.timer_seconds is None and quiz.text == "2 + 3?"  # only what was sent changes
    plan = {p["id"]: p for p in host_state(Meeting.objects.get(pk=m.pk))["plan"]}
    assert [(c["token"], c["text"], c["correct"]) for c in plan[quiz.pk]["choices"]] == [
        ("A", "4", False),
        ("B", "5", True),
        ("C", "three", False),
    ]
    wc, rating = q(m, K.WORDCLOUD), q(m, K.RATING)
    svc.update_question(m.pk, wc.pk, max_words=5, min_word_length=2, blocked_words="ham")
    svc.update_question(m.pk, rating.pk, rating_max=10)
    wc.refresh_from_db()
    assert (wc.max_words, wc.min_word_length, wc.blocked_words) == (5, 2, "ham")
    assert plan[wc.pk]["blocked_words"] == "spam, eggs"  # the host state carries it (host only)
    assert q(m, K.RATING).rating_max == 10


def test_after_answers_only_text_description_and_timer_change():
    m = standard()
    poll = q(m, K.POLL)
    (a,) = people(m, 1)
    goto(m, K.POLL)
    svc.record_answers(poll.pk, [svc.Answer(a.pk, choice_id=choice(poll, "Red").pk)])
    svc.update_question(m.pk, poll.pk, text="Favourite colour, really?", timer_seconds=20)
    poll.refresh_from_db()
    assert poll.text == "Favourite colour, really?" and poll.timer_seconds == 20
    same = [{"id": c.pk, "text": c.text, "correct": c.is_correct} for c in poll.choices.all()]
    svc.update_question(m.pk, poll.pk, choices=same)  # unchanged choices: fine
    for change in (
        [{**same[0], "text": "Crimson"}, *same[1:]],  # a text
        same[:2],  # a choice removed
        [*same, {"text": "Yellow"}],  # a choice added
        list(reversed(same)),  # the order
    ):
        err = _error(svc.update_question, m.pk, poll.pk, choices=change)
        assert err.code == "conflict" and err.message == svc.ANSWERED_MESSAGE
    assert _choices(poll) == [("Red", False), ("Green", False), ("Blue", False)]
    assert Vote.objects.filter(question=poll).count() == 1  # the answer is still there
    # Word clouds: words count as answers; ratings: votes.
    wc = q(m, K.WORDCLOUD)
    goto(m, K.WORDCLOUD)
    svc.record_words(wc.pk, [(a.pk, "hello")])
    assert _error(svc.update_question, m.pk, wc.pk, max_words=9).code == "conflict"
    assert _error(svc.update_question, m.pk, wc.pk, blocked_words="x").code == "conflict"
    svc.update_question(m.pk, wc.pk, max_words=2, text="Two words?")  # max_words unchanged
    rating = q(m, K.RATING)
    goto(m, K.RATING)
    svc.record_answers(rating.pk, [svc.Answer(a.pk, value=4)])
    assert _error(svc.update_question, m.pk, rating.pk, rating_max=3).code == "conflict"


@pytest.mark.parametrize(
    ("kind", "changes", "message"),
    [
        (K.POLL, {"kind": "quiz"}, "kind of a question cannot change"),
        (K.POLL, {"text": "   "}, "the text cannot be empty"),
        (K.POLL, {"text": None}, "the text cannot be empty"),
        (K.POLL, {"text": "x" * 501}, "limited to 500"),
        (K.POLL, {"timer_seconds": 0}, "from 1 to 3600"),
        (K.POLL, {"timer_seconds": 3601}, "from 1 to 3600"),
        (K.POLL, {"timer_seconds": True}, "from 1 to 3600"),
        (K.POLL, {"choices": [{"text": "only one"}]}, "at least two choices"),
        (K.POLL, {"choices": [{"text": "a"}, {"text": " "}]}, "choice 2 cannot be empty"),
        (K.POLL, {"choices": [{"text": "a"}, {"text": "b", "id": 999999}]}, "not a choice of"),
        (K.QUIZ, {"choices": [{"text": "a"}, {"text": "b"}]}, "at least one correct choice"),
        (K.POLL, {"rating_max": 4}, "a poll has no rating_max"),
        (K.RATING, {"choices": [{"text": "a"}, {"text": "b"}]}, "a rating scale has no choices"),
        (K.TEXT, {"choices": [{"text": "a"}, {"text": "b"}]}, "a text slide has no choices"),
        (K.RATING, {"rating_max": 1}, "from 2 to 100"),
        (K.WORDCLOUD, {"max_words": 21}, "from 1 to 20"),
        (K.WORDCLOUD, {"min_word_length": 40}, "cannot be more than the longest"),
        (K.POLL, {"status": "closed"}, "has no field status"),
    ],
)
def test_update_question_validation(kind, changes, message):
    m = standard()
    question = q(m, kind)
    before = (question.text, _choices(question), Meeting.objects.get(pk=m.pk).version)
    err = _error(svc.update_question, m.pk, question.pk, **changes)
    assert err.code == "invalid" and message in err.message, err.message
    question.refresh_from_db()
    assert (question.text, _choices(question), Meeting.objects.get(pk=m.pk).version) == before


def test_update_and_delete_only_questions_of_this_meeting():
    m, other = standard(), standard()
    theirs = q(other, K.POLL)
    assert _error(svc.update_question, m.pk, theirs.pk, text="x").code == "not_found"
    assert _error(svc.delete_question, m.pk, theirs.pk).code == "not_found"
    assert _error(svc.delete_question, m.pk, 999999).code == "not_found"


def test_delete_question_subtracts_exactly_the_points_its_answers_earned():
    from polls.models import Choice, Question, Word

    m = standard(first_correct_bonus=5, points_correct=2)
    quiz = q(m, K.QUIZ)
    a, b, c = people(m, 3)
    svc.apply_command(m.pk, "start")
    svc.check_flag(m.pk, c.pk, "s3cret")  # 15 points that stay
    goto(m, K.QUIZ)
    svc.record_answers(
        quiz.pk,
        [
            svc.Answer(a.pk, choice_id=choice(quiz, "4").pk),  # 2 + 5 (first)
            svc.Answer(b.pk, choice_id=choice(quiz, "Four").pk),  # 2
            svc.Answer(c.pk, choice_id=choice(quiz, "3").pk),  # 0
        ],
    )
    assert dict(Participant.objects.values_list("nickname", "score")) == {
        "p0": 7,
        "p1": 2,
        "p2": 15,
    }
    err = _error(svc.delete_question, m.pk, quiz.pk)
    assert err.code == "conflict" and "on screen" in err.message  # the current question
    assert Question.objects.filter(pk=quiz.pk).exists()
    goto(m, K.WORDCLOUD)
    svc.record_words(q(m, K.WORDCLOUD).pk, [(a.pk, "hello")])
    version = Meeting.objects.get(pk=m.pk).version
    result = svc.delete_question(m.pk, quiz.pk)
    assert result == {"question_id": quiz.pk, "points_removed": 9, "participants": 2}
    assert dict(Participant.objects.values_list("nickname", "score")) == {
        "p0": 0,
        "p1": 0,
        "p2": 15,
    }
    assert not Question.objects.filter(pk=quiz.pk).exists()
    assert not Vote.objects.filter(question_id=quiz.pk).exists()
    assert not Choice.objects.filter(question_id=quiz.pk).exists()
    assert Meeting.objects.get(pk=m.pk).version == version + 1
    assert [p["kind"] for p in host_state(Meeting.objects.get(pk=m.pk))["plan"]] == [
        "text",
        "poll",
        "wordcloud",
        "rating",
    ]
    # A question with words but no points: deleted, no score touched.
    svc.apply_command(m.pk, "next")
    assert svc.delete_question(m.pk, q(m, K.WORDCLOUD).pk)["points_removed"] == 0
    assert not Word.objects.exists()
    assert Participant.objects.get(pk=c.pk).score == 15


def test_delete_question_keeps_the_tie_break_who_reached_the_score_first():
    from polls.models import FlagCapture
    from tests.meetings import meeting

    m = meeting(
        questions=[(K.QUIZ, "2 + 2?", [("3", False), ("4", True)]), (K.POLL, "Why?", [])],
        flags=[("Big", "big", 10, 0), ("Small", "small", 1, 0)],
        first_correct_bonus=0,
    )
    quiz = q(m, K.QUIZ)
    four = choice(quiz, "4").pk
    late, early, again, solo = people(m, 4)
    t0 = timezone.now() - timedelta(minutes=10)
    svc.apply_command(m.pk, "start")
    # "late" reaches 10 first, then "early", then "again" (flag captures, moved into the past).
    for i, p in enumerate((late, early, again)):
        svc.check_flag(m.pk, p.pk, "big")
        FlagCapture.objects.filter(participant=p).update(created_at=t0 + timedelta(minutes=i))
        Participant.objects.filter(pk=p.pk).update(score_reached_at=t0 + timedelta(minutes=i))
    goto(m, K.QUIZ)
    svc.record_answers(
        quiz.pk, [svc.Answer(pid, choice_id=four) for pid in (late.pk, again.pk, solo.pk)]
    )
    svc.apply_command(m.pk, "next")
    svc.check_flag(m.pk, again.pk, "small")  # "again" scores once more, after the quiz
    again_reached = Participant.objects.get(pk=again.pk).score_reached_at
    assert [(r["nickname"], r["score"]) for r in scoreboard(m.pk)] == [
        ("p2", 12),
        ("p0", 11),
        ("p1", 10),
        ("p3", 1),
    ]
    svc.delete_question(m.pk, quiz.pk)
    fresh = {p.pk: p for p in Participant.objects.all()}
    # late's last points are now its capture: it reached 10 before early did, and ranks first.
    assert fresh[late.pk].score == 10 and fresh[late.pk].score_reached_at == t0
    assert [(r["nickname"], r["score"]) for r in scoreboard(m.pk)] == [
        ("p2", 11),
        ("p0", 10),
        ("p1", 10),
        ("p3", 0),
    ]
    # again's deleted answer was not its last points: it reached 11 at its later capture.
    assert fresh[again.pk].score_reached_at == again_reached
    # solo has nothing left: back to 0, reached when it joined.
    assert fresh[solo.pk].score == 0
    assert fresh[solo.pk].score_reached_at == fresh[solo.pk].joined_at


def test_question_limits_are_the_dashboard_forms_limits():
    from polls.views import QuestionForm

    f = QuestionForm().fields
    assert (f["timer_seconds"].min_value, f["timer_seconds"].max_value) == (
        svc.TIMER_MIN,
        svc.TIMER_MAX,
    )
    assert (f["rating_max"].min_value, f["rating_max"].max_value) == (
        svc.RATING_MAX_MIN,
        svc.RATING_MAX_MAX,
    )
    assert (f["max_words"].min_value, f["max_words"].max_value) == (
        svc.MAX_WORDS_MIN,
        svc.MAX_WORDS_MAX,
    )
    assert f["text"].max_length == svc.QUESTION_TEXT_MAX
    assert f["blocked_words"].max_length == svc.BLOCKED_WORDS_MAX
