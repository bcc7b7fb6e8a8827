"""The meeting's start/end window over the sockets and from stream chat: refused before the start
(``not_started``), ended by itself at ``ends_at`` (timer, also re-armed by a connecting socket), and
checked lazily by every write when no timer fired."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from ingest.pipeline import Pipeline
from polls import services as svc
from polls.chat import on_batch, process_chat
from polls.models import Meeting, MeetingState, Vote
from polls.models import QuestionKind as K
from tests.factories import author, msg, source
from tests.test_meeting_sockets import (
    call,
    host_socket,
    open_ws,
    participant,
    recv,
    recv_until,
    setup_meeting,
)

pytestmark = [pytest.mark.django_db(transaction=True)]


def _set(m, **fields):
    return sync_to_async(Meeting.objects.filter(pk=m.pk).update)(**fields)


async def test_before_the_start_join_and_host_start_are_refused_with_not_started():
    m, _ = await setup_meeting(starts_at=timezone.now() + timedelta(hours=2))
    comm, ok, _ = await open_ws(f"/ws/meeting/{m.join_code}/")
    assert ok
    hello = await recv(comm)
    assert hello["meeting"]["starts_at"] == m.starts_at.isoformat()  # the page shows it
    err = await call(comm, "join", nickname="early")
    assert err["type"] == "error" and err["code"] == "not_started"
    assert "opens at" in err["message"] and m.starts_at.strftime("%H:%M") in err["message"]
    host, host_hello, _ = await host_socket(m)
    assert host_hello["meeting"]["starts_at"] == m.starts_at.isoformat()
    for cmd in ("meeting.start", "question.next"):
        err = await call(host, cmd)
        assert err["code"] == "not_started" and "change its start time" in err["message"]
    assert (await sync_to_async(Meeting.objects.get)(pk=m.pk)).state == "before"
    # Moving the start to now opens it.
    await sync_to_async(svc.set_window)(m.pk, timezone.now() - timedelta(seconds=1), None)
    assert (await call(host, "meeting.start"))["state"] == "waiting"
    assert (await call(comm, "join", nickname="on time"))["type"] == "ack"
    for c in (comm, host):
        await c.disconnect()


async def test_the_meeting_ends_by_itself_at_ends_at_even_with_no_dashboard_command():
    m, qs = await setup_meeting()
    # Started by another (since restarted) process: no timer in this one yet.
    await sync_to_async(svc.apply_command)(m.pk, "goto", qs[K.POLL].pk)
    await _set(m, ends_at=timezone.now() + timedelta(seconds=1.5))
    alice, hello, _ = await participant(m)  # the first socket arms the end timer
    assert hello["meeting"]["state"] == "ongoing" and hello["meeting"]["ends_at"]
    host, _, _ = await host_socket(m)
    st = await recv_until(
        alice, "meeting.state", timeout=5, pred=lambda f: f["meeting"]["state"] == "after"
    )
    assert st["question"] is None
    hs = await recv_until(host, "host.state", pred=lambda f: f["meeting"]["state"] == "after")
    assert [p["status"] for p in hs["plan"]][1] == "closed"
    red = await sync_to_async(lambda: qs[K.POLL].choices.first().pk)()
    err = await call(alice, "vote", question_id=qs[K.POLL].pk, choice_id=red)
    assert err["code"] == "closed"
    for c in (alice, host):
        await c.disconnect()


async def test_a_write_after_ends_at_ends_the_meeting_when_no_timer_fired():
    m, qs = await setup_meeting(ends_at=timezone.now() + timedelta(hours=1))
    host, _, _ = await host_socket(m)
    alice, _, _ = await participant(m)
    assert (await call(host, "question.goto", question_id=qs[K.POLL].pk))["state"] == "ongoing"
    # The end moves into the past behind the server's back (no timer fires for an hour).
    await _set(m, ends_at=timezone.now() - timedelta(seconds=1))
    red = await sync_to_async(lambda: qs[K.POLL].choices.first().pk)()
    err = await call(alice, "vote", question_id=qs[K.POLL].pk, choice_id=red)
    assert err["code"] == "closed" and "ended" in err["message"]
    st = await recv_until(alice, "meeting.state", pred=lambda f: f["meeting"]["state"] == "after")
    assert st["scoreboard"] is not None
    await recv_until(host, "host.state", pred=lambda f: f["meeting"]["state"] == "after")
    assert await sync_to_async(Vote.objects.count)() == 0
    err = await call(host, "question.previous")
    assert err["code"] == "closed" and "change its end time" in err["message"]
    bob, ok, _ = await open_ws(f"/ws/meeting/{m.join_code}/")
    await recv(bob)
    err = await call(bob, "join", nickname="bob")
    assert err["code"] == "closed"
    for c in (host, alice, bob):
        await c.disconnect()


async def test_flag_after_ends_at_is_refused_and_ends_the_meeting():
    m, _ = await setup_meeting(ends_at=timezone.now() + timedelta(hours=1))
    alice, _, _ = await participant(m)
    await sync_to_async(svc.apply_command)(m.pk, "start")
    await _set(m, ends_at=timezone.now() - timedelta(seconds=1))
    err = await call(alice, "flag", code="s3cret")
    assert err["code"] == "closed"
    await recv_until(alice, "meeting.state", pred=lambda f: f["meeting"]["state"] == "after")
    await alice.disconnect()


@sync_to_async
def _chat_setup(**kw):
    from tests.meetings import standard

    m = standard(**kw)
    tw = source(platform="twitch", identifier="window")
    m.sources.set([tw])
    return m, tw


def _stored(events):
    from ingest.store import store_batch

    return store_batch(events).message_objects


async def test_chat_votes_are_refused_before_the_start_and_after_the_end():
    m, tw = await _chat_setup(starts_at=timezone.now() + timedelta(hours=1))
    report = await sync_to_async(process_chat)(
        await sync_to_async(_stored)([msg(tw, 1, "#A", who=author("t1", "sam", "Sam"))]), []
    )
    assert report[m.pk]["refused"] == 1 and report[m.pk]["accepted"] == 0
    # Open the window, run a poll, then let the end pass without any timer.
    await sync_to_async(svc.set_window)(m.pk, None, timezone.now() + timedelta(hours=1))
    poll = await sync_to_async(m.questions.get)(kind=K.POLL)
    await sync_to_async(svc.apply_command)(m.pk, "goto", poll.pk)
    host, _, _ = await host_socket(m)
    await _set(m, ends_at=timezone.now() - timedelta(seconds=1))
    await Pipeline(listeners=[on_batch]).process(
        [msg(tw, 2, "#B", who=author("t2", "zoe", "Zoe")), msg(tw, 3, "!flag s3cret")]
    )
    # The meeting ends first (the state), then the batch's summary: nothing counted.
    await recv_until(host, "host.state", pred=lambda f: f["meeting"]["state"] == "after")
    votes = await recv_until(host, "chat.votes")
    assert votes["accepted"] == 0 and votes["refused"] == 2
    assert (await sync_to_async(Meeting.objects.get)(pk=m.pk)).state == MeetingState.AFTER
    assert await sync_to_async(Vote.objects.count)() == 0
    await host.disconnect()
