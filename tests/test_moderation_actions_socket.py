"""platform.moderate and chat.post on the moderation socket: the demo loop end to end
(command -> moderation event stored -> chat.moderation on every dashboard), permissions checked
on every command, validation and platform errors as error frames."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, User

from ingest.models import ChatMessage, MessageAction, ModerationEvent
from ingest.store import store_batch
from tests.factories import author, msg, source
from tests.ws import connect, receive, receive_until

pytestmark = [pytest.mark.django_db(transaction=True)]


@sync_to_async
def make_user(name, *, staff=False, groups=()):
    user = User.objects.create_user(name, password="x" * 20, is_staff=staff)
    for g in groups:
        user.groups.add(Group.objects.get_or_create(name=g)[0])
    return user


@sync_to_async
def demo_chat():
    src = source("demo", "show")
    troll = author("1012", "troll_account", "troll_account")
    store_batch([msg(src, 1, "spam 1", who=troll), msg(src, 2, "spam 2", who=troll),
                 msg(src, 3, "hi", who=author("1003", "zoe_k", "Zoë K."))])
    ids = dict(ChatMessage.objects.values_list("text", "pk"))
    return src, ids


async def collect(comm, *types) -> dict:
    """Receive until one frame of each type arrived (in any order); returns them by type."""
    got = {}
    while set(types) - set(got):
        frame = await receive(comm)
        if frame["type"] in types:
            got.setdefault(frame["type"], frame)
    return got


async def open_socket(user):
    comm, ok, _ = await connect("/ws/moderation/", user)
    assert ok
    hello = await receive(comm)
    return comm, hello


async def test_hello_says_what_each_platform_allows():
    mod = await make_user("mod", groups=["moderator"])
    comm, hello = await open_socket(mod)
    caps = hello["capabilities"]
    assert caps["demo"]["moderate"] == ["delete", "timeout", "ban"] and caps["demo"]["post"]
    assert caps["twitch"]["moderate"] == ["delete", "timeout", "ban"]
    assert caps["tiktok"] == {"moderate": [], "post": False}
    await comm.disconnect()


async def test_timeout_from_one_dashboard_strikes_the_rows_on_every_dashboard():
    mod = await make_user("mod", groups=["moderator"])
    boss = await make_user("boss", staff=True)
    src, ids = await demo_chat()
    a, _ = await open_socket(mod)
    b, _ = await open_socket(boss)
    await a.send_json_to({"type": "platform.moderate", "ref": "t1", "message_id": ids["spam 2"],
                          "action": "timeout", "seconds": 300, "reason": "spam"})
    got = await collect(a, "ack", "chat.moderation")
    ack = got["ack"]
    assert ack["ref"] == "t1" and ack["result"]["action"] == "timeout"
    assert ack["result"]["seconds"] == 300
    got_b = await collect(b, "chat.moderation")
    for frame in (got["chat.moderation"], got_b["chat.moderation"]):
        (ev,) = frame["events"]
        assert ev["kind"] == "timeout" and ev["moderator"] == "mod" and ev["reason"] == "spam"
        assert sorted(x["id"] for x in ev["affected"]) == sorted([ids["spam 1"], ids["spam 2"]])
        assert {x["platform_state"] for x in ev["affected"]} == {"timed_out"}
    stored = await sync_to_async(ModerationEvent.objects.get)()
    assert stored.duration_seconds == 300 and stored.source_id == src.pk
    action = await sync_to_async(MessageAction.objects.select_related("user").get)()
    assert action.user.username == "mod" and action.via == "dashboard"
    assert action.changes["platform_action"]["action"] == "timeout"
    # Delete a single message (default timeout not needed) and ban: each its own event.
    await a.send_json_to({"type": "platform.moderate", "ref": "d1", "message_id": ids["hi"],
                          "action": "delete"})
    assert (await collect(a, "ack", "chat.moderation"))["ack"]["ref"] == "d1"
    frame = await receive_until(b, "chat.moderation")
    assert frame["events"][0]["kind"] == "deletion"
    assert frame["events"][0]["affected"] == [{"id": ids["hi"], "platform_state": "deleted"}]
    for c in (a, b):
        await c.disconnect()


async def test_validation_and_refusals_are_error_frames():
    mod = await make_user("mod", groups=["moderator"])
    _, ids = await demo_chat()
    tiktok = await sync_to_async(source)("tiktok", "@live")
    await sync_to_async(store_batch)([msg(tiktok, 9, "tt")])
    tt_id = await sync_to_async(lambda: ChatMessage.objects.get(text="tt").pk)()
    comm, _ = await open_socket(mod)
    cases = [
        ({"message_id": ids["hi"], "action": "nuke"}, "invalid"),
        ({"message_id": ids["hi"], "action": "timeout", "seconds": 0}, "invalid"),
        ({"message_id": ids["hi"], "action": "timeout", "seconds": 2_000_000}, "invalid"),
        ({"message_id": ids["hi"], "action": "ban", "reason": "x" * 501}, "invalid"),
        ({"message_id": ids["hi"], "action": "ban", "seconds": 60}, "invalid"),
        ({"action": "ban"}, "invalid"),
        ({"message_id": 999999, "action": "delete"}, "not_found"),
        ({"message_id": tt_id, "action": "ban"}, "unsupported"),
    ]
    for i, (fields, code) in enumerate(cases):
        await comm.send_json_to({"type": "platform.moderate", "ref": i, **fields})
        frame = await receive_until(comm, "error")
        assert (frame["ref"], frame["code"]) == (i, code), frame
    assert "TikTok does not let Chorus ban users" in frame["message"]
    for i, (fields, code) in enumerate([
        ({"source_id": tiktok.pk, "text": "hi"}, "unsupported"),
        ({"source_id": tiktok.pk, "text": ""}, "invalid"),
        ({"source_id": tiktok.pk, "text": "x" * 501}, "invalid"),
        ({"source_id": 424242, "text": "hi"}, "not_found"),
    ]):
        await comm.send_json_to({"type": "chat.post", "ref": f"p{i}", **fields})
        frame = await receive_until(comm, "error")
        assert (frame["ref"], frame["code"]) == (f"p{i}", code), frame
    assert await sync_to_async(ModerationEvent.objects.count)() == 0
    assert await sync_to_async(MessageAction.objects.count)() == 0
    await comm.disconnect()


async def test_permission_is_checked_on_every_moderation_command():
    mod = await make_user("mod", groups=["moderator"])
    src, ids = await demo_chat()
    comm, _ = await open_socket(mod)
    await sync_to_async(mod.groups.clear)()  # demoted while the dashboard is open
    await comm.send_json_to({"type": "platform.moderate", "ref": "x", "message_id": ids["hi"],
                             "action": "ban"})
    assert (await receive_until(comm, "error"))["code"] == "forbidden"
    await comm.send_json_to({"type": "chat.post", "ref": "y", "source_id": src.pk, "text": "hi"})
    frame = await receive_until(comm, "error")
    assert frame["code"] == "forbidden" and frame["ref"] == "y"
    assert await sync_to_async(ModerationEvent.objects.count)() == 0
    assert await sync_to_async(ChatMessage.objects.count)() == 3  # nothing posted
    await comm.disconnect()


async def test_post_to_the_demo_chat_comes_back_as_a_message():
    mod = await make_user("mod", groups=["moderator"])
    src = await sync_to_async(source)("demo", "show")
    comm, _ = await open_socket(mod)
    await comm.send_json_to({"type": "chat.post", "ref": "p", "source_id": src.pk,
                             "text": "  <b>welcome</b>  "})
    got = await collect(comm, "ack", "chat.messages")
    ack, new = got["ack"], got["chat.messages"]
    assert ack["ref"] == "p" and ack["posted"] == {"source_id": src.pk, "text": "<b>welcome</b>"}
    assert new["messages"][0]["text"] == "<b>welcome</b>"
    assert new["messages"][0]["author"]["display_name"] == "Chorus bot"
    await comm.disconnect()


async def test_a_slow_platform_call_does_not_hold_back_live_chat(monkeypatch):
    """The platform call runs beside the socket: events keep flowing while it waits."""
    from ingest import platform_actions

    mod = await make_user("mod", groups=["moderator"])
    src, ids = await demo_chat()
    release = asyncio.Event()
    original = platform_actions.MODERATORS["demo"].run

    async def slow(req):
        await release.wait()
        return await original(req)

    monkeypatch.setattr(platform_actions.MODERATORS["demo"], "run", slow)
    comm, _ = await open_socket(mod)
    await comm.send_json_to({"type": "platform.moderate", "ref": "slow", "message_id": ids["hi"],
                             "action": "delete"})
    await asyncio.sleep(0.05)
    await comm.send_json_to({"type": "ping", "ref": "still-here"})
    pong = await receive_until(comm, "ack")
    assert pong["ref"] == "still-here"  # answered while the delete is still waiting
    release.set()
    ack = await receive_until(comm, "ack")
    assert ack["ref"] == "slow"
    await comm.disconnect()


async def test_leaving_while_the_platform_answers_still_records_the_action(monkeypatch):
    from ingest import platform_actions

    mod = await make_user("mod", groups=["moderator"])
    _, ids = await demo_chat()
    release = asyncio.Event()
    original = platform_actions.MODERATORS["demo"].run

    async def slow(req):
        await release.wait()
        return await original(req)

    monkeypatch.setattr(platform_actions.MODERATORS["demo"], "run", slow)
    comm, _ = await open_socket(mod)
    await comm.send_json_to({"type": "platform.moderate", "ref": "b", "message_id": ids["hi"],
                             "action": "ban"})
    await asyncio.sleep(0.05)
    await comm.disconnect()  # the tab is closed while the platform call is under way
    release.set()
    for _ in range(100):
        if await sync_to_async(MessageAction.objects.count)():
            break
        await asyncio.sleep(0.03)
    action = await sync_to_async(MessageAction.objects.get)()
    assert action.changes["platform_action"]["action"] == "ban"
    assert await sync_to_async(ModerationEvent.objects.filter(kind="ban").count)() == 1
