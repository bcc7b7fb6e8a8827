"""Overlay sockets (/ws/overlay/<token>/) and pages, against the real ASGI app.

Token auth (no session, any or no Origin), revocation/regeneration, the hello state, removal on
platform deletion or moderator action, capture delay, display limit, coalescing, meeting frames.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from consumers.overlay_protocol import validate_overlay_frame
from ingest.events import ChatEvent, Kind
from ingest.models import ChatMessage
from ingest.pipeline import Pipeline
from ingest.services import update_message
from overlays import live, services
from overlays.models import DisplaySettings, Overlay
from tests.factories import author, msg, source
from tests.meetings import standard

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """One channel layer per test (each test has its own event loop; channels_redis binds its
    receive lock to a loop). Lets this file run on Redis too (REDIS_URL=...)."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
async def _close_thread_connections():
    yield
    # The ORM ran in asgiref's worker thread: close its connection (PostgreSQL teardown).
    from django.db import connections

    await sync_to_async(connections.close_all)()


async def ws(token: str, origin: str | None = None):
    from pollsite.asgi import application

    headers = [(b"host", b"127.0.0.1:8000")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    comm = WebsocketCommunicator(application, f"/ws/overlay/{token}/", headers=headers)
    ok, code = await comm.connect()
    return comm, ok, code


async def recv(comm, timeout=3) -> dict:
    """One frame, checked against the documented schemas. (A timeout ends the app under test.)"""
    frame = await comm.receive_json_from(timeout=timeout)
    validate_overlay_frame(frame)
    comm.seen = [*getattr(comm, "seen", []), frame["type"]]
    return frame


async def recv_until(comm, frame_type, timeout=3) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = await recv(comm, max(deadline - time.monotonic(), 0.01))
        if frame["type"] == frame_type:
            return frame


@sync_to_async
def setup(kind="featured", delay=0, limit=10):
    src = source(platform="twitch", identifier="chan")
    m = standard()
    m.sources.add(src)
    DisplaySettings.objects.create(
        meeting=m, rotation_seconds=3, display_limit=limit, capture_delay_seconds=delay
    )
    ov, token = services.create_overlay(meeting=m, kind=kind)
    mod = User.objects.create_user("mod", password="x" * 20, is_staff=True)
    return src, m, ov, token, mod


def pipeline():
    return Pipeline(listeners=[live.on_batch], flush_ms=5)


async def store(p, *events):
    await p.process(list(events))
    return await sync_to_async(lambda: {m.platform_message_id: m.pk for m in ChatMessage.objects.all()})()


async def select(mod, mid, **extra):
    await sync_to_async(update_message)(
        user=mod, message_id=mid, changes={"display_selected": True, **extra}
    )


async def test_wrong_revoked_and_regenerated_tokens_are_refused_with_4404():
    src, m, ov, token, mod = await setup()
    for bad in ("nope", token[:-1] + ("A" if token[-1] != "A" else "B"), "x" * 300):
        comm, ok, code = await ws(bad)
        assert not ok and code == 4404
    comm, ok, _ = await ws(token)
    assert ok
    hello = await recv(comm)
    assert hello["type"] == "hello" and hello["channel"] == "overlay"
    assert hello["overlay"]["kind"] == "featured"

    new_token = await sync_to_async(services.regenerate_token)(ov)
    await sync_to_async(live.overlay_changed)(ov.pk, close=True)
    assert (await recv(comm))["type"] == "overlay.revoked"
    closed = await comm.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4404}
    comm, ok, code = await ws(token)
    assert not ok and code == 4404
    comm, ok, _ = await ws(new_token)
    assert ok
    await recv(comm)

    await sync_to_async(services.revoke)(ov)
    await sync_to_async(live.overlay_changed)(ov.pk, close=True)
    assert (await recv(comm))["type"] == "overlay.revoked"
    comm2, ok, code = await ws(new_token)
    assert not ok and code == 4404


