"""The moderation dashboard socket: auth, live chat, commands, bad frames."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, User

from ingest.models import ChatMessage, MessageAction
from ingest.pipeline import Pipeline
from ingest.store import store_batch
from tests.factories import msg, source
from tests.ws import connect, receive, receive_until

pytestmark = [pytest.mark.django_db(transaction=True)]


@sync_to_async
def make_user(name, *, staff=False, groups=()):
    user = User.objects.create_user(name, password="x" * 20, is_staff=staff)
    for g in groups:
        user.groups.add(Group.objects.get_or_create(name=g)[0])
    return user


async def test_anonymous_and_plain_users_are_refused():
    comm, ok, code = await connect("/ws/moderation/")
    assert not ok and code == 4401
    plain = await make_user("plain")
    comm, ok, code = await connect("/ws/moderation/", plain)
    assert not ok and code == 4403


async def test_foreign_origin_is_refused():
    mod = await make_user("mod", groups=["moderator"])
    comm, ok, code = await connect("/ws/moderation/", mod, origin="https://evil.example")
    assert not ok


async def test_moderator_sees_live_chat_and_changes_reach_every_dashboard():
    mod = await make_user("mod", groups=["moderator"])
    other = await make_user("boss", staff=True)
    src = await sync_to_async(source)()
    a, ok, _ = await connect("/ws/moderation/", mod)
    assert ok
    hello = await receive(a)
    assert hello["type"] == "hello" and hello["user"] == "mod"
    b, ok, _ = await connect("/ws/moderation/", other)
    await receive(b)

    pipeline = Pipeline(listeners=[])
    await pipeline.process([msg(src, 1, text="<b>hi</b>")])
    frame = await receive_until(a, "chat.messages")
    assert frame["messages"][0]["text"] == "<b>hi</b>"
    mid = frame["messages"][0]["id"]
    await receive_until(b, "chat.messages")

    await a.send_json_to(
        {
            "type": "message.update",
            "ref": "r1",
            "message_id": mid,
            "status": "reviewed",
            "note": "ok",
        }
    )
    ack = await receive_until(a, "ack")
    assert ack["ref"] == "r1" and ack["message"]["status"] == "reviewed"
    update = await receive_until(b, "message.updated")
    assert update["by"] == "mod" and update["changes"] == {"status": "reviewed", "note": "ok"}
    action = await sync_to_async(MessageAction.objects.select_related("user").get)()
    assert action.user.username == "mod" and action.changes["status"] == ["new", "reviewed"]
    m = await sync_to_async(ChatMessage.objects.get)(pk=mid)
    assert m.reviewed_by_id == mod.pk and m.reviewed_at is not None
    for c in (a, b):
        await c.disconnect()


async def test_bad_frames_get_errors_and_the_socket_lives():
    mod = await make_user("mod", groups=["moderator"])
    comm, ok, _ = await connect("/ws/moderation/", mod)
    await receive(comm)
    cases = [
        ("not json", "bad_json"),
        ("[1,2]", "bad_frame"),
        ('{"type": "launch.missiles"}', "unknown_type"),
        ('{"type": "message.update", "message_id": "x"}', "invalid"),
        ('{"type": "message.update", "message_id": 999999, "status": "sent"}', "not_found"),
        ('{"type": "ping", "pad": "' + "x" * 20000 + '"}', "frame_too_large"),
    ]
    for text, code in cases:
        await comm.send_to(text_data=text)
        frame = await receive_until(comm, "error")
        assert frame["code"] == code, (text[:40], frame)
    await comm.send_json_to({"type": "ping", "ref": 7})
    assert (await receive_until(comm, "ack"))["ref"] == 7
    await comm.disconnect()


async def test_permission_is_checked_on_every_command():
    mod = await make_user("mod", groups=["moderator"])
    src = await sync_to_async(source)()
    await sync_to_async(store_batch)([msg(src, 1)])
    mid = (await sync_to_async(ChatMessage.objects.get)()).pk
    comm, ok, _ = await connect("/ws/moderation/", mod)
    await receive(comm)
    await sync_to_async(mod.groups.clear)()  # role revoked while the socket is open
    await comm.send_json_to(
        {"type": "message.update", "ref": "x", "message_id": mid, "status": "ignored"}
    )
    frame = await receive_until(comm, "error")
    assert frame["code"] == "forbidden"
    assert (await sync_to_async(ChatMessage.objects.get)()).status == "new"
    await comm.disconnect()


async def test_flood_is_refused():
    mod = await make_user("mod", groups=["moderator"])
    comm, ok, _ = await connect("/ws/moderation/", mod)
    await receive(comm)
    for i in range(80):
        await comm.send_json_to({"type": "ping", "ref": i})
    codes = []
    for _ in range(80):
        f = await receive(comm)
        codes.append(f.get("code") or f["type"])
    assert "rate_limited" in codes and codes.count("ack") < 80
    await comm.disconnect()


async def test_query_pages_through_filtered_messages():
    mod = await make_user("mod", groups=["moderator"])
    src = await sync_to_async(source)()
    await sync_to_async(store_batch)([msg(src, i, text=f"hello {i}" if i % 2 else f"bye {i}") for i in range(1, 8)])
    comm, ok, _ = await connect("/ws/moderation/", mod)
    await receive(comm)
    await comm.send_json_to({"type": "messages.query", "ref": 1, "text": "hello", "limit": 2})
    page1 = await receive_until(comm, "ack")
    assert [m["text"] for m in page1["messages"]] == ["hello 7", "hello 5"]
    await comm.send_json_to({"type": "messages.query", "ref": 2, "text": "hello", "limit": 2, "before_id": page1["next_before_id"]})
    page2 = await receive_until(comm, "ack")
    assert [m["text"] for m in page2["messages"]] == ["hello 3", "hello 1"]
    await comm.send_json_to({"type": "messages.query", "ref": 3, "status": "bogus"})
    err = await receive_until(comm, "error")
    assert err["code"] == "invalid" and "bogus" in err["message"]
    await comm.disconnect()


async def test_obs_status_changes_reach_dashboards():
    from bots.models import ObsConnection
    from bots.obs import _write_status

    mod = await make_user("mod", groups=["moderator"])
    conn = await sync_to_async(ObsConnection.objects.create)(name="studio")
    comm, ok, _ = await connect("/ws/moderation/", mod)
    await receive(comm)
    await _write_status(conn.pk, "error", "authentication failed: wrong OBS websocket password")
    frame = await receive_until(comm, "obs.status")
    assert frame["connection"] == {"id": conn.pk, "status": "error", "reason": "authentication failed: wrong OBS websocket password"}
    assert (await sync_to_async(ObsConnection.objects.get)(pk=conn.pk)).status == "error"
    await comm.disconnect()
