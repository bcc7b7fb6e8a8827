"""Concurrent submissions: bonuses exactly once, one vote per participant, atomic scores.

Runs threads with their own database connections, so on PostgreSQL (scale-out suite:
DATABASE_URL=postgres://...) the transactions really race; on SQLite they serialize.
"""

import threading

import pytest
from django.db import connection, connections

from polls import services as svc
from polls.models import Flag, Participant, Question, Vote
from polls.models import QuestionKind as K
from tests.meetings import standard

pytestmark = pytest.mark.django_db(transaction=True)

N = 40


def race(fn, args_list):
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(
            "threads racing need PostgreSQL (scale-out suite) or a file SQLite database "
            "(CHORUS_TEST_SQLITE=/tmp/x.sqlite3); the in-memory test database locks tables"
        )
    barrier = threading.Barrier(len(args_list))
    errors = []

    def run(*args):
        try:
            barrier.wait(timeout=30)
            fn(*args)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=a) for a in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


def test_first_correct_bonus_exactly_once_under_concurrent_voters():
    m = standard(first_correct_bonus=5)
    quiz = m.questions.get(kind=K.QUIZ)
    svc.apply_command(m.pk, "goto", quiz.pk)
    correct = quiz.choices.filter(is_correct=True).first().pk
    people = [svc.join(m, f"p{i}")[0].pk for i in range(N)]
    # Each participant answers twice at once (double click / two tabs): one vote stands.
    args = [(pid,) for pid in people] + [(pid,) for pid in people[: N // 2]]
    race(lambda pid: svc.record_answers(quiz.pk, [svc.Answer(pid, choice_id=correct)]), args)
    assert Vote.objects.filter(question=quiz).count() == N
    scores = sorted(Participant.objects.filter(meeting=m).values_list("score", flat=True))
    assert scores == [1] * (N - 1) + [6], scores  # one bonus, every correct answer once
    winner = Question.objects.get(pk=quiz.pk).first_correct_id
    assert Participant.objects.get(pk=winner).score == 6


def test_concurrent_batches_from_chat_and_web_award_one_bonus():
    m = standard(first_correct_bonus=3)
    quiz = m.questions.get(kind=K.QUIZ)
    svc.apply_command(m.pk, "goto", quiz.pk)
    correct = quiz.choices.filter(is_correct=True).first().pk
    people = [svc.join(m, f"p{i}")[0].pk for i in range(N)]
    batches = [people[i::4] for i in range(4)]
    race(
        lambda ids: svc.record_answers(quiz.pk, [svc.Answer(p, choice_id=correct) for p in ids]),
        [(b,) for b in batches],
    )
    total = sum(Participant.objects.filter(meeting=m).values_list("score", flat=True))
    assert total == N + 3
    assert Vote.objects.filter(question=quiz, points=4).count() == 1


def test_first_blood_exactly_once_and_each_flag_once_per_participant():
    m = standard()
    svc.apply_command(m.pk, "start")
    people = [svc.join(m, f"p{i}")[0].pk for i in range(N // 2)]
    args = [(pid,) for pid in people] * 2
    race(lambda pid: svc.submit_flag(m.pk, pid, "FLAG{s3cret}"), args)
    flag = Flag.objects.get(meeting=m)
    assert flag.captures.count() == len(people)
    assert flag.captures.filter(first_blood=True).count() == 1
    scores = sorted(Participant.objects.filter(meeting=m).values_list("score", flat=True))
    assert scores == [10] * (len(people) - 1) + [15]


async def test_many_concurrent_websocket_voters_one_bonus_and_every_vote_once():
    """Embedded too: 50 sockets answer a quiz at the same moment, some twice."""
    import asyncio

    from asgiref.sync import sync_to_async

    from tests.test_meeting_sockets import host_socket, participant, recv_until

    m = await sync_to_async(standard)(first_correct_bonus=5)
    quiz = await sync_to_async(m.questions.get)(kind=K.QUIZ)
    correct = await sync_to_async(lambda: quiz.choices.filter(is_correct=True).first().pk)()
    host, _, _ = await host_socket(m)
    await host.send_json_to({"type": "question.goto", "question_id": quiz.pk})
    await recv_until(host, "host.state")
    socks = [(await participant(m, f"p{i}"))[0] for i in range(50)]
    frame = {"type": "vote", "question_id": quiz.pk, "choice_id": correct}
    await asyncio.gather(*(s.send_json_to({**frame, "ref": "a"}) for s in socks))
    await asyncio.gather(*(s.send_json_to({**frame, "ref": "b"}) for s in socks[:10]))
    results = []
    for i, s in enumerate(socks):
        for _ in range(2 if i < 10 else 1):
            while True:
                f = await s.receive_json_from(timeout=5)
                if f["type"] in ("ack", "error"):
                    break
            results.append((f["ref"], f["type"], f.get("code")))
    assert results.count(("a", "ack", None)) == 50
    assert results.count(("b", "error", "duplicate")) == 10
    scores = await sync_to_async(
        lambda: sorted(Participant.objects.filter(meeting=m).values_list("score", flat=True))
    )()
    assert scores == [1] * 49 + [6]
    for s in [*socks, host]:
        await s.disconnect()