async def test_token_is_the_credential_no_origin_or_a_foreign_one_is_accepted():
    src, m, ov, token, mod = await setup()
    for origin in (None, "null", "file://", "https://elsewhere.example"):
        comm, ok, code = await ws(token, origin)
        assert ok, origin
        assert (await recv(comm))["type"] == "hello"
        await comm.disconnect()
    # Staff sockets still refuse a foreign Origin.
    from tests.ws import connect

    _, ok, _ = await connect("/ws/moderation/", mod, origin="https://evil.example")
    assert not ok


async def test_featured_message_in_hello_and_removed_within_a_second_on_platform_deletion():
    src, m, ov, token, mod = await setup()
    p = pipeline()
    ids = await store(p, msg(src, 1, text="<script>alert(1)</script>", id="a"), msg(src, 2, id="b"))
    await select(mod, ids["a"])
    await select(mod, ids["b"], pinned=True)

    comm, ok, _ = await ws(token)
    hello = await recv(comm)
    featured = hello["state"]["featured"]
    assert [x["id"] for x in featured["messages"]] == [ids["a"], ids["b"]]
    assert featured["messages"][0]["text"] == "<script>alert(1)</script>"
    assert featured["messages"][1]["pinned"] is True
    assert featured["rotation_seconds"] == 3
    assert "note" not in featured["messages"][0] and "reviewed_by" not in featured["messages"][0]

    t0 = time.monotonic()
    await p.process(
        [
            ChatEvent(
                kind=Kind.DELETION, platform="twitch", source_id=src.pk, id="del-1",
                target_message_id="a", sent_at=timezone.now(),
            )
        ]
    )
    frame = await recv_until(comm, "overlay.remove")
    assert frame["ids"] == [ids["a"]]
    assert time.monotonic() - t0 < 1.0
    state = await recv_until(comm, "featured.state")
    assert [x["id"] for x in state["messages"]] == [ids["b"]]


async def test_rotation_changed_through_the_api_reaches_open_featured_overlays():
    """/api/manage/update_rotation/ (one meeting, or every meeting) -> featured.state at once."""
    from ingest.models import ApiToken

    src, m, ov, token, mod = await setup()
    _, key = await sync_to_async(ApiToken.issue)(mod)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    comm, ok, _ = await ws(token)
    assert (await recv(comm))["state"]["featured"]["rotation_seconds"] == 3
    c = Client()
    r = await sync_to_async(c.post)(
        "/api/manage/update_rotation/", {"seconds": 17, "meeting": m.pk}, **auth
    )
    assert r.status_code == 200, r.content
    assert (await recv_until(comm, "featured.state", timeout=2))["rotation_seconds"] == 17
    r = await sync_to_async(c.post)("/api/manage/update_rotation/", {"seconds": 9}, **auth)
    assert r.status_code == 200, r.content
    assert (await recv_until(comm, "featured.state", timeout=2))["rotation_seconds"] == 9
    await comm.disconnect()


async def test_ban_ignore_and_unselect_remove_the_message_from_overlays():
    src, m, ov, token, mod = await setup()
    p = pipeline()
    ids = await store(
        p,
        msg(src, 1, id="a"),
        msg(src, 2, id="b"),
        msg(src, 3, id="c", who=author("u9", "troll", "Troll")),
    )
    for k in "abc":
        await select(mod, ids[k])
    comm, ok, _ = await ws(token)
    await recv(comm)

    await sync_to_async(update_message)(user=mod, message_id=ids["a"], changes={"status": "ignored"})
    assert (await recv_until(comm, "overlay.remove"))["ids"] == [ids["a"]]
    await sync_to_async(update_message)(
        user=mod, message_id=ids["b"], changes={"display_selected": False}
    )
    assert (await recv_until(comm, "overlay.remove"))["ids"] == [ids["b"]]
    await p.process(
        [
            ChatEvent(
                kind=Kind.BAN, platform="twitch", source_id=src.pk, id="ban-1",
                author=author("u9", "troll", "Troll"), sent_at=timezone.now(),
            )
        ]
    )
    assert (await recv_until(comm, "overlay.remove"))["ids"] == [ids["c"]]
    # A page that reconnects (network drop, OBS scene switch) gets the current state at once.
    again, ok, _ = await ws(token)
    assert (await recv(again))["state"]["featured"]["messages"] == []


