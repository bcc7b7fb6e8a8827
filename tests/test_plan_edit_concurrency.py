"""Plan edits racing live answers (threads with their own connections; really concurrent on
PostgreSQL, the scale-out suite): deleting a question takes off exactly its points while another
question is being scored; a choice edit racing the first votes either wins before them or is
refused, never leaving votes behind."""

import pytest

from polls import services as svc
from polls.models import Choice, Participant, Vote
from polls.models import QuestionKind as K
from tests.meetings import meeting
from tests.test_meeting_concurrency import N, race

pytestmark = pytest.mark.django_db(transaction=True)


def test_delete_question_while_another_quiz_is_scored_keeps_every_score_exact():
    m = meeting(
        questions=[
            (K.QUIZ, "First?", [("no", False), ("yes", True)]),
            (K.QUIZ, "Second?", [("no", False), ("yes", True)]),
        ],
        first_correct_bonus=5,
        points_correct=2,
    )
    first, second = m.questions.all()
    people = [svc.join(m, f"p{i}")[0].pk for i in range(N)]
    svc.apply_command(m.pk, "goto", first.pk)
    yes1 = first.choices.get(text="yes").pk
    svc.record_answers(first.pk, [svc.Answer(pid, choice_id=yes1) for pid in people])
    svc.apply_command(m.pk, "goto", second.pk)
    yes2 = second.choices.get(text="yes").pk

    def act(what, pid=None):
        if what == "delete":
            svc.delete_question(m.pk, first.pk)
        else:
            svc.record_answers(second.pk, [svc.Answer(pid, choice_id=yes2)])

    race(act, [("delete",)] + [("vote", pid) for pid in people])
    scores = sorted(Participant.objects.filter(meeting=m).values_list("score", flat=True))
    assert scores == [2] * (N - 1) + [7], scores  # only the second quiz's points are left
    assert not Vote.objects.filter(question_id=first.pk).exists()


def test_a_choice_edit_racing_the_first_votes_wins_before_them_or_is_refused():
    m = meeting(
        questions=[(K.POLL, "Colour?", [("Red", False), ("Green", False), ("Blue", False)])]
    )
    poll = m.questions.get()
    red = poll.choices.get(text="Red").pk
    people = [svc.join(m, f"p{i}")[0].pk for i in range(N)]
    svc.apply_command(m.pk, "goto", poll.pk)
    outcome = {}

    def act(what, pid=None):
        if what == "edit":
            try:
                svc.update_question(
                    m.pk, poll.pk, choices=[{"id": red, "text": "Red"}, {"text": "Gold"}]
                )
                outcome["edit"] = "ok"
            except svc.ServiceError as exc:
                outcome["edit"] = exc.code
        else:
            svc.record_answers(poll.pk, [svc.Answer(pid, choice_id=red)])

    race(act, [("edit",)] + [("vote", pid) for pid in people])
    assert Vote.objects.filter(question=poll, choice_id=red).count() == N
    texts = list(Choice.objects.filter(question=poll).values_list("text", flat=True))
    if outcome["edit"] == "ok":
        assert texts == ["Red", "Gold"]
    else:
        assert outcome["edit"] == "conflict" and texts == ["Red", "Green", "Blue"]


def test_votes_for_a_choice_being_removed_are_recorded_first_or_refused_as_invalid():
    m = meeting(
        questions=[(K.POLL, "Colour?", [("Red", False), ("Green", False), ("Blue", False)])]
    )
    poll = m.questions.get()
    red, green = poll.choices.get(text="Red").pk, poll.choices.get(text="Green").pk
    people = [svc.join(m, f"p{i}")[0].pk for i in range(N)]
    svc.apply_command(m.pk, "goto", poll.pk)
    outcome = {"votes": []}

    def act(what, pid=None):
        if what == "edit":
            try:
                svc.update_question(
                    m.pk, poll.pk, choices=[{"id": red, "text": "Red"}, {"text": "Gold"}]
                )
                outcome["edit"] = "ok"
            except svc.ServiceError as exc:
                outcome["edit"] = exc.code
        else:
            result = svc.record_answers(poll.pk, [svc.Answer(pid, choice_id=green)])
            outcome["votes"] += result.outcomes

    race(act, [("edit",)] + [("vote", pid) for pid in people])  # no error, no deadlock
    assert set(outcome["votes"]) <= {"ok", "invalid"}
    assert Vote.objects.filter(question=poll).count() == outcome["votes"].count("ok")
    if outcome["edit"] == "ok":  # the edit came first: Green is gone, nobody voted for it
        assert outcome["votes"].count("ok") == 0
    else:
        assert outcome["edit"] == "conflict"
        assert Choice.objects.filter(question=poll).count() == 3
