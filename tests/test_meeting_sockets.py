"""Meeting websockets: every client frame and server frame, permissions, throttled results."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User

from consumers.meeting_protocol import validate_meeting_frame
from polls.models import Meeting, Participant, Vote
from polls.models import QuestionKind as K
from tests.meetings import standard
from tests.ws import session_cookie

pytestmark = [pytest.mark.django_db(transaction=True)]


@sync_to_async
def make_user(name, *, staff=False, groups=()):
    user = User.objects.create_user(name, password="x" * 20, is_staff=staff)
    for g in groups:
        user.groups.add(Group.objects.get_or_create(name=g)[0])
    return user


async def open_ws(path, user=None, origin="http://127.0.0.1:8000", client=None):
    from pollsite.asgi import application

    app = application
    if client is not None:  # the client address the ASGI server would put in the scope

        async def app(scope, receive, send):
            await application({**scope, "client": (client, 40000)}, receive, send)

    headers = [(b"origin", origin.encode()), (b"host", b"127.0.0.1:8000")]
    if user is not None:
        headers.append((b"cookie", (await session_cookie(user)).encode()))
    comm = WebsocketCommunicator(app, path, headers=headers)
    ok, code = await comm.connect()
    comm.channel = "meeting-host" if path.startswith("/ws/host/") else "meeting"
    return comm, ok, code


async def recv(comm, timeout=3):
    frame = await comm.receive_json_from(timeout=timeout)
    validate_meeting_frame(frame, comm.channel)
    return frame


async def recv_until(comm, ftype, timeout=3, pred=None):
    while True:
        frame = await recv(comm, timeout)
        if frame["type"] == ftype and (pred is None or pred(frame)):
            return frame


async def call(comm, ftype, ref=None, **fields):
    ref = ref or f"r-{ftype}"
    await comm.send_json_to({"type": ftype, "ref": ref, **fields})
    while True:
        frame = await recv(comm)
        if frame["type"] in ("ack", "error") and frame["ref"] == ref:
            return frame


async def setup_meeting(**kw):
    m = await sync_to_async(standard)(**kw)
    ids = await sync_to_async(
        lambda: {q.kind: q for q in m.questions.prefetch_related("choices")}
    )()
    return m, ids


async def host_socket(m, name="host", **kw):
    user = await make_user(name, groups=["host"], **kw)
    comm, ok, code = await open_ws(f"/ws/host/{m.pk}/", user)
    assert ok, code
    hello = await recv(comm)
    return comm, hello, user


async def participant(m, nickname="alice", client=None):
    comm, ok, code = await open_ws(f"/ws/meeting/{m.join_code.lower()}/", client=client)
    assert ok, code
    hello = await recv(comm)
    ack = await call(comm, "join", nickname=nickname)
    assert ack["type"] == "ack", ack
    return comm, hello, ack


# --- connection and permissions -------------------------------------------------------------
async def test_host_socket_refuses_anonymous_plain_users_foreign_origin_and_unknown_meeting():
    m, _ = await setup_meeting()
    _, ok, code = await open_ws(f"/ws/host/{m.pk}/")
    assert not ok and code == 4401
    plain = await make_user("plain")
    _, ok, code = await open_ws(f"/ws/host/{m.pk}/", plain)
    assert not ok and code == 4403
    host = await make_user("h", groups=["host"])
    _, ok, code = await open_ws(f"/ws/host/{m.pk}/", host, origin="https://evil.example")
    assert not ok
    _, ok, code = await open_ws("/ws/host/999999/", host)
    assert not ok and code == 4404
    _, ok, code = await open_ws("/ws/meeting/NOPE99/")
    assert not ok and code == 4404


async def test_participant_join_resume_me_ping_and_acting_before_join():
    m, qs = await setup_meeting()
    comm, ok, _ = await open_ws(f"/ws/meeting/{m.join_code}/")
    hello = await recv(comm)
    assert hello["type"] == "hello" and hello["channel"] == "meeting"
    assert hello["meeting"]["state"] == "before" and "join_code" not in hello["meeting"]
    err = await call(comm, "vote", question_id=qs[K.POLL].pk, choice_id=1)
    assert err["type"] == "error" and err["code"] == "forbidden"
    err = await call(comm, "me")
    assert err["code"] == "forbidden"
    assert (await call(comm, "ping"))["pong"] is True
    err = await call(comm, "join", nickname="")
    assert err["code"] == "invalid" and err["details"][0]["field"] == "nickname"
    ack = await call(comm, "join", nickname="  Alice   B ")
    token = ack["token"]
    assert ack["me"]["nickname"] == "Alice B" and ack["me"]["score"] == 0
    await comm.disconnect()
    # Reload: same identity from the token, not from the nickname.
    comm, ok, _ = await open_ws(f"/ws/meeting/{m.join_code}/")
    await recv(comm)
    err = await call(comm, "resume", token="not-a-real-token")
    assert err["code"] == "unknown_token"
    ack = await call(comm, "resume", token=token)
    assert ack["me"]["id"] == ack["me"]["id"] and ack["me"]["nickname"] == "Alice B"
    me = await call(comm, "me")
    assert me["me"]["id"] == ack["me"]["id"]
    assert await sync_to_async(Participant.objects.count)() == 1
    await comm.disconnect()


async def test_wrong_flags_are_limited_per_address_and_a_socket_joins_only_once(settings):
    from django.core.cache import cache

    from polls import flag_guard

    settings.FLAG_ATTEMPTS_PER_ADDRESS = 3
    m, _ = await setup_meeting()
    for ip in ("10.0.0.7", "10.0.0.8"):
        await sync_to_async(cache.delete)(flag_guard._key(m.pk, ip))
    host, _, _ = await host_socket(m)
    await call(host, "meeting.start")
    alice, _, _ = await participant(m, "alice", client="10.0.0.7")
    # A second identity on the same socket (fresh per-participant limits) is refused.
    assert (await call(alice, "join", nickname="alice2"))["code"] == "conflict"
    assert (await call(alice, "resume", token="x" * 20))["code"] == "conflict"
    # New identities from the same address share the address's budget of wrong codes.
    bob, _, _ = await participant(m, "bob", client="10.0.0.7")
    for who, code in ((alice, "guess1"), (alice, "guess2"), (bob, "guess3")):
        assert (await call(who, "flag", code=code))["code"] == "wrong"
    carol, _, _ = await participant(m, "carol", client="10.0.0.7")
    err = await call(carol, "flag", code="s3cret")
    assert err["code"] == "rate_limited" and "network" in err["message"]
    # Another address is not affected, and the right code still scores there.
    dave, _, _ = await participant(m, "dave", client="10.0.0.8")
    assert (await call(dave, "flag", code="s3cret"))["points"] == 15
    for c in (host, alice, bob, carol, dave):
        await c.disconnect()


async def test_oversized_frames_and_floods_are_refused_on_participant_sockets():
    m, _ = await setup_meeting()
    comm, _, _ = await participant(m)
    # 16 KiB is a limit in bytes: 9,000 "é" are 18,000 bytes in UTF-8.
    for pad in ("x" * 20_000, "é" * 9_000):
        frame = {"type": "ping", "ref": "big", "pad": pad}
        await comm.send_to(text_data=json.dumps(frame, ensure_ascii=False))
        err = await recv(comm)
        assert err["code"] == "frame_too_large", err
    assert (await call(comm, "ping"))["type"] == "ack"  # the socket lives
    # A flood: past the burst frames are refused; a client that keeps flooding is closed (4429).
    for i in range(300):
        await comm.send_json_to({"type": "ping", "ref": i})
    codes = []
    while True:
        out = await comm.receive_output(timeout=3)
        if out["type"] == "websocket.close":
            break
        codes.append(json.loads(out["text"]).get("code") or "ack")
    assert out["code"] == 4429
    assert codes.count("ack") <= 45 and codes.count("rate_limited") >= 150
    await comm.disconnect()


async def test_bad_frames_get_error_frames_and_socket_lives():
    m, _ = await setup_meeting()
    comm, _, _ = await participant(m)
    await comm.send_to(text_data="{nope")
    assert (await recv(comm))["code"] == "bad_json"
    await comm.send_json_to({"type": "launch.missiles"})
    err = await recv(comm)
    assert err["code"] == "unknown_type" and "vote" in err["message"]
    err = await call(comm, "vote", question_id="x", choice_id=1)
    assert err["code"] == "invalid"
    err = await call(comm, "vote", question_id=1, choice_id=1, participant_id=5)
    assert err["code"] == "invalid"  # nobody can act as someone else: no such field
    assert (await call(comm, "ping"))["type"] == "ack"
    await comm.disconnect()


async def test_full_host_flow_every_command_and_participant_frames():
    m, qs = await setup_meeting(first_correct_bonus=1)
    host, hello, _ = await host_socket(m)
    assert hello["role"] == "control" and hello["channel"] == "meeting-host"
    assert hello["meeting"]["join_code"] == m.join_code and len(hello["plan"]) == 5
    assert hello["participants"] == 0 and hello["chat"] == []
    alice, _, a_ack = await participant(m, "alice")
    bob, _, _ = await participant(m, "bob")
    live = await recv_until(host, "results", pred=lambda f: f["participants"] == 2)
    assert live["participants"] == 2

    assert (await call(host, "meeting.start"))["state"] == "waiting"
    st = await recv_until(alice, "meeting.state")
    assert st["meeting"]["state"] == "waiting"
    assert (await call(host, "question.next"))["state"] == "waiting"  # text slide
    st = await recv_until(alice, "meeting.state")
    assert st["question"]["kind"] == "text"
    err = await call(host, "question.close")
    assert err["code"] == "conflict" and "text slide" in err["message"]

    # Poll: vote, change, close, results.
    assert (await call(host, "question.next"))["state"] == "ongoing"
    hs = await recv_until(host, "host.state")
    assert [p["status"] for p in hs["plan"]][:2] == ["pending", "open"]
    st = await recv_until(alice, "meeting.state")
    poll = st["question"]
    assert poll["kind"] == "poll" and [c["token"] for c in poll["choices"]] == ["A", "B", "C"]
    red, green = poll["choices"][0]["id"], poll["choices"][1]["id"]
    assert (await call(alice, "vote", question_id=poll["id"], choice_id=red))["result"] == "ok"
    assert (await call(alice, "vote", question_id=poll["id"], choice_id=green))[
        "result"
    ] == "changed"
    assert (await call(bob, "vote", question_id=poll["id"], choice_id=green))["result"] == "ok"
    err = await call(bob, "vote", question_id=poll["id"], choice_id=qs[K.QUIZ].choices.all()[0].pk)
    assert err["code"] == "invalid"
    err = await call(bob, "rate", question_id=poll["id"], value=3)
    assert err["code"] == "invalid"
    live = await recv_until(
        host, "results", pred=lambda f: f["results"] and f["results"]["total"] == 2
    )
    assert [c["count"] for c in live["results"]["choices"]] == [0, 2, 0]
    assert (await call(host, "question.close"))["state"] == "waiting"
    err = await call(bob, "vote", question_id=poll["id"], choice_id=red)
    assert err["code"] == "closed"
    assert (await call(host, "show.results"))["state"] == "results"
    st = await recv_until(alice, "meeting.state", pred=lambda f: f["meeting"]["state"] == "results")
    assert [c["count"] for c in st["results"]["choices"]] == [0, 2, 0]

    # Quiz: bonus for the first correct answer; correct answers hidden until the results.
    assert (await call(host, "question.next"))["state"] == "ongoing"
    st = await recv_until(bob, "meeting.state", pred=lambda f: f["question"]["kind"] == "quiz")
    assert all("correct" not in c for c in st["question"]["choices"])
    quiz = qs[K.QUIZ]
    four = await sync_to_async(lambda: quiz.choices.get(text="4").pk)()
    three = await sync_to_async(lambda: quiz.choices.get(text="3").pk)()
    assert (await call(bob, "vote", question_id=quiz.pk, choice_id=four))["result"] == "ok"
    assert (await call(alice, "vote", question_id=quiz.pk, choice_id=three))["result"] == "ok"
    err = await call(alice, "vote", question_id=quiz.pk, choice_id=four)
    assert err["code"] == "duplicate"
    assert (await call(host, "show.results"))["state"] == "results"
    st = await recv_until(bob, "meeting.state", pred=lambda f: f["meeting"]["state"] == "results")
    assert {c["text"]: c["correct"] for c in st["question"]["choices"]}["4"] is True
    me = await call(bob, "me")
    assert me["me"]["score"] == 2 and me["me"]["answer"]["correct"] is True

    # Word cloud.
    assert (await call(host, "question.next"))["state"] == "ongoing"
    wc = qs[K.WORDCLOUD].pk
    assert (await call(alice, "word", question_id=wc, word="Hello"))["result"] == "ok"
    err = await call(alice, "word", question_id=wc, word="hello!")
    assert err["code"] == "duplicate"
    err = await call(alice, "word", question_id=wc, word="SPAM")
    assert err["code"] == "blocked"
    # Rating.
    assert (await call(host, "question.next"))["state"] == "ongoing"
    rt = qs[K.RATING].pk
    assert (await call(alice, "rate", question_id=rt, value=4))["result"] == "ok"
    err = await call(bob, "rate", question_id=rt, value=11)
    assert err["code"] == "invalid"
    # Previous / goto / reopen / scoreboard / reorder / end.
    assert (await call(host, "question.previous"))["state"] == "results"
    assert (await call(host, "question.reopen"))["state"] == "ongoing"
    assert (await call(host, "question.goto", question_id=qs[K.POLL].pk))["state"] == "results"
    err = await call(host, "question.goto", question_id=999999)
    assert err["code"] == "not_found"
    assert (await call(host, "show.scoreboard"))["state"] == "scoreboard"
    st = await recv_until(
        alice, "meeting.state", pred=lambda f: f["meeting"]["state"] == "scoreboard"
    )
    assert st["scoreboard"][0]["nickname"] == "bob" and st["scoreboard"][0]["score"] == 2
    order = [p["id"] for p in hs["plan"]][::-1]
    assert (await call(host, "plan.reorder", order=order))["type"] == "ack"
    hs = await recv_until(host, "host.state", pred=lambda f: [p["id"] for p in f["plan"]] == order)
    err = await call(host, "plan.reorder", order=order[:2])
    assert err["code"] == "invalid"
    state = await call(host, "state.get")
    assert state["state"]["meeting"]["state"] == "scoreboard"
    assert (await call(host, "meeting.end"))["state"] == "after"
    st = await recv_until(alice, "meeting.state", pred=lambda f: f["meeting"]["state"] == "after")
    assert st["scoreboard"][0]["nickname"] == "bob"
    err = await call(host, "question.next")
    assert err["code"] == "conflict"
    assert (await call(host, "ping"))["pong"]
    for c in (host, alice, bob):
        await c.disconnect()


async def test_flag_frames_and_live_capture_on_dashboard():
    m, _ = await setup_meeting()
    host, _, _ = await host_socket(m)
    await call(host, "meeting.start")
    alice, _, _ = await participant(m)
    ack = await call(alice, "flag", code="FLAG{s3cret}")
    assert ack["points"] == 15 and ack["first_blood"] is True and ack["flag"] == "Hidden"
    cap = await recv_until(host, "flag.captured")
    assert cap["captures"][0]["participant"]["nickname"] == "alice"
    err = await call(alice, "flag", code="s3cret")
    assert err["code"] == "already"
    err = await call(alice, "flag", code="wrong")
    assert err["code"] == "wrong"
    for c in (host, alice):
        await c.disconnect()


async def test_second_dashboard_is_read_only_until_it_takes_control():
    m, _ = await setup_meeting()
    first, hello, _ = await host_socket(m, "first")
    assert hello["role"] == "control"
    second, hello2, _ = await host_socket(m, "second", staff=True)
    assert hello2["role"] == "view" and hello2["meeting"]["controller"] == "first"
    err = await call(second, "meeting.start")
    assert err["code"] == "forbidden"
    assert (await call(second, "state.get"))["type"] == "ack"
    ack = await call(second, "control.take")
    assert ack["role"] == "control"
    ctl = await recv_until(first, "control")
    assert ctl["controller"] == "second"
    assert (await call(second, "meeting.start"))["state"] == "waiting"
    err = await call(first, "question.next")
    assert err["code"] == "forbidden"
    # Closing a dashboard never stops the meeting.
    await second.disconnect()
    assert (await sync_to_async(Meeting.objects.get)(pk=m.pk)).state == "waiting"
    await first.disconnect()


async def test_role_revoked_while_socket_open_is_checked_on_every_command():
    m, _ = await setup_meeting()
    host, _, user = await host_socket(m)
    await sync_to_async(user.groups.clear)()
    err = await call(host, "meeting.start")
    assert err["code"] == "forbidden"
    await host.disconnect()


async def test_burst_results_are_throttled_and_the_final_count_always_arrives():
    m, qs = await setup_meeting()
    host, _, _ = await host_socket(m)
    await call(host, "question.next")
    await call(host, "question.next")  # poll open
    poll = qs[K.POLL]
    red = await sync_to_async(lambda: poll.choices.first().pk)()
    n = 60
    t0 = asyncio.get_running_loop().time()
    people = [await participant(m, f"p{i}") for i in range(n)]
    for comm, _, _ in people:
        await comm.send_json_to(
            {"type": "vote", "ref": "v", "question_id": poll.pk, "choice_id": red}
        )
    for comm, _, _ in people:
        ack = await recv_until(comm, "ack")
        assert ack["result"] == "ok"
    frames = []
    while True:
        f = await recv_until(host, "results")
        frames.append(f)
        if f["results"] and f["results"]["total"] == n:
            break
    elapsed = asyncio.get_running_loop().time() - t0
    # At most ~10 frames per second (+1 for the leading edge), and the last one is complete.
    # Joins and votes together: at most ~10 frames a second (+1 leading edge), none per vote.
    assert len(frames) <= elapsed * 10 + 2, (len(frames), elapsed)
    assert frames[-1]["participants"] == n
    assert frames[-1]["results"]["choices"][0]["count"] == n
    assert await sync_to_async(Vote.objects.filter(question=poll).count)() == n
    for comm, _, _ in people:
        await comm.disconnect()
    await host.disconnect()


async def test_question_timer_closes_answers_without_any_dashboard_command():
    m, qs = await setup_meeting()
    poll = qs[K.POLL]
    poll.timer_seconds = 1
    await sync_to_async(poll.save)()
    host, _, _ = await host_socket(m)
    alice, _, _ = await participant(m)
    await call(host, "question.goto", question_id=poll.pk)
    st = await recv_until(alice, "meeting.state", pred=lambda f: f["question"]["status"] == "open")
    assert st["question"]["closes_at"] is not None and st["question"]["timer_seconds"] == 1
    await host.disconnect()  # closing the dashboard does not stop the timer
    st = await recv_until(
        alice, "meeting.state", timeout=5, pred=lambda f: f["question"]["status"] == "closed"
    )
    assert st["meeting"]["state"] == "waiting"
    red = await sync_to_async(lambda: poll.choices.first().pk)()
    err = await call(alice, "vote", question_id=poll.pk, choice_id=red)
    assert err["code"] == "closed"
    await alice.disconnect()


async def test_after_a_restart_an_expired_timer_closes_the_question_when_someone_connects():
    from datetime import timedelta

    from django.utils import timezone

    from polls import services as svc
    from polls.models import Question

    m, qs = await setup_meeting()
    poll = qs[K.POLL]
    poll.timer_seconds = 5
    await sync_to_async(poll.save)()
    # The question was opened by a server process that has since died (no timer in this one).
    await sync_to_async(svc.apply_command)(m.pk, "goto", poll.pk)
    past = timezone.now() - timedelta(seconds=30)
    await sync_to_async(Question.objects.filter(pk=poll.pk).update)(
        opened_at=past, closes_at=past + timedelta(seconds=5)
    )
    alice, hello, _ = await participant(m)
    assert hello["meeting"]["state"] == "ongoing"
    st = await recv_until(
        alice, "meeting.state", pred=lambda f: f["question"]["status"] == "closed"
    )
    assert st["meeting"]["state"] == "waiting"
    await alice.disconnect()


# --- editing the plan from the dashboard: question.update / question.delete ------------------
async def test_controller_edits_the_current_question_and_participants_see_it():
    m, qs = await setup_meeting(first_correct_bonus=0)
    poll = qs[K.POLL]
    host, _, _ = await host_socket(m)
    alice, _, _ = await participant(m, "alice")
    await call(host, "question.goto", question_id=poll.pk)
    st = await recv_until(alice, "meeting.state", pred=lambda f: f["question"]["status"] == "open")
    red, green, blue = (c["id"] for c in st["question"]["choices"])
    version = st["meeting"]["version"]
    # No answer yet: the choices can change (one renamed, one removed, one added, new order).
    ack = await call(
        host,
        "question.update",
        question_id=poll.pk,
        text="Favourite <b>colour</b>?",
        timer_seconds=None,
        choices=[{"id": blue, "text": "Blue"}, {"id": red, "text": "Crimson"}, {"text": "Gold"}],
    )
    assert ack["type"] == "ack" and ack["question_id"] == poll.pk, ack
    st = await recv_until(alice, "meeting.state", pred=lambda f: f["meeting"]["version"] > version)
    assert st["question"]["text"] == "Favourite <b>colour</b>?"  # data, never HTML
    assert [(c["token"], c["text"]) for c in st["question"]["choices"]] == [
        ("A", "Blue"),
        ("B", "Crimson"),
        ("C", "Gold"),
    ]
    assert all("correct" not in c for c in st["question"]["choices"])  # still hidden
    hs = await recv_until(
        host, "host.state", pred=lambda f: f["plan"][1]["text"] == "Favourite <b>colour</b>?"
    )
    assert [c["text"] for c in hs["plan"][1]["choices"]] == ["Blue", "Crimson", "Gold"]
    err = await call(alice, "vote", question_id=poll.pk, choice_id=green)  # removed
    assert err["code"] == "invalid"
    assert (await call(alice, "vote", question_id=poll.pk, choice_id=blue))["result"] == "ok"
    # Answered: the text and timer may still change, the choices not.
    err = await call(
        host, "question.update", question_id=poll.pk, choices=[{"text": "x"}, {"text": "y"}]
    )
    assert err["code"] == "conflict" and "already has answers" in err["message"]
    err = await call(host, "question.update", question_id=poll.pk, kind="quiz")
    assert err["code"] == "invalid" and "kind" in err["message"]
    ack = await call(host, "question.update", question_id=poll.pk, text="Colour?", timer_seconds=60)
    assert ack["type"] == "ack"
    st = await recv_until(alice, "meeting.state", pred=lambda f: f["question"]["text"] == "Colour?")
    assert st["question"]["timer_seconds"] == 60
    for c in (host, alice):
        await c.disconnect()


async def test_controller_deletes_a_question_and_its_points_leave_the_scoreboard():
    m, qs = await setup_meeting(first_correct_bonus=1)
    quiz = qs[K.QUIZ]
    host, _, _ = await host_socket(m)
    bob, _, _ = await participant(m, "bob")
    await call(host, "question.goto", question_id=quiz.pk)
    four = await sync_to_async(lambda: quiz.choices.get(text="4").pk)()
    assert (await call(bob, "vote", question_id=quiz.pk, choice_id=four))["result"] == "ok"
    err = await call(host, "question.delete", question_id=quiz.pk)
    assert err["code"] == "conflict" and "on screen" in err["message"]
    assert (await call(host, "show.scoreboard"))["state"] == "scoreboard"
    st = await recv_until(
        bob, "meeting.state", pred=lambda f: f["meeting"]["state"] == "scoreboard"
    )
    assert st["scoreboard"][0]["score"] == 2 and st["position"]["total"] == 5
    assert (await call(host, "question.goto", question_id=qs[K.POLL].pk))["type"] == "ack"
    ack = await call(host, "question.delete", question_id=quiz.pk)
    assert ack["points_removed"] == 2 and ack["participants"] == 1, ack
    hs = await recv_until(host, "host.state", pred=lambda f: len(f["plan"]) == 4)
    assert quiz.pk not in [p["id"] for p in hs["plan"]]
    assert hs["scoreboard"][0]["nickname"] == "bob" and hs["scoreboard"][0]["score"] == 0
    st = await recv_until(bob, "meeting.state", pred=lambda f: f["position"]["total"] == 4)
    assert (await call(bob, "me"))["me"]["score"] == 0
    err = await call(host, "question.delete", question_id=quiz.pk)
    assert err["code"] == "not_found"
    for c in (host, bob):
        await c.disconnect()


async def test_read_only_dashboard_cannot_edit_or_delete_questions():
    m, qs = await setup_meeting()
    first, _, _ = await host_socket(m, "first")
    viewer, hello, _ = await host_socket(m, "viewer")
    assert hello["role"] == "view"
    poll = qs[K.POLL]
    err = await call(viewer, "question.update", question_id=poll.pk, text="hijacked")
    assert err["code"] == "forbidden"
    err = await call(viewer, "question.delete", question_id=poll.pk)
    assert err["code"] == "forbidden"
    poll = await sync_to_async(type(poll).objects.get)(pk=poll.pk)
    assert poll.text == "Favourite colour?"
    # A participant socket has no such commands at all.
    alice, _, _ = await participant(m)
    err = await call(alice, "question.delete", question_id=poll.pk)
    assert err["code"] == "unknown_type"
    for c in (first, viewer, alice):
        await c.disconnect()


async def test_malformed_plan_edits_get_error_frames_and_the_socket_lives():
    m, qs = await setup_meeting()
    host, _, _ = await host_socket(m)
    poll = qs[K.POLL].pk
    for fields, field in (
        ({"question_id": "x"}, "question_id"),
        ({}, "question_id"),
        ({"question_id": poll, "status": "closed"}, "status"),
        ({"question_id": poll, "timer_seconds": 0}, "timer_seconds"),
        ({"question_id": poll, "timer_seconds": 3601}, "timer_seconds"),
        ({"question_id": poll, "text": ""}, "text"),
        ({"question_id": poll, "choices": [{"text": "alone"}]}, "choices"),
        ({"question_id": poll, "choices": [{"text": "a"}, {"txt": "b"}]}, "choices.1.text"),
        ({"question_id": poll, "choices": "A,B"}, "choices"),
        ({"question_id": poll, "kind": "essay"}, "kind"),
    ):
        err = await call(host, "question.update", **fields)
        assert err["code"] == "invalid", (fields, err)
        assert field in [d["field"] for d in err["details"]], (fields, err["details"])
    err = await call(host, "question.delete", question_id=-1)
    assert err["code"] == "invalid"
    err = await call(host, "question.update", question_id=999999, text="x")
    assert err["code"] == "not_found"
    err = await call(host, "question.update", question_id=poll, rating_max=7)
    assert err["code"] == "invalid" and "has no rating_max" in err["message"]
    await host.send_to(text_data='{"type": "question.update", "question_id": ')
    assert (await recv(host))["code"] == "bad_json"
    assert (await call(host, "ping"))["pong"] is True
    await host.disconnect()