async def test_display_limit_drops_the_oldest_unpinned_and_reorder_changes_the_order():
    src, m, ov, token, mod = await setup(limit=2)
    p = pipeline()
    ids = await store(p, msg(src, 1, id="a"), msg(src, 2, id="b"), msg(src, 3, id="c"))
    await select(mod, ids["a"], pinned=True)
    await select(mod, ids["b"])
    await select(mod, ids["c"])  # over the limit: b (oldest unpinned) leaves, pinned a stays
    selected = await sync_to_async(
        lambda: set(ChatMessage.objects.filter(display_selected=True).values_list("pk", flat=True))
    )()
    assert selected == {ids["a"], ids["c"]}

    comm, ok, _ = await ws(token)
    hello = await recv(comm)
    assert [x["id"] for x in hello["state"]["featured"]["messages"]] == [ids["a"], ids["c"]]
    # (reorder_display's display_reordered signal resends the featured state.)
    await sync_to_async(services.reorder_meeting)(m.pk, [ids["c"], ids["a"]], user=mod)
    state = await recv_until(comm, "featured.state")
    assert [x["id"] for x in state["messages"]] == [ids["c"], ids["a"]]
    with pytest.raises(services.ServiceError):
        await sync_to_async(services.reorder_meeting)(m.pk, [ids["b"]], user=mod)


async def test_capture_delay_holds_messages_back_from_ticker_and_featured():
    src, m, ov, token, mod = await setup(kind="ticker", delay=1)
    feat, ftoken = await sync_to_async(services.create_overlay)(meeting=m, kind="featured")
    p = pipeline()
    ticker, ok, _ = await ws(token)
    await recv(ticker)
    t0 = time.monotonic()
    ids = await store(p, msg(src, 1, text="hold me", id="a"))
    assert await ticker.receive_nothing(timeout=0.6)
    frame = await recv_until(ticker, "ticker.messages", timeout=2)
    assert frame["messages"][0]["text"] == "hold me"
    assert time.monotonic() - t0 >= 0.95

    ids = await store(p, msg(src, 2, text="quick", id="b"))
    featured, ok, _ = await ws(ftoken)
    await recv(featured)
    await select(mod, ids["b"])
    first = await recv_until(featured, "featured.state")
    assert first["messages"] == [] and first["held"] == 1 and first["release_at"]
    released = await recv_until(featured, "featured.state", timeout=3)
    assert [x["id"] for x in released["messages"]] == [ids["b"]]


async def test_deleted_during_capture_delay_never_reaches_the_ticker():
    src, m, ov, token, mod = await setup(kind="ticker", delay=1)
    p = pipeline()
    ticker, ok, _ = await ws(token)
    await recv(ticker)
    await store(p, msg(src, 1, text="bad words", id="a"), msg(src, 2, text="fine", id="b"))
    await p.process(
        [
            ChatEvent(
                kind=Kind.DELETION, platform="twitch", source_id=src.pk, id="d",
                target_message_id="a", sent_at=timezone.now(),
            )
        ]
    )
    frame = await recv_until(ticker, "ticker.messages", timeout=3)
    assert [x["text"] for x in frame["messages"]] == ["fine"]


async def test_removals_are_coalesced_to_about_ten_frames_a_second():
    src, m, ov, token, mod = await setup()
    comm, ok, _ = await ws(token)
    await recv(comm)
    h = live.hub()
    for i in range(1, 51):
        h.remove([i])
        await asyncio.sleep(0.01)
    got = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            f = await recv(comm, timeout=0.3)
        except TimeoutError:
            break
        got.append(f)
    assert sorted(i for f in got for i in f["ids"]) == list(range(1, 51))
    assert 2 <= len(got) <= 9  # ~0.6 s of removals -> at most one frame per 100 ms


async def test_paid_messages_become_chat_alerts_and_revolutions_reach_alerts_overlays():
    src, m, ov, token, mod = await setup(kind="alerts")
    comm, ok, _ = await ws(token)
    await recv(comm)
    p = pipeline()
    await store(
        p,
        msg(src, 1, text="plain", id="a"),
        msg(src, 2, text="take my money", id="b", kind=Kind.PAID, amount="5", currency="USD",
            amount_display="$5.00"),
    )
    frame = await recv_until(comm, "chat.alert")
    assert [(x["kind"], x["amount_display"]) for x in frame["messages"]] == [("paid", "$5.00")]
    from bots.engine import alerts_group
    from ingest.publish import publish

    await publish(alerts_group(m.pk), {
        "type": "alert", "kind": "revolution", "meeting_id": m.pk, "revolution_id": 1,
        "message": "Revolution!", "video_url": "/media/v.mp4",
    })
    assert (await recv_until(comm, "alert"))["message"] == "Revolution!"


async def test_question_overlay_gets_public_state_and_results_without_quiz_answers():
    from polls import live as polls_live
    from polls.services import apply_command

    src, m, ov, token, mod = await setup(kind="question")
    quiz = await sync_to_async(lambda: m.questions.get(kind="quiz").pk)()
    await sync_to_async(apply_command)(m.pk, "start")
    await sync_to_async(apply_command)(m.pk, "goto", quiz)
    comm, ok, _ = await ws(token)
    hello = await recv(comm)
    q = hello["state"]["meeting"]["question"]
    assert q["kind"] == "quiz" and all("correct" not in c for c in q["choices"])
    assert hello["state"]["meeting"]["results"]["total"] == 0
    assert "join_code" not in hello["state"]["meeting"]["meeting"]
    # The host group also carries host.state (plan, flags): never forwarded to an overlay.
    await polls_live.publish_state(m.pk)
    state = await recv_until(comm, "meeting.state")
    assert state["question"]["id"] == q["id"]
    polls_live.touch(m.pk)
    results = await recv_until(comm, "results")
    assert all("correct" not in c for c in results["results"]["choices"])
    assert "participants" not in results
    await sync_to_async(apply_command)(m.pk, "results")
    await polls_live.publish_state(m.pk)
    revealed = await recv_until(comm, "meeting.state")
    assert any(c.get("correct") for c in revealed["results"]["choices"])
    assert comm.seen and not {"host.state", "flag.captured", "chat.messages"} & set(comm.seen)


@pytest.mark.parametrize("kind", ["scoreboard", "wordcloud", "joincard"])
async def test_other_kinds_say_hello_with_their_state(kind):
    src, m, ov, token, mod = await setup(kind=kind)
    comm, ok, _ = await ws(token)
    hello = await recv(comm)
    if kind == "joincard":
        assert hello["state"]["join"]["code"] == m.join_code
    else:
        assert "scoreboard" in hello["state"]["meeting"]


# --- pages ---------------------------------------------------------------------------------------
def test_overlay_page_css_and_settings(django_db_setup):
    m = standard(title="<b>Show</b>")
    ov, token = services.create_overlay(meeting=m, kind="featured", name="</title><script>x()</script>")
    c = Client()
    r = c.get(f"/o/{token}/")
    assert r.status_code == 200
    assert "<script>x()" not in r.content.decode()
    assert "script-src 'self'" in r["Content-Security-Policy"]
    assert c.get("/o/wrong-token/").status_code == 404
    assert c.get(f"/o/{token}/custom.css").status_code == 200
    assert 'id="custom-css"' not in r.content.decode()  # no custom CSS yet: no <link>
    r = c.get(f"/o/{token}/?size=9999")
    assert r.status_code == 400 and b"size" in r.content
    r = c.get(f"/o/{token}/?theme=light&size=40&align=center")
    assert r.status_code == 200 and b'"size": 40' in r.content

    services.save_settings(ov, {"theme": "none"}, "</style><script>alert(1)</script> body{color:red}")
    r = c.get(f"/o/{token}/custom.css")
    assert r["Content-Type"].startswith("text/css") and r["X-Content-Type-Options"] == "nosniff"
    page = c.get(f"/o/{token}/").content.decode()
    assert "alert(1)" not in page and f'<link id="custom-css" rel="stylesheet" href="/o/{token}/custom.css">' in page
    with pytest.raises(services.ServiceError):
        services.save_settings(ov, {"font": "x; } body { background: url(javascript:1)"})
    services.revoke(ov)
    assert c.get(f"/o/{token}/").status_code == 404
    assert c.get(f"/o/{token}/custom.css").status_code == 404


def test_display_manager_actions_need_a_role_and_csrf(django_db_setup):
    src = source(platform="twitch", identifier="chan")
    m = standard()
    m.sources.add(src)
    plain = User.objects.create_user("plain", password="x" * 20)
    c = Client()
    c.force_login(plain)
    assert c.get(f"/overlays/{m.pk}/display/").status_code == 403
    assert c.get(f"/overlays/{m.pk}/").status_code == 403
    boss = User.objects.create_user("boss", password="x" * 20, is_staff=True)
    c = Client(enforce_csrf_checks=True)
    c.force_login(boss)
    assert c.get(f"/overlays/{m.pk}/display/").status_code == 200
    r = c.post(f"/overlays/{m.pk}/display/settings/", {"rotation_seconds": 5},
               content_type="application/json")
    assert r.status_code == 403  # no CSRF token
    c = Client()
    c.force_login(boss)
    r = c.post(f"/overlays/{m.pk}/display/settings/",
               {"rotation_seconds": 0}, content_type="application/json")
    assert r.status_code == 400 and "rotation_seconds" in r.json()["detail"]
    r = c.post(f"/overlays/{m.pk}/display/settings/",
               {"rotation_seconds": 7, "display_limit": 3, "capture_delay_seconds": 2},
               content_type="application/json")
    assert r.status_code == 200 and r.json()["settings"]["rotation_seconds"] == 7
    r = c.post(f"/overlays/{m.pk}/", {"action": "create", "kind": "ticker", "name": "Bottom"})
    assert r.status_code == 200
    ov = Overlay.objects.get(meeting=m, kind="ticker")
    assert ov.token and ov.token_hash == services.hash_token(ov.token)
    assert f"/o/{ov.token}/" in r.content.decode()
    # Only the hash and the encrypted token are in the database, never the token in clear.
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT token_secret FROM overlays_overlay WHERE id = %s", [ov.pk])
        assert ov.token not in cur.fetchone()[0]
    before = timezone.now() - timedelta(seconds=1)
    assert ov.token_issued_at > before


async def test_a_stuck_overlay_client_delays_nobody_and_is_closed():
    """The relay hands frames to per-socket outboxes: a socket whose send never completes
    (full TCP buffer) does not hold up the others, and is closed when its outbox overflows."""
    from overlays.fanout import OUTBOX_LIMIT, Member

    class Fake(Member):
        def __init__(self, stuck):
            self.relay_setup()
            self.relay_release()
            self.stuck, self.sent, self.closed = stuck, [], None

        async def send(self, text_data):
            if self.stuck:
                await asyncio.Event().wait()  # never returns
            self.sent.append(text_data)

        async def close(self, code=None):
            self.closed = code

    stuck, fine = Fake(True), Fake(False)
    for i in range(OUTBOX_LIMIT + 5):
        for m in (stuck, fine):
            m.relay_text(f"frame {i}")
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    assert len(fine.sent) == OUTBOX_LIMIT + 5
    assert stuck.closed == 4000 and not stuck._outbox and stuck._drainer.cancelled()
